"""Idle seats given back: an active registration whose seat shows no activity for its
workshop's ``idle_timeout`` gets a warning email with a "Keep my seat" link; without a click or
fresh activity within ``idle.grace`` it ends as ``idle`` through the ordinary end (CLEANUP, then
the final email with completion and badge).

Activity is JupyterHub's own: each backend agent reads its hub's users and servers
``last_activity`` (kernel execution and an open lab update it) and reports it for the seats of
its location (:func:`record_activity`). Nothing is decided without fresh reports: an agent, or
a hub, that stops reporting never makes seats look idle (``idle.stale_after``). A seat whose
agent never reported on it is never warned.

The two timers (:func:`warn_idle`, :func:`reclaim_idle`) read their due rows through an index,
and change each row by a conditional update, like the other timers (:mod:`.timers`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import Location, Registration, Seat, SeatActivity, Workshop
from wod.domain.secrets import hash_token, keep_token, new_nonce
from wod.domain.states import EndReason, RegistrationState
from wod.errors import NotFound, SeatAlreadyFreed
from wod.i18n import _
from wod.services.mail.kinds import IDLE_WARNING
from wod.services.mail.queue import queue_email
from wod.services.registrations.lifecycle import end_registration
from wod.services.registrations.timers import _each_due
from wod.settings import Settings
from wod.wire import ActivityIn

log = logging.getLogger(__name__)
ACTIVE = (RegistrationState.active,)


def idle_timeout_of(settings: Settings, workshop: Workshop) -> timedelta | None:
    """How long a seat of ``workshop`` may stay idle; None: never given back. The wod.yml
    ``idle_timeout`` (0: off), else ``idle.timeout`` for workshops of at least
    ``idle.min_duration``."""
    if workshop.idle_timeout is not None:
        return timedelta(minutes=workshop.idle_timeout) if workshop.idle_timeout > 0 else None
    idle = settings.idle
    duration = timedelta(hours=workshop.duration_hours)
    if idle.timeout <= timedelta(0) or duration < idle.min_duration or idle.timeout >= duration:
        return None
    return idle.timeout


# --------------------------------------------------------------------- the agents' reports


def record_activity(ctx: AppContext, location: Location, report: ActivityIn) -> int:
    """Note the last activity the agent of ``location`` read from its hub for its seats;
    activity after a warning cancels it. Refused whole (:class:`NotFound`) when it names a
    seat that is not one of the location's. How many live registrations it concerned."""
    now = ctx.clock.now()
    numbers = {entry.seat: entry.last_activity for entry in report.seats}
    with ctx.db.write() as session:
        seats = dict(
            session.execute(
                select(Seat.number, Seat.id).where(
                    Seat.location_id == location.id, Seat.number.in_(numbers)
                )
            ).all()
        )
        foreign = sorted(set(numbers) - set(seats))
        if foreign:
            raise NotFound(
                f"seat {foreign[0]} is not a seat of location {location.name}: nothing was recorded"
            )
        by_seat = {seat_id: number for number, seat_id in seats.items()}
        live = session.execute(
            select(Registration, Workshop)
            .join(Workshop, Workshop.id == Registration.workshop_id)
            .where(
                Registration.seat_id.in_(by_seat), Registration.state == RegistrationState.active
            )
        ).all()
        count = 0
        for registration, workshop in live:
            assert registration.seat_id is not None
            seen = numbers[by_seat[registration.seat_id]]
            _note(ctx.settings, session, registration, workshop, seen, now)
            count += 1
        return count


def _note(
    settings: Settings,
    session: Session,
    registration: Registration,
    workshop: Workshop,
    seen: datetime | None,
    now: datetime,
) -> None:
    row = _row(session, registration.id, now)
    seen = min(seen, now) if seen is not None else None  # a hub clock ahead counts as now
    if seen is not None and (row.last_activity_at is None or seen > row.last_activity_at):
        row.last_activity_at = seen
    row.reported_at = now
    timeout = idle_timeout_of(settings, workshop)
    if row.end_due_at is not None:
        moved = row.last_activity_at is not None and (
            row.warned_activity_at is None or row.last_activity_at > row.warned_activity_at
        )
        if not moved and timeout is not None:
            return  # still idle: the warning stands
        row.end_due_at = None
        if moved:
            metrics.idle_seat("active")
            log.info("registration %s: active again after the idle warning", registration.id)
    row.idle_due_at = _since(registration, row) + timeout if timeout is not None else None


def _row(session: Session, registration_id: int, now: datetime) -> SeatActivity:
    row = session.get(SeatActivity, registration_id)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = SeatActivity(registration_id=registration_id, reported_at=now)
            session.add(row)
    except IntegrityError:  # a concurrent report made it first
        row = session.get(SeatActivity, registration_id, populate_existing=True)
        assert row is not None
    return row


def _since(registration: Registration, row: SeatActivity) -> datetime:
    """Since when the seat is idle: its last activity, its last keep click, or the moment it
    became ready, whichever came last."""
    assert registration.ready_at is not None
    moments = [registration.ready_at, row.last_activity_at, row.kept_at]
    return max(m for m in moments if m is not None)


# --------------------------------------------------------------------- the timers


def _fresh(ctx: AppContext, now: datetime) -> ColumnElement[bool]:
    """Reported on recently enough to be judged."""
    return SeatActivity.reported_at >= now - ctx.settings.idle.stale_after


def warn_idle(ctx: AppContext) -> int:
    """Queue the idle warning of each active registration idle for its timeout (once per idle
    period); the end follows ``idle.grace`` later. How many were warned."""
    now = ctx.clock.now()
    grace = ctx.settings.idle.grace
    due = (
        select(Registration.id)
        .join(SeatActivity, SeatActivity.registration_id == Registration.id)
        .where(
            SeatActivity.idle_due_at <= now,
            _fresh(ctx, now),
            Registration.state == RegistrationState.active,
        )
        .order_by(SeatActivity.idle_due_at)
    )

    def warn(session: Session, registration: Registration) -> bool:
        row = session.get(SeatActivity, registration.id)
        assert row is not None
        workshop = session.get(Workshop, registration.workshop_id)
        assert workshop is not None
        timeout = idle_timeout_of(ctx.settings, workshop)
        near_end = registration.ends_at is not None and registration.ends_at <= now + grace
        nonce = new_nonce()
        pending: dict[str, object] = {"idle_due_at": None}
        if timeout is not None and not near_end:  # else: no warning, it ends by itself
            pending |= {
                "end_due_at": now + grace,
                "warned_activity_at": row.last_activity_at,
                "warnings": row.warnings + 1,
                "keep_nonce": nonce,
                "keep_token_hash": hash_token(keep_token(_secret(ctx), nonce)),
            }
        taken = session.execute(
            update(SeatActivity)
            .where(
                SeatActivity.registration_id == registration.id,
                SeatActivity.idle_due_at <= now,
                SeatActivity.warnings == row.warnings,
            )
            .values(**pending)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1 or "end_due_at" not in pending:  # type: ignore[attr-defined]
            return False  # another scheduler took it, or no warning is due
        assert timeout is not None
        payload = {
            "nonce": nonce,
            "freed_at": (now + grace).isoformat(),
            "grace_minutes": round(grace.total_seconds() / 60),
            "idle_minutes": round(timeout.total_seconds() / 60),
        }
        key = f"{registration.id}:{IDLE_WARNING.name}:{row.warnings + 1}"
        queue_email(session, IDLE_WARNING, registration, now, key=key, payload=payload)
        metrics.idle_seat("warned")
        log.info("registration %s: idle, warned; freed at %s", registration.id, now + grace)
        return True

    return _each_due(ctx, Registration, due, ACTIVE, warn)


def reclaim_idle(ctx: AppContext) -> int:
    """End as ``idle`` each warned registration whose grace is over without a keep click or
    fresh activity (CLEANUP, then the final email); how many. First forgets the due times of
    registrations that ended otherwise, so that due rows stay the live ones."""
    forget_ended(ctx)
    now = ctx.clock.now()
    due = (
        select(Registration.id)
        .join(SeatActivity, SeatActivity.registration_id == Registration.id)
        .where(
            SeatActivity.end_due_at <= now,
            _fresh(ctx, now),
            Registration.state == RegistrationState.active,
        )
        .order_by(SeatActivity.end_due_at)
    )

    def reclaim(session: Session, registration: Registration) -> bool:
        taken = session.execute(
            update(SeatActivity)
            .where(SeatActivity.registration_id == registration.id, SeatActivity.end_due_at <= now)
            .values(end_due_at=None)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False  # kept, or active again, meanwhile
        end_registration(ctx, session, registration, EndReason.idle)
        metrics.idle_seat("reclaimed")
        log.info("registration %s: ended as idle", registration.id)
        return True

    return _each_due(ctx, Registration, due, ACTIVE, reclaim)


def forget_ended(ctx: AppContext) -> int:
    """Clear the due times of the idle watch of registrations no longer active (ended at their
    time, by someone, or as idle); how many. Most passes find none, and write nothing."""
    watched = or_(SeatActivity.idle_due_at.is_not(None), SeatActivity.end_due_at.is_not(None))
    with ctx.db.read() as session:
        over = list(
            session.scalars(
                select(SeatActivity.registration_id)
                .join(Registration, Registration.id == SeatActivity.registration_id)
                .where(watched, Registration.state != RegistrationState.active)
                .limit(ctx.settings.scheduler.batch)
            )
        )
    if not over:
        return 0
    with ctx.db.write() as session:
        session.execute(
            update(SeatActivity)
            .where(SeatActivity.registration_id.in_(over))
            .values(idle_due_at=None, end_due_at=None)
            .execution_options(synchronize_session=False)
        )
    return len(over)


def _secret(ctx: AppContext) -> str:
    return ctx.settings.secret_key.get_secret_value()


# --------------------------------------------------------------------- the keep link


@dataclass(frozen=True)
class KeepState:
    """What the page of a keep link shows."""

    workshop_name: str
    #: A warning waits: the seat is freed at this time unless kept.
    freed_at: datetime | None
    #: When the session ends at the latest (its own time).
    ends_at: datetime | None


def _load(session: Session, token: str) -> tuple[SeatActivity, Registration, Workshop]:
    row = session.scalar(
        select(SeatActivity).where(SeatActivity.keep_token_hash == hash_token(token))
    )
    registration = session.get(Registration, row.registration_id) if row is not None else None
    if row is None or registration is None:
        raise NotFound(_("This link is not valid: it keeps no seat. Nothing was changed."))
    workshop = session.get(Workshop, registration.workshop_id)
    assert workshop is not None
    if registration.state is not RegistrationState.active:
        raise SeatAlreadyFreed()
    return row, registration, workshop


def keep_state(ctx: AppContext, token: str) -> KeepState:
    """What the keep link ``token`` would keep; changes nothing. :class:`NotFound` for a link
    of no seat, :class:`SeatAlreadyFreed` once its session is over."""
    with ctx.db.read() as session:
        row, registration, workshop = _load(session, token)
        return KeepState(workshop.name, row.end_due_at, registration.ends_at)


def keep_seat(ctx: AppContext, token: str) -> KeepState:
    """The participant keeps the seat: the pending warning is void and a new idle period
    starts now. Clicking again, or after activity already kept it, changes nothing more;
    refused like :func:`keep_state` once the session is over."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row, registration, workshop = _load(session, token)
        timeout = idle_timeout_of(ctx.settings, workshop)
        taken = session.execute(
            update(SeatActivity)
            .where(
                SeatActivity.registration_id == row.registration_id,
                SeatActivity.end_due_at.is_not(None),
            )
            .values(
                end_due_at=None,
                kept_at=now,
                idle_due_at=now + timeout if timeout is not None else None,
            )
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            metrics.idle_seat("kept")
            log.info("registration %s: seat kept by its link", registration.id)
        session.refresh(registration)  # a reclaim may have ended it meanwhile
        if registration.state is not RegistrationState.active:
            raise SeatAlreadyFreed()
        return KeepState(workshop.name, None, registration.ends_at)
