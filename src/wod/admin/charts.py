"""The dashboard's charts from the figures of :func:`wod.services.admin.stats.dashboard`, and
the console's tables of a period (:func:`wod.services.admin.stats.console_dashboard`).

Each chart is one value that both the page's data table and ``admin.js`` (through a JSON
``<script>`` element) read, so the table always says what the chart draws.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from wod.admin.tables import Table, per_company, per_workshop
from wod.domain.states import SeatState
from wod.services.admin.retention import RetentionPolicy
from wod.services.admin.stats import ConsoleFigures
from wod.wire import BadgeLevelCount, Completion, LiveSeats, Outcomes, SeatStateCount, Stats

RANGES = (7, 30, 90)
DEFAULT_RANGE = 30
#: The longest period the dashboard counts (ten years), and past which it counts per month.
MAX_SPAN = 3660
MONTHLY_AFTER = 366


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
class Period:
    """The days the dashboard counts registrations over (UTC, both included): the last
    ``days`` (one of :data:`RANGES`), or the dates asked for (``days`` is None)."""

    since: date
    until: date
    days: int | None = None
    note: str = ""  # why the period is not the one asked for

    @property
    def label(self) -> str:
        return f"last {self.days} days" if self.days else f"{self.since} to {self.until}"

    @property
    def span(self) -> int:
        return (self.until - self.since).days + 1


@dataclass(frozen=True)
class Dashboard:
    days: int
    totals: dict[str, int]
    charts: list[Chart] = field(default_factory=list)
    period: Period | None = None
    #: The console's figures of the period (beyond ``totals``) and its tables.
    period_totals: dict[str, Any] = field(default_factory=dict)
    tables: list[Table] = field(default_factory=list)
    retention: RetentionPolicy | None = None


def chosen_range(days: int | None) -> int:
    return days if days in RANGES else DEFAULT_RANGE


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:  # "" too
        return None


def chosen_period(today: date, days: int | None, since: str = "", until: str = "") -> Period:
    """The period asked for: the dates ``since`` and ``until`` (``YYYY-MM-DD``) when either is
    given — one alone runs to today, or over the default range up to it; reversed ones are
    swapped; at most :data:`MAX_SPAN` days — else the last ``days`` (:func:`chosen_range`)."""
    since, until = since.strip(), until.strip()
    if not since and not until:
        span = chosen_range(days)
        return Period(today - timedelta(days=span - 1), today, span)
    first, last = _day(since), _day(until)
    if (since and first is None) or (until and last is None):
        span = chosen_range(days)
        note = f"A date is written YYYY-MM-DD (for example {today}): showing the last {span} days."
        return Period(today - timedelta(days=span - 1), today, span, note)
    last = last or today
    first = first or last - timedelta(days=DEFAULT_RANGE - 1)
    first, last = min(first, last), max(first, last)
    if (last - first).days >= MAX_SPAN:
        first = last - timedelta(days=MAX_SPAN - 1)
        return Period(first, last, None, f"A period is at most {MAX_SPAN} days: from {first}.")
    return Period(first, last)


def _day_span(since: date, until: date) -> list[str]:
    return [str(since + timedelta(days=n)) for n in range((until - since).days + 1)]


def build(figures: Stats, now: datetime, days: int) -> Dashboard:
    """The dashboard of ``figures`` over the last ``days``."""
    per_day = {row.day: row.count for row in figures.registrations_per_day}
    period = Period((now - timedelta(days=days - 1)).date(), now.date(), days)  # today included
    return _board(figures, period, per_day)


def build_console(console: ConsoleFigures, period: Period, min_completion: int) -> Dashboard:
    """The console's dashboard: the charts, the registrations over ``period`` (per month past
    :data:`MONTHLY_AFTER` days), its tables per workshop and per company, and the policy."""
    figures = console.period
    board = _board(console.stats, period, dict(figures.per_day))
    total = figures.total
    return replace(
        board,
        period_totals={
            "participants": total.participants,
            "completed": total.completed,
            "mean": total.mean_completion,
        },
        tables=[
            per_workshop(figures, period.label, min_completion),
            per_company(figures, period.label),
        ],
        retention=console.retention,
    )


def _board(figures: Stats, period: Period, per_day: dict[str, int]) -> Dashboard:
    outcomes = figures.outcomes
    span = _day_span(period.since, period.until)
    totals = {
        "live": outcomes.live,
        "registrations": sum(per_day.get(d, 0) for d in span),
        "failed": outcomes.failed,
    }
    charts = [
        _live(figures.live_seats),
        _registrations(period, span, per_day),
        _outcomes(outcomes),
        _completion(figures.completion),
        _badges(figures.badge_levels),
        _seats(figures.seats),
    ]
    return Dashboard(period.days or DEFAULT_RANGE, totals, charts, period)


def _registrations(period: Period, span: list[str], per_day: dict[str, int]) -> Chart:
    if period.span > MONTHLY_AFTER:
        months: dict[str, int] = {}
        for d in span:
            months[d[:7]] = months.get(d[:7], 0) + per_day.get(d, 0)
        labels, unit, counts = list(months), ("Month", "month"), months
    else:
        labels, unit, counts = span, ("Day", "day"), per_day
    data = [counts.get(label, 0) for label in labels]
    return Chart(
        "registrations",
        f"Registrations per {unit[1]}, {period.label}",
        "bar",
        labels,
        [Series("Registrations", list(data))],
        [unit[0], "Registrations"],
        [[label, n] for label, n in zip(labels, data, strict=True)],
    )


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
        "reclaimed_idle": "Reclaimed as idle",
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
