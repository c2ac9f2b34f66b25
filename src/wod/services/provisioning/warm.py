"""Warm seats: a workshop with ``warm: N`` in its wod.yml keeps up to N seats built ahead of
registrations (home rendered for the seat, password set, server started), so that registering
only hands one over: the registration is active at once and its credentials email is queued
in the same transaction (:func:`take_warm_seat`).

A pool is part of the workshop's seats, never extra: it is at most the capacity left
(``capacity − live registrations``), taken from the free seats of its range. A pool seat goes
``free → warming`` (its CREATE queued, no registration) ``→ warm`` (CREATE reported); it is
dropped (``→ cleaning``, PURGE) when the content revision changes, the workshop closes or its
pool shrinks, and refilled on the next pass of :func:`fill_pools`. Its password was made by
its own CREATE after the previous holder's CLEANUP: nobody held the seat with it before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat, WaitlistEntry, Workshop
from wod.db.transitions import move
from wod.domain.states import SEAT_HOLDING, WAITLIST_LIVE, JobState, SeatState, Verb
from wod.errors import InvalidState
from wod.services.catalogue.read import serving_locations
from wod.services.content.revisions import current_revision
from wod.services.provisioning.jobs import enqueue_job
from wod.services.provisioning.seats import purge_seat, reserve_seat

log = logging.getLogger(__name__)
POOLED = (SeatState.warming, SeatState.warm)


def pool_target(session: Session, workshop: Workshop) -> int:
    """How many seats the workshop's pool should hold now: its ``warm``, at most the capacity
    its live registrations and its waiting list leave (none while it is closed)."""
    if not workshop.active or workshop.warm <= 0:
        return 0
    live = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(Registration.workshop_id == workshop.id, Registration.state.in_(SEAT_HOLDING))
    )
    waiting = session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.workshop_id == workshop.id, WaitlistEntry.state.in_(WAITLIST_LIVE))
    )
    return max(0, min(workshop.warm, workshop.capacity - (live or 0) - (waiting or 0)))


def fill_pools(ctx: AppContext) -> int:
    """One pass over the pools: drop the seats that no longer fit, queue the CREATEs of the
    missing ones. How many seats it queued or dropped."""
    now = ctx.clock.now()
    changed = 0
    with ctx.db.read() as session:
        ids = list(
            session.scalars(
                select(Workshop.id).where(
                    (Workshop.warm > 0)
                    | Workshop.id.in_(select(Seat.warm_workshop_id).where(Seat.state.in_(POOLED)))
                )
            )
        )
    for workshop_id in ids:  # a transaction per workshop: its row locked, as a registration
        with ctx.db.write() as session:
            changed += _fill(ctx, session, workshop_id, now)
    return changed


def _fill(ctx: AppContext, session: Session, workshop_id: int, now: datetime) -> int:
    workshop = session.scalar(select(Workshop).where(Workshop.id == workshop_id).with_for_update())
    if workshop is None:
        return 0
    revision = current_revision(session)
    revision_id = revision.id if revision is not None else None
    pooled = list(
        session.scalars(
            select(Seat)
            .where(Seat.warm_workshop_id == workshop.id, Seat.state.in_(POOLED))
            .order_by(Seat.number.desc())
        )
    )
    target = pool_target(session, workshop)
    changed = 0
    current = []
    for seat in pooled:
        if seat.warm_revision_id != revision_id and seat.state is SeatState.warm:
            drop(ctx, session, seat, now, "the content changed")
            changed += 1
        elif seat.warm_revision_id == revision_id:
            current.append(seat)
    # too many (the pool shrank, registrations took capacity): drop warm ones, highest first
    excess = max(0, len(current) - target)
    for seat in [s for s in current if s.state is SeatState.warm][:excess]:
        drop(ctx, session, seat, now, "the pool is smaller")
        changed += 1
    for _ in range(target - len(current)):
        new = reserve_seat(session, workshop, now, SeatState.warming)
        if new is None:
            break
        new.warm_workshop_id, new.warm_revision_id = workshop.id, revision_id
        enqueue_job(
            session,
            Verb.CREATE,
            new,
            now,
            workshop=workshop,
            attempts=ctx.settings.scheduler.job_attempts,
        )
        changed += 1
    return changed


def warmed(
    ctx: AppContext,
    session: Session,
    seat: Seat,
    workshop: Workshop | None,
    sealed_password: str | None,
    now: datetime,
) -> None:
    """A pool seat's CREATE is done: the seat is warm, unless what it was built for no longer
    holds (the content changed meanwhile, the workshop closed, its pool is full): then it is
    dropped."""
    revision = current_revision(session)
    current = seat.warm_revision_id == (revision.id if revision is not None else None)
    if workshop is None or not current or sealed_password is None:
        drop(ctx, session, seat, now, "built for content or a workshop no longer served")
        return
    warm = session.scalar(
        select(func.count())
        .select_from(Seat)
        .where(Seat.warm_workshop_id == workshop.id, Seat.state == SeatState.warm)
    )
    if (warm or 0) >= pool_target(session, workshop):
        drop(ctx, session, seat, now, "the pool needs no more seats")
        return
    move(session, seat, SeatState.warm, updated_at=now, warm_password_enc=sealed_password)


def drop(ctx: AppContext, session: Session, seat: Seat, now: datetime, why: str) -> None:
    """Take a pool seat out of service: PURGE it (which forgets what it was built for)."""
    log.info("warm seat %s of workshop %s dropped: %s", seat.number, seat.warm_workshop_id, why)
    purge_seat(session, seat, now, ctx.settings.scheduler.job_attempts)


def take_warm_seat(
    session: Session, workshop: Workshop, revision_id: int | None, now: datetime
) -> tuple[Seat, str] | None:
    """A warm seat of the workshop, built from ``revision_id``, at a location that takes new
    seats, moved to ``ready`` for its new holder, with its sealed password (which the row no
    longer keeps); None when the pool holds none."""
    built_from = (
        Seat.warm_revision_id.is_(None)
        if revision_id is None
        else Seat.warm_revision_id == revision_id
    )
    for seat in _pool_seats(session, workshop, SeatState.warm, built_from):
        password = seat.warm_password_enc
        try:
            move(
                session,
                seat,
                SeatState.ready,
                updated_at=now,
                warm_workshop_id=None,
                warm_revision_id=None,
                warm_password_enc=None,
            )
        except InvalidState:  # a concurrent registration took it
            continue
        assert password is not None  # a seat becomes warm with its password
        return seat, password
    return None


def adopt_warming_seat(
    session: Session, workshop: Workshop, now: datetime
) -> tuple[Seat, Job, int | None] | None:
    """A seat of the pool still being built, moved to ``reserved`` for a registration, with
    its CREATE (which the caller makes the registration's) and the content revision it is
    built from: a participant who comes while the pool fills waits for the build already
    under way, not for a new one. None when there is no such seat."""
    for seat in _pool_seats(session, workshop, SeatState.warming):
        revision_id = seat.warm_revision_id
        try:
            move(
                session,
                seat,
                SeatState.reserved,
                updated_at=now,
                warm_workshop_id=None,
                warm_revision_id=None,
            )
        except InvalidState:
            continue
        job = session.scalar(
            select(Job).where(
                Job.seat_id == seat.id,
                Job.verb == Verb.CREATE,
                Job.registration_id.is_(None),
                Job.state.in_((JobState.queued, JobState.running)),
            )
        )
        if job is None:  # cannot be: a warming seat's CREATE is the job that ends warming
            raise InvalidState(f"warming seat {seat.number} has no CREATE")
        return seat, job, revision_id
    return None


def _pool_seats(
    session: Session, workshop: Workshop, state: SeatState, *where: ColumnElement[bool]
) -> Sequence[Seat]:
    """A few seats of the workshop's pool in ``state`` at locations that take new seats, in
    order, locked for the caller (those another transaction holds are skipped)."""
    locations = list(session.scalars(select(Location).order_by(Location.id)))
    serving = [loc.id for loc in serving_locations(workshop, locations, new_seats=True)]
    return session.scalars(
        select(Seat)
        .where(
            Seat.warm_workshop_id == workshop.id,
            Seat.state == state,
            Seat.location_id.in_(serving),
            *where,
        )
        .order_by(Seat.location_id, Seat.number)
        .limit(5)
        .with_for_update(skip_locked=True)
    ).all()
