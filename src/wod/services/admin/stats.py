"""Figures for the dashboard (``GET /api/v1/stats``): a handful of grouped queries."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import BadgeAward, Location, Registration, Seat, Workshop
from wod.domain.levels import LEVELS
from wod.domain.states import ENDED_EARLY, SEAT_HOLDING, EndReason, RegistrationState
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
    early = (
        session.scalar(
            select(func.count()).where(
                Registration.state == RegistrationState.ended,
                Registration.ended_reason.in_(EARLY),
            )
        )
        or 0
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
            ended=ended - early,
            ended_early=early,
            failed=outcomes.get(RegistrationState.failed, 0),
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
