"""Ending registrations and the timers that do it (ARCHITECTURE §4).

Each timer reads due rows through an index on their due time — never a scan of history — and
changes each row in its own short transaction with a conditional update, so two schedulers
running at once never both act on one row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from enum import StrEnum
from typing import TypeVar

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Registration, Seat, Workshop
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import InvalidState
from wod.services.jobs import enqueue_job
from wod.services.outcomes import fail_attempt
from wod.services.transitions import move

log = logging.getLogger(__name__)
Row = TypeVar("Row", Registration, Job)


def end_registration(
    ctx: AppContext, session: Session, registration: Registration, reason: str
) -> None:
    """Move an active registration to ``ending`` and queue the CLEANUP of its seat."""
    now = ctx.clock.now()
    move(session, registration, RegistrationState.ending, ended_reason=reason)
    seat = session.get(Seat, registration.seat_id)
    assert seat is not None
    move(session, seat, SeatState.cleaning, updated_at=now)
    enqueue_job(
        session,
        Verb.CLEANUP,
        seat,
        now,
        registration=registration,
        workshop=session.get(Workshop, registration.workshop_id),
        attempts=ctx.settings.scheduler.job_attempts,
    )


def _each_due(
    ctx: AppContext,
    model: type[Row],
    due: Select[int],
    state: StrEnum,
    act: Callable[[Session, Row], None],
) -> int:
    """Apply ``act`` to each due row, each in its own transaction, skipping the rows that left
    ``state`` meanwhile (another scheduler got there first); how many were acted on."""
    with ctx.db.read() as session:
        ids = list(session.scalars(due.limit(ctx.settings.scheduler.batch)))
    done = 0
    for row_id in ids:
        try:
            with ctx.db.write() as session:
                row = session.get(model, row_id)
                if row is None or row.state is not state:
                    continue
                act(session, row)
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
        RegistrationState.active,
        lambda session, row: end_registration(ctx, session, row, "expired"),
    )


def expire_leases(ctx: AppContext) -> int:
    """Jobs whose agent went silent past the lease: retried, or failed after the last attempt."""
    now = ctx.clock.now()
    due = select(Job.id).where(Job.state == JobState.running, Job.lease_until < now)

    def retry(session: Session, job: Job) -> None:
        log.warning("job %s: lease expired (attempt %s)", job.id, job.attempts)
        fail_attempt(session, job, "lease expired: the agent did not report", now)

    return _each_due(ctx, Job, due, JobState.running, retry)


def lease_duration(ctx: AppContext) -> timedelta:
    return timedelta(seconds=ctx.settings.scheduler.job_lease)
