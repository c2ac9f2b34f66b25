"""Seats for admins: list them with their state, and repair one with a PURGE."""

from __future__ import annotations

from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat
from wod.domain.states import SEAT_HOLDING, SeatState
from wod.errors import InvalidState, NotFound
from wod.services.outcomes import purge_seat


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
