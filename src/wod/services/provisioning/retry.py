"""An admin's second try at a job that failed for good.

Retrying queues the same verb again as a *new* job (fresh attempts, same seat, registration
and workshop); the failed job stays as it is, with its log, as history. Only the
failure that left its seat ``broken`` is retried, and only while it still does: the job is a
CLEANUP, RESET or PURGE queued by the api, it is the latest job of its seat, the seat is still
``broken`` and no live registration holds it. The seat then leaves ``broken`` through the
transition table (``broken → cleaning``, and ``→ resetting`` for a RESET), so no registration
can take it before the new job has run; when that job succeeds the seat is free again, when it
fails for good the seat is broken again and the admins are alerted again. A failed CREATE is
never retried: its registration has failed (the participant was told and may register again)
and its seat was purged. A cancelled job and a job taken by mail are not retried either.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.states import SEAT_HOLDING, JobState, SeatState, Verb
from wod.errors import InvalidState, NotFound
from wod.services.provisioning.jobs import enqueue_job

RETRYABLE_VERBS = (Verb.CLEANUP, Verb.RESET, Verb.PURGE)


def retry_job(ctx: AppContext, job_id: int) -> Job:
    """Queue a failed job's verb again (see the module); the new job."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise NotFound(f"No job {job_id}.")
        seat = retryable_seat(session, job)
        move(session, seat, SeatState.cleaning, updated_at=now)
        if job.verb is Verb.RESET:
            move(session, seat, SeatState.resetting, updated_at=now)
        registration = (
            session.get(Registration, job.registration_id) if job.registration_id else None
        )
        workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
        retry = enqueue_job(
            session,
            job.verb,
            seat,
            now,
            registration=registration,
            workshop=workshop,
            attempts=ctx.settings.scheduler.job_attempts,
        )
        retry.log = f"--- retry of job {job.id}, asked by an admin\n"
        return retry


def retryable_seat(session: Session, job: Job) -> Seat:
    """The seat a retry of ``job`` would clean, or :class:`InvalidState` saying why the job is
    not retried."""
    if job.state is not JobState.failed:
        raise InvalidState(f"Job {job.id} is {job.state.value}: only a failed job is retried.")
    if job.source != "api":
        raise InvalidState(f"Job {job.id} came by {job.source}: send the order again.")
    if job.verb is Verb.CREATE:
        raise InvalidState(
            "A failed CREATE is not retried: its registration failed and its seat was purged; "
            "the participant may register again."
        )
    if (job.error or "").startswith("cancelled"):
        raise InvalidState(f"Job {job.id} was cancelled, not failed: there is nothing to retry.")
    seat = session.get(Seat, job.seat_id)
    if seat is None or job.verb not in RETRYABLE_VERBS:
        raise InvalidState(f"Job {job.id} cannot be retried.")
    later = session.scalar(
        select(Job.id).where(Job.seat_id == seat.id, Job.id > job.id, Job.source == "api").limit(1)
    )
    if later is not None:
        raise InvalidState(f"Seat {seat.username} had job {later} since: retry that one instead.")
    if seat.state is not SeatState.broken:
        raise InvalidState(
            f"Seat {seat.username} is {seat.state.value}, not broken: nothing to retry."
        )
    holder = session.scalar(
        select(Registration.id).where(
            Registration.seat_id == seat.id, Registration.state.in_(SEAT_HOLDING)
        )
    )
    if holder is not None:
        raise InvalidState(f"Seat {seat.username} holds registration {holder}.")
    return seat
