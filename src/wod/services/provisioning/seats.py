"""Seats: reserving a free one, queuing the PURGE that cleans one whatever state it is in, and
the admins' view and repair of them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.states import SEAT_HOLDING, JobState, SeatState, Verb, check_transition
from wod.errors import InvalidState, NotFound
from wod.notify import Topic, note
from wod.services.catalogue.read import seat_bounds_sql, serving_order
from wod.services.provisioning.jobs import enqueue_job

#: Seats :func:`reserve_seat` tries at one location when concurrent callers take the ones it
#: picks.
RESERVE_TRIES = 5


def purge_seat(session: Session, seat: Seat, now: datetime, attempts: int) -> Job:
    """Queue a PURGE: the seat is cleaned whatever state it is in, then freed. A PURGE already
    waiting for the seat is reused."""
    waiting = session.scalar(
        select(Job).where(
            Job.seat_id == seat.id,
            Job.verb == Verb.PURGE,
            Job.state.in_((JobState.queued, JobState.running)),
        )
    )
    # a pool seat forgets what it was built for (and its password) once it leaves the pool
    seat.warm_workshop_id = seat.warm_revision_id = seat.warm_password_enc = None
    if waiting is not None:
        return waiting
    if seat.state is not SeatState.cleaning:
        move(session, seat, SeatState.cleaning, updated_at=now)
    return enqueue_job(session, Verb.PURGE, seat, now, attempts=attempts)


def cleaning_job(session: Session, seat: Seat) -> int | None:
    """The running CLEANUP or RESET of ``seat`` (it cleans the seat itself), if any."""
    return session.scalar(
        select(Job.id).where(
            Job.seat_id == seat.id,
            Job.state == JobState.running,
            Job.verb.in_((Verb.CLEANUP, Verb.RESET)),
        )
    )


def list_seats(
    ctx: AppContext, location: str | None = None, state: SeatState | None = None
) -> list[tuple[str, Seat]]:
    """``(location name, seat)`` pairs, filtered, in location then number order."""
    query = select(Location.name, Seat).join(Location, Location.id == Seat.location_id)
    if location is not None:
        query = query.where(Location.name == location)
    if state is not None:
        query = query.where(Seat.state == state)
    with ctx.db.read() as session:
        rows = session.execute(query.order_by(Location.name, Seat.number))
        return [(name, seat) for name, seat in rows]


def purge(ctx: AppContext, location: str, number: int) -> Job:
    """Queue a PURGE of a seat no live registration holds (a broken one, typically)."""
    with ctx.db.write() as session:
        seat = session.scalar(
            select(Seat)
            .join(Location, Location.id == Seat.location_id)
            .where(Location.name == location, Seat.number == number)
        )
        if seat is None:
            raise NotFound(f"no seat {number} at location {location!r}")
        holder = session.scalar(
            select(Registration.id).where(
                Registration.seat_id == seat.id, Registration.state.in_(SEAT_HOLDING)
            )
        )
        if holder is not None:
            raise InvalidState(f"seat {seat.username} holds registration {holder}: end it first")
        return purge_seat(session, seat, ctx.clock.now(), ctx.settings.scheduler.job_attempts)


def reserve_seat(
    session: Session, workshop: Workshop, now: datetime, state: SeatState
) -> Seat | None:
    """Move the lowest free seat of the workshop's range, at its first location that has one
    and takes new seats (not disabled, draining or silent), to ``state``; None when none is
    free. Concurrent callers never get the same seat (a conditional update decides)."""
    check_transition(SeatState.free, state)
    serving, order = serving_order(workshop)
    low, high = seat_bounds_sql(workshop)
    free = (
        *serving,
        Seat.state == SeatState.free,
        Seat.number >= low,
        Seat.number <= high,
    )
    lowest = (
        select(Seat.id)
        .join(Location, Location.id == Seat.location_id)
        .where(*free)
        .order_by(order, Seat.number)
        .limit(1)
        .with_for_update(of=Seat, skip_locked=True)
        .scalar_subquery()
    )
    for _ in range(RESERVE_TRIES):
        # one statement: the first free seat nobody else is taking, taken
        seat = session.scalars(
            update(Seat)
            .where(Seat.id == lowest, Seat.state == SeatState.free)
            .values(state=state, updated_at=now)
            .returning(Seat),
            execution_options={"populate_existing": True, "synchronize_session": False},
        ).first()
        if seat is not None:
            note(session, Topic.seats)
            return seat
        # none: all taken, or the one picked was taken meanwhile (then try the next)
        any_free = select(Seat.id).join(Location, Location.id == Seat.location_id).where(*free)
        if session.scalar(any_free.limit(1)) is None:
            break
    return None
