"""An admin's second try: a job that failed for good, an email to send again.

**Retrying a job** queues the same verb again as a *new* job (fresh attempts, same seat,
registration and workshop); the failed job stays as it is, with its log, as history. Only the
failure that left its seat ``broken`` is retried, and only while it still does: the job is a
CLEANUP, RESET or PURGE queued by the api, it is the latest job of its seat, the seat is still
``broken`` and no live registration holds it. The seat then leaves ``broken`` through the
transition table (``broken → cleaning``, and ``→ resetting`` for a RESET), so no registration
can take it before the new job has run; when that job succeeds the seat is free again, when it
fails for good the seat is broken again and the admins are alerted again. A failed CREATE is
never retried: its registration has failed (the participant was told and may register again)
and its seat was purged. A cancelled job and a job taken by mail are not retried either.

**Resending an email** puts the *same* outbox row back to ``pending`` (``sent → pending`` or
``failed → pending`` in the transition table), with its attempts counted from zero: the
one-email-per-(registration, kind) dedupe key is untouched, and the outbox sends it again,
rendered from the registration as it is now. An email still waiting to be sent, or of a purged
registration, is not resent; neither is a welcome, credentials, reminder or "already registered"
email once its registration is no longer live (what it says no longer holds).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat, Workshop
from wod.domain.states import SEAT_HOLDING, EmailState, JobState, RegistrationState, SeatState, Verb
from wod.errors import InvalidState, NotFound
from wod.services.jobs import enqueue_job
from wod.services.transitions import move

#: Emails that only make sense while their registration is live.
LIVE_ONLY_KINDS = frozenset({"welcome", "credentials", "reminder", "already_registered"})
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


def resend_email(ctx: AppContext, email_id: int) -> Email:
    """Send an email again: the same outbox row back to ``pending`` (see the module)."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        email = session.get(Email, email_id)
        if email is None:
            raise NotFound(f"No email {email_id}.")
        check_resendable(session, email)
        move(
            session,
            email,
            EmailState.pending,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            lease_until=None,
        )
        return email


def check_resendable(session: Session, email: Email) -> None:
    """:class:`InvalidState` saying why ``email`` is not resent, if it is not."""
    if email.state not in (EmailState.sent, EmailState.failed):
        raise InvalidState(f"Email {email.id} is {email.state.value}: it is not sent yet.")
    if email.registration_id is None:
        return
    registration = session.get(Registration, email.registration_id)
    if registration is None:
        raise InvalidState(f"Email {email.id}: its registration is gone.")
    if registration.erased_at is not None:
        raise InvalidState(f"Registration {registration.id} was purged: its emails are not resent.")
    live = (
        registration.state is RegistrationState.active
        if email.kind == "credentials"
        else registration.state in SEAT_HOLDING
    )
    if email.kind in LIVE_ONLY_KINDS and not live:
        raise InvalidState(
            f"The {email.kind} email is not resent: registration {registration.id} is "
            f"{registration.state.value}, so what it says no longer holds."
        )
