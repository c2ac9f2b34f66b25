"""Ending registrations and the timers that do it (ARCHITECTURE §4).

Each timer reads due rows through an index on their due time — never a scan of history — and
changes each row in its own short transaction with a conditional update, so two schedulers
running at once never both act on one row.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Registration, Seat, Workshop
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import InvalidState
from wod.services.jobs import enqueue_job
from wod.services.outcomes import fail_attempt
from wod.services.transitions import move

log = logging.getLogger(__name__)


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


def expire_due(ctx: AppContext) -> int:
    """End the active registrations whose time is up; how many were ended."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        due = list(
            session.scalars(
                select(Registration.id)
                .where(Registration.state == RegistrationState.active, Registration.ends_at <= now)
                .order_by(Registration.ends_at)
                .limit(ctx.settings.scheduler.batch)
            )
        )
    ended = 0
    for registration_id in due:
        try:
            with ctx.db.write() as session:
                registration = session.get(Registration, registration_id)
                if registration is None or registration.state is not RegistrationState.active:
                    continue
                end_registration(ctx, session, registration, "expired")
                ended += 1
        except InvalidState:  # another scheduler ended it first
            continue
    return ended


def expire_leases(ctx: AppContext) -> int:
    """Jobs whose agent went silent past the lease: retried, or failed after the last attempt."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        due = list(
            session.scalars(
                select(Job.id)
                .where(Job.state == JobState.running, Job.lease_until < now)
                .limit(ctx.settings.scheduler.batch)
            )
        )
    for job_id in due:
        try:
            with ctx.db.write() as session:
                job = session.get(Job, job_id)
                if job is None or job.state is not JobState.running:
                    continue
                log.warning("job %s: lease expired (attempt %s)", job.id, job.attempts)
                fail_attempt(session, job, "lease expired: the agent did not report", now)
        except InvalidState:
            continue
    return len(due)


def lease_duration(ctx: AppContext) -> timedelta:
    return timedelta(seconds=ctx.settings.scheduler.job_lease)
