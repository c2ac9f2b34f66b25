"""The timers of the scheduler (ARCHITECTURE §4): the end of a registration's time, its
reminder, the provision watchdog, the expiry of unconfirmed registrations, job leases, and the
rate counters' clean-up.

Each timer reads due rows through an index on their due time — never a scan of history — and
changes each row in its own short transaction with a conditional update, so two schedulers
running at once never both act on one row (and so never queue an email or a job twice).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, delete, select, update
from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import Job, RateCounter, Registration, Workshop
from wod.domain.secrets import hash_token, manage_token, new_nonce
from wod.domain.states import SEAT_HOLDING, EndReason, JobState, RegistrationState
from wod.errors import InvalidState
from wod.services.mail.kinds import REMINDER
from wod.services.mail.queue import queue_email
from wod.services.registrations.lifecycle import (
    drop_unconfirmed,
    end_registration,
    reminder_lead,
    stop_registration,
)
from wod.services.registrations.outcomes import fail_attempt

log = logging.getLogger(__name__)
Row = TypeVar("Row", Registration, Job)


def _each_due(
    ctx: AppContext,
    model: type[Row],
    due: Select[int],
    states: tuple[StrEnum, ...],
    act: Callable[[Session, Row], bool | None],
) -> int:
    """Apply ``act`` to each due row, each in its own transaction, skipping the rows that left
    ``states`` meanwhile (another scheduler got there first); how many were acted on."""
    with ctx.db.read() as session:
        ids = list(session.scalars(due.limit(ctx.settings.scheduler.batch)))
    done = 0
    for row_id in ids:
        try:
            with ctx.db.write() as session:
                row = session.get(model, row_id)
                if row is None or row.state not in states:
                    continue
                if act(session, row) is not False:
                    done += 1
        except InvalidState:
            continue
    return done


def expire_due(ctx: AppContext) -> int:
    """End the active registrations whose time is up; how many were ended."""
    now = ctx.clock.now()
    due = (
        select(Registration.id)
        .where(Registration.state == RegistrationState.active, Registration.ends_at <= now)
        .order_by(Registration.ends_at)
    )
    return _each_due(
        ctx,
        Registration,
        due,
        (RegistrationState.active,),
        lambda session, row: end_registration(ctx, session, row, EndReason.expired),
    )


def remind_due(ctx: AppContext) -> int:
    """Queue the reminder of each registration whose reminder is due; how many."""
    now = ctx.clock.now()
    due = select(Registration.id).where(Registration.reminder_due_at <= now)

    def remind(session: Session, registration: Registration) -> bool:
        taken = session.execute(
            update(Registration)
            .where(Registration.id == registration.id, Registration.reminder_due_at.is_not(None))
            .values(reminder_due_at=None)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False  # another scheduler sent it
        return queue_email(session, REMINDER, registration, now)

    return _each_due(ctx, Registration, due, (RegistrationState.active,), remind)


def watch_provisioning(ctx: AppContext) -> int:
    """Registrations whose seat is not ready within ``provision_timeout``: failed, purged,
    apologised to; how many."""
    now = ctx.clock.now()
    waiting = (RegistrationState.queued, RegistrationState.provisioning)
    due = select(Registration.id).where(Registration.provision_due_at <= now)

    def give_up(session: Session, registration: Registration) -> None:
        log.warning("registration %s: seat not ready in time, giving up", registration.id)
        stop_registration(
            ctx, session, registration, EndReason.provision_timeout, now, apology=True
        )

    return _each_due(ctx, Registration, due, waiting, give_up)


def expire_unconfirmed(ctx: AppContext) -> int:
    """Unconfirmed registrations whose ``confirm_due_at`` has passed (not confirmed within
    ``registration.confirm_within``): ``failed``, ``confirm_timeout``, with no email; how many."""
    now = ctx.clock.now()
    due = (
        select(Registration.id)
        .where(
            Registration.confirm_due_at <= now,
            Registration.state == RegistrationState.unconfirmed,
        )
        .order_by(Registration.confirm_due_at)
    )

    def drop(session: Session, registration: Registration) -> bool:
        deadline = registration.confirm_due_at
        if deadline is None or deadline > now:  # its link was sent again meanwhile
            return False
        drop_unconfirmed(session, registration, EndReason.confirm_timeout, now)
        return True

    return _each_due(ctx, Registration, due, (RegistrationState.unconfirmed,), drop)


def expire_leases(ctx: AppContext) -> int:
    """Jobs whose agent went silent past the lease: retried, or failed after the last attempt."""
    now = ctx.clock.now()
    due = select(Job.id).where(Job.state == JobState.running, Job.lease_until < now)

    def retry(session: Session, job: Job) -> None:
        log.warning("job %s: lease expired (attempt %s)", job.id, job.attempts)
        fail_attempt(ctx, session, job, "lease expired: the agent did not report", now)
        metrics.job_ended(job.verb.value, job.state.value, None)

    return _each_due(ctx, Job, due, (JobState.running,), retry)


def backfill_live(ctx: AppContext) -> int:
    """Live registrations made before manage links existed (database revision 0001) get their
    manage token, and their reminder and provision deadlines; how many."""
    now = ctx.clock.now()
    secret = ctx.settings.secret_key.get_secret_value()
    due = select(Registration.id).where(
        Registration.manage_token_hash.is_(None), Registration.state.in_(SEAT_HOLDING)
    )

    def backfill(session: Session, registration: Registration) -> bool:
        nonce = new_nonce()
        taken = session.execute(  # only if still missing: a concurrent backfill may have won
            update(Registration)
            .where(Registration.id == registration.id, Registration.manage_token_hash.is_(None))
            .values(manage_nonce=nonce, manage_token_hash=hash_token(manage_token(secret, nonce)))
            .execution_options(synchronize_session="evaluate")
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return False
        workshop = session.get(Workshop, registration.workshop_id)
        assert workshop is not None
        if registration.state is RegistrationState.active and registration.ends_at is not None:
            reminder = registration.ends_at - reminder_lead(ctx.settings, workshop)
            registration.reminder_due_at = reminder if reminder > now else None
        elif registration.state in (RegistrationState.queued, RegistrationState.provisioning):
            registration.provision_due_at = (
                registration.created_at + ctx.settings.registration.provision_timeout
            )
        return True

    return _each_due(ctx, Registration, due, SEAT_HOLDING, backfill)


def forget_rate_counters(ctx: AppContext) -> int:
    """Drop the counters of windows that are over."""
    horizon = ctx.clock.now() - ctx.settings.registration.rate_window * 2
    with ctx.db.read() as session:  # most passes find none: no write lock for nothing
        stale = session.scalar(
            select(RateCounter.key).where(RateCounter.window_start < horizon).limit(1)
        )
    if stale is None:
        return 0
    with ctx.db.write() as session:
        result = session.execute(delete(RateCounter).where(RateCounter.window_start < horizon))
        return int(result.rowcount)  # type: ignore[attr-defined]
