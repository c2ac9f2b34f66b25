"""The dashboard's tables of figures without a chart: per workshop and per company over the
chosen period (:func:`wod.services.admin.stats.console_dashboard`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wod.services.admin.stats import PeriodFigures, Tally

ANONYMISED_COMPANY = "(anonymised or erased)"


@dataclass(frozen=True)
class Table:
    """A table of figures without a chart."""

    id: str
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""
    empty: str = "No registration in this period."


def _mean(tally: Tally) -> str:
    mean = tally.mean_completion
    return "—" if mean is None else f"{mean}"


def per_workshop(figures: PeriodFigures, label: str, min_completion: int) -> Table:
    """Registrations, participants, outcomes and completion of each workshop over the period
    called ``label``, and of all of them."""

    def line(name: str, t: Tally) -> list[Any]:
        return [
            name,
            t.registrations,
            t.participants,
            t.live,
            t.ended,
            t.ended_early,
            t.reclaimed_idle,
            t.failed,
            t.measured,
            _mean(t),
            t.completed,
        ]

    rows = [line(t.name, t) for t in figures.workshops]
    return Table(
        "period-workshops",
        f"Per workshop, {label}",
        [
            "Workshop",
            "Registrations",
            "Participants",
            "Live",
            "Ended at their time",
            "Ended early",
            "Reclaimed as idle",
            "Failed",
            "Completion measured",
            "Mean completion (%)",
            f"Completed (at least {min_completion} %)",
        ],
        [*rows, line("All workshops", figures.total)] if rows else [],
    )


def per_company(figures: PeriodFigures, label: str) -> Table:
    """The companies with the most registrations over the period called ``label``."""

    rows = [
        [t.name or ANONYMISED_COMPANY, t.registrations, t.participants, t.completed]
        for t in figures.companies
    ]
    more = f"And {figures.more_companies} more companies." if figures.more_companies else ""
    return Table(
        "period-companies",
        f"Per company, {label}",
        ["Company", "Registrations", "Participants", "Completed"],
        rows,
        note=more,
    )
