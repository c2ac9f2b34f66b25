"""Registrations waiting at a location that stopped taking new seats move to one that does.

A location whose agent is silent, that is draining or that an admin disabled gives no new seat
(:func:`wod.services.catalogue.read.takes_new_seats`). The registrations still waiting there
for their seat (their CREATE has not started, or waits for its retry) move to the first other
location of their workshop with a free seat: same registration, same deadlines, a new seat and
the same CREATE job pointed at it. The seat left behind is freed when no CREATE ever touched
it, else purged (by that location's agent, when it comes back). A registration with nowhere to
go keeps waiting; its provision timeout still applies.
"""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.notify import Topic, note
from wod.services.catalogue.read import takes_new_seats
from wod.services.provisioning.jobs import truncate_log
from wod.services.provisioning.seats import purge_seat, reserve_seat

log = logging.getLogger(__name__)
WAITING = (RegistrationState.queued, RegistrationState.provisioning)


def _why(location: Location) -> str:
    if not location.enabled:
        return "it is disabled"
    if location.draining:
        return "it is draining"
    return "its agent is silent"


def relocate_waiting(ctx: AppContext) -> int:
    """Move the registrations waiting at locations that take no new seats (see the module);
    how many moved."""
    with ctx.db.read() as session:
        stopped = [loc.id for loc in session.scalars(select(Location)) if not takes_new_seats(loc)]
        if not stopped:
            return 0
        waiting = list(
            session.scalars(
                select(Registration.id)
                .where(
                    Registration.state.in_(WAITING),
                    Registration.location_id.in_(stopped),
                )
                .order_by(Registration.id)
                .limit(ctx.settings.scheduler.batch)
            )
        )
    moved = 0
    for registration_id in waiting:
        with ctx.db.write() as session:
            moved += _relocate(ctx, session, registration_id)
    return moved


def _relocate(ctx: AppContext, session: Session, registration_id: int) -> int:
    now = ctx.clock.now()
    registration = session.get(Registration, registration_id, with_for_update=True)
    if registration is None or registration.state not in WAITING:
        return 0
    old_location = session.get(Location, registration.location_id)
    old_seat = session.get(Seat, registration.seat_id)
    workshop = session.get(Workshop, registration.workshop_id)
    assert old_location is not None and old_seat is not None and workshop is not None
    if takes_new_seats(old_location):
        return 0
    job = session.scalar(
        select(Job)
        .where(
            Job.registration_id == registration.id,
            Job.verb == Verb.CREATE,
            Job.state == JobState.queued,
        )
        .with_for_update()
    )
    if job is None:  # its CREATE runs, or is over: it stays
        return 0
    seat = reserve_seat(session, workshop, now, SeatState.reserved)
    if seat is None:
        return 0
    location = session.get(Location, seat.location_id)
    assert location is not None
    why = _why(old_location)
    if job.attempts == 0:  # no agent ever touched the seat left behind
        move(session, old_seat, SeatState.free, updated_at=now)
    else:
        purge_seat(session, old_seat, now, ctx.settings.scheduler.job_attempts)
    registration.location_id, registration.seat_id = location.id, seat.id
    job.location_id, job.seat_id = location.id, seat.id
    job.log = truncate_log(
        f"{job.log}--- moved from {old_location.name} ({why}) to {location.name}, "
        f"seat {seat.username}\n"
    )
    note(session, Topic.work, Topic.seats)
    log.warning(
        "registration %s: moved from %s (%s) to %s",
        registration.id,
        old_location.name,
        why,
        location.name,
    )
    return 1
