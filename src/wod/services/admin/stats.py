"""Figures for the dashboard (``GET /api/v1/stats``, and the console's own over any period):
a handful of grouped queries."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import BadgeAward, Location, Registration, Seat, Workshop
from wod.domain.levels import LEVELS
from wod.domain.states import ENDED_EARLY, SEAT_HOLDING, EndReason, RegistrationState
from wod.services.admin.retention import RetentionPolicy, policy
from wod.services.registrations.badges import email_pseudonym
from wod.wire import (
    BadgeLevelCount,
    Completion,
    DayCount,
    LiveSeats,
    Outcomes,
    SeatStateCount,
    Stats,
)

#: Reasons of the registrations that ended before their time.
EARLY = (*ENDED_EARLY, EndReason.purged_by_admin)


def dashboard(ctx: AppContext, days: int) -> Stats:
    """The dashboard's figures now, over the last ``days`` whole days."""
    with ctx.db.read() as session:
        return figures(session, ctx.clock.now(), days)


def figures(session: Session, now: datetime, days: int) -> Stats:
    """Live seats by workshop and location, registrations per day over the last ``days``
    whole days, today included (days without any are left out), outcomes, mean completion
    per workshop, badge levels reached, and the seats of each location by state."""
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = midnight - timedelta(days=days - 1)  # the first day counted whole
    live = session.execute(
        select(Workshop.slug, Location.name, func.count())
        .select_from(Registration)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .join(Location, Location.id == Registration.location_id)
        .where(Registration.state.in_(SEAT_HOLDING))
        .group_by(Workshop.slug, Location.name)
        .order_by(Workshop.slug, Location.name)
    ).all()
    day = func.date(Registration.created_at)
    per_day = session.execute(
        select(day, func.count())
        .where(Registration.created_at >= since)
        .group_by(day)
        .order_by(day)
    ).all()
    outcomes = dict(
        session.execute(select(Registration.state, func.count()).group_by(Registration.state)).all()
    )
    early, idle = (
        session.scalar(
            select(func.count()).where(
                Registration.state == RegistrationState.ended,
                Registration.ended_reason.in_(reasons),
            )
        )
        or 0
        for reasons in (EARLY, (EndReason.idle,))
    )
    ended = outcomes.get(RegistrationState.ended, 0)
    completion = session.execute(
        select(Workshop.slug, func.avg(Registration.completion), func.count())
        .select_from(Registration)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(Registration.completion.is_not(None))
        .group_by(Workshop.slug)
        .order_by(Workshop.slug)
    ).all()
    levels = dict(
        session.execute(select(BadgeAward.level, func.count()).group_by(BadgeAward.level)).all()
    )
    seats = session.execute(
        select(Location.name, Seat.state, func.count())
        .select_from(Seat)
        .join(Location, Location.id == Seat.location_id)
        .group_by(Location.name, Seat.state)
        .order_by(Location.name, Seat.state)
    ).all()
    return Stats(
        live_seats=[LiveSeats(workshop=w, location=loc, count=n) for w, loc, n in live],
        registrations_per_day=[DayCount(day=str(d), count=n) for d, n in per_day],
        outcomes=Outcomes(
            live=sum(outcomes.get(s, 0) for s in SEAT_HOLDING),
            ended=ended - early - idle,
            ended_early=early,
            failed=outcomes.get(RegistrationState.failed, 0),
            reclaimed_idle=idle,
        ),
        completion=[
            Completion(workshop=w, mean=round(float(m), 1), count=n) for w, m, n in completion
        ],
        badge_levels=[
            BadgeLevelCount(level=lv.number, name=lv.name, count=levels.get(lv.number, 0))
            for lv in LEVELS
        ],
        seats=[SeatStateCount(location=loc, state=str(st), count=n) for loc, st, n in seats],
    )


# --------------------------------------------------------------------- the console's period

#: The companies the console lists, most registrations first.
COMPANY_ROWS = 100


@dataclass(frozen=True)
class Tally:
    """The registrations of one workshop, one company or all of them over a period."""

    name: str
    registrations: int = 0
    participants: int = 0  # distinct people (the same address, or its keyed hash)
    live: int = 0
    ended: int = 0  # at their time
    ended_early: int = 0  # by the participant or an admin, or purged
    reclaimed_idle: int = 0  # ended as idle: the seat was given back
    failed: int = 0
    measured: int = 0  # with a completion
    completion_sum: int = 0
    completed: int = 0  # ended with at least registration.badge_min_completion

    @property
    def mean_completion(self) -> float | None:
        return round(self.completion_sum / self.measured, 1) if self.measured else None


@dataclass(frozen=True)
class PeriodFigures:
    """The registrations made from ``since`` to ``until`` (UTC days, both included)."""

    since: date
    until: date
    per_day: list[tuple[str, int]]  # days without any are left out
    total: Tally
    workshops: list[Tally]
    companies: list[Tally]  # the COMPANY_ROWS with most registrations ("": anonymised)
    more_companies: int  # how many more there are


@dataclass(frozen=True)
class ConsoleFigures:
    """Everything the console's dashboard shows."""

    stats: Stats
    period: PeriodFigures
    retention: RetentionPolicy


def console_dashboard(ctx: AppContext, days: int, since: date, until: date) -> ConsoleFigures:
    """The figures of :func:`dashboard` (over the last ``days``), those of the period from
    ``since`` to ``until``, and where the retention policy stands."""
    settings = ctx.settings
    secret = settings.secret_key.get_secret_value()
    with ctx.db.read() as session:
        return ConsoleFigures(
            figures(session, ctx.clock.now(), days),
            period_figures(
                session,
                since,
                until,
                settings.registration.badge_min_completion,
                lambda email: participant(secret, email),
            ),
            policy(session, settings.retention.days),
        )


def participant(secret_key: str, email: str) -> str:
    """Who a registration's address stands for: its keyed hash, which its anonymised
    registrations keep (so that anonymising changes no count), or itself once erased or
    anonymised (an erased registration counts as a person of its own)."""
    return email if email.endswith(".invalid") else email_pseudonym(secret_key, email)


def period_figures(
    session: Session,
    since: date,
    until: date,
    min_completion: int,
    person: Callable[[str], str],
) -> PeriodFigures:
    """Registrations per day, per workshop and per company, with their distinct
    participants, outcomes and completions, over the days from ``since`` to ``until``."""
    start = datetime.combine(since, time(), tzinfo=UTC)
    end = datetime.combine(until + timedelta(days=1), time(), tzinfo=UTC)
    made = and_(Registration.created_at >= start, Registration.created_at < end)
    day = func.date(Registration.created_at)
    per_day = session.execute(
        select(day, func.count()).where(made).group_by(day).order_by(day)
    ).all()
    done = and_(
        Registration.state == RegistrationState.ended, Registration.completion >= min_completion
    )
    grouped = session.execute(
        select(
            Workshop.slug,
            Registration.company,
            Registration.state,
            Registration.ended_reason,
            func.count(),
            func.count(Registration.completion),
            func.coalesce(func.sum(Registration.completion), 0),
            func.coalesce(func.sum(case((done, 1), else_=0)), 0),
        )
        .select_from(Registration)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(made)
        .group_by(
            Workshop.slug, Registration.company, Registration.state, Registration.ended_reason
        )
    ).all()
    people = session.execute(
        select(Workshop.slug, Registration.company, Registration.email)
        .select_from(Registration)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .where(made)
        .distinct()
    ).all()
    return _tallied(since, until, per_day, grouped, people, person)


def _tallied(
    since: date,
    until: date,
    per_day: Iterable[tuple[object, int]],
    grouped: Iterable[tuple[str, str, RegistrationState, str | None, int, int, int, int]],
    people: Iterable[tuple[str, str, str]],
    person: Callable[[str], str],
) -> PeriodFigures:
    counts: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
    for slug, company, state, reason, n, measured, points, completed in grouped:
        outcome = _outcome(state, reason)
        for group in (("w", slug), ("c", company), ("t", "")):
            counts[group].update(
                {
                    "registrations": n,
                    outcome: n,
                    "measured": measured,
                    "completion_sum": points,
                    "completed": completed,
                }
            )
    who: dict[tuple[str, str], set[str]] = defaultdict(set)
    for slug, company, email in people:
        someone = person(email)
        for group in (("w", slug), ("c", company), ("t", "")):
            who[group].add(someone)

    def tally(group: tuple[str, str]) -> Tally:
        found = counts[group]
        return Tally(group[1], participants=len(who[group]), **{k: found[k] for k in _COUNTED})

    workshops = sorted(k for k in counts if k[0] == "w")
    companies = sorted(
        (k for k in counts if k[0] == "c"), key=lambda k: (-counts[k]["registrations"], k[1])
    )
    return PeriodFigures(
        since,
        until,
        [(str(d), n) for d, n in per_day],
        tally(("t", "")),
        [tally(k) for k in workshops],
        [tally(k) for k in companies[:COMPANY_ROWS]],
        max(0, len(companies) - COMPANY_ROWS),
    )


_COUNTED = (
    "registrations",
    "live",
    "ended",
    "ended_early",
    "reclaimed_idle",
    "failed",
    "measured",
    "completion_sum",
    "completed",
)


def _outcome(state: RegistrationState, reason: str | None) -> str:
    if state in SEAT_HOLDING:
        return "live"
    if state is RegistrationState.failed:
        return "failed"
    if reason == EndReason.idle:
        return "reclaimed_idle"
    return "ended_early" if reason in EARLY else "ended"
