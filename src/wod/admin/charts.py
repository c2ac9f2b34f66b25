"""The dashboard's charts from the figures of :func:`wod.services.admin.stats.dashboard`.

Each chart is one value that both the page's data table and ``admin.js`` (through a JSON
``<script>`` element) read, so the table always says what the chart draws.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from wod.domain.states import SeatState
from wod.wire import BadgeLevelCount, Completion, LiveSeats, Outcomes, SeatStateCount, Stats

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30


@dataclass(frozen=True)
class Series:
    label: str
    data: list[float]


@dataclass(frozen=True)
class Chart:
    """A chart and its data table (``columns`` heads, then one row per label)."""

    id: str
    title: str
    kind: str  # a Chart.js type: bar, line
    labels: list[str]
    series: list[Series]
    columns: list[str]
    rows: list[list[Any]]
    stacked: bool = False
    percent: bool = False
    empty: str = "Nothing yet."

    def to_json(self) -> dict[str, Any]:
        keep = ("id", "title", "kind", "labels", "series", "stacked", "percent")
        return {k: v for k, v in asdict(self).items() if k in keep}


@dataclass(frozen=True)
class Dashboard:
    days: int
    totals: dict[str, int]
    charts: list[Chart] = field(default_factory=list)


def chosen_range(days: int | None) -> int:
    return days if days in RANGES else DEFAULT_RANGE


def _day_span(since: date, until: date) -> list[str]:
    return [str(since + timedelta(days=n)) for n in range((until - since).days + 1)]


def build(figures: Stats, now: datetime, days: int) -> Dashboard:
    """The dashboard of ``figures`` over the last ``days``."""
    outcomes = figures.outcomes
    per_day = {row.day: row.count for row in figures.registrations_per_day}
    span = _day_span((now - timedelta(days=days - 1)).date(), now.date())  # today included
    totals = {
        "live": outcomes.live,
        "registrations": sum(per_day.values()),
        "failed": outcomes.failed,
    }
    charts = [
        _live(figures.live_seats),
        Chart(
            "registrations",
            f"Registrations per day, last {days} days",
            "bar",
            span,
            [Series("Registrations", [per_day.get(d, 0) for d in span])],
            ["Day", "Registrations"],
            [[d, per_day.get(d, 0)] for d in span],
        ),
        _outcomes(outcomes),
        _completion(figures.completion),
        _badges(figures.badge_levels),
        _seats(figures.seats),
    ]
    return Dashboard(days, totals, charts)


def _live(rows: list[LiveSeats]) -> Chart:
    return Chart(
        "live",
        "Live seats by workshop and location",
        "bar",
        [f"{r.workshop} at {r.location}" for r in rows],
        [Series("Live seats", [r.count for r in rows])],
        ["Workshop", "Location", "Live seats"],
        [[r.workshop, r.location, r.count] for r in rows],
        empty="No live registration.",
    )


def _outcomes(outcomes: Outcomes) -> Chart:
    names = {
        "live": "Live",
        "ended": "Ended at their time",
        "ended_early": "Ended early",
        "failed": "Failed",
    }
    return Chart(
        "outcomes",
        "Outcomes of every registration",
        "bar",
        list(names.values()),
        [Series("Registrations", [getattr(outcomes, k) for k in names])],
        ["Outcome", "Registrations"],
        [[label, getattr(outcomes, k)] for k, label in names.items()],
    )


def _completion(rows: list[Completion]) -> Chart:
    return Chart(
        "completion",
        "Mean completion per workshop",
        "bar",
        [r.workshop for r in rows],
        [Series("Mean completion (%)", [r.mean for r in rows])],
        ["Workshop", "Mean completion (%)", "Registrations measured"],
        [[r.workshop, r.mean, r.count] for r in rows],
        percent=True,
        empty="No completion measured yet.",
    )


def _badges(rows: list[BadgeLevelCount]) -> Chart:
    return Chart(
        "badges",
        "Badge levels reached",
        "bar",
        [r.name for r in rows],
        [Series("Awarded", [r.count for r in rows])],
        ["Level", "Badge", "Awarded"],
        [[r.level, r.name, r.count] for r in rows],
    )


def _seats(rows: list[SeatStateCount]) -> Chart:
    locations = sorted({r.location for r in rows})
    states = [s.value for s in SeatState]
    count = {(r.location, r.state): r.count for r in rows}
    return Chart(
        "seats",
        "Seats of each location by state",
        "bar",
        locations,
        [Series(s, [count.get((loc, s), 0) for loc in locations]) for s in states],
        ["Location", *states],
        [[loc, *(count.get((loc, s), 0) for s in states)] for loc in locations],
        stacked=True,
        empty="No location yet.",
    )
