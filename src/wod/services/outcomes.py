"""Reports of jobs, and what a finished job means for its registration and its seat
(ARCHITECTURE §4, §5)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.domain.secrets import SecretBox
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import FieldProblem, InvalidInput, InvalidState, NotFound
from wod.services.jobs import JobReport, enqueue_job, truncate_log
from wod.services.outbox import queue_email
from wod.services.transitions import move

log = logging.getLogger(__name__)
RETRY_DELAY = timedelta(seconds=5)


def _rows(session: Session, job: Job) -> tuple[Registration | None, Seat, Workshop | None]:
    registration = session.get(Registration, job.registration_id) if job.registration_id else None
    seat = session.get(Seat, job.seat_id)
    workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
    assert seat is not None
    return registration, seat, workshop


def report_job(
    session: Session,
    location: Location,
    job_id: int,
    report: JobReport,
    now: datetime,
    box: SecretBox,
) -> Job:
    """Record an agent's report and apply the outcome of the verb."""
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.location_id != location.id:
        raise NotFound(f"job {job_id} does not exist at this location")
    if job.state is not JobState.running:
        raise InvalidState(f"job {job_id} is {job.state.value}, not running")
    if report.ok and job.verb is Verb.CREATE and not report.password:
        raise InvalidInput([FieldProblem("password", "a successful CREATE reports the password")])
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    job.log = truncate_log(f"{job.log}--- attempt {job.attempts} reported {stamp}\n{report.log}\n")
    if report.ok:
        move(session, job, JobState.done, finished_at=now, lease_until=None, error=None)
        succeeded(session, job, report, now, box)
    else:
        fail_attempt(session, job, report.error or "the agent reported a failure", now)
    return job


def fail_attempt(session: Session, job: Job, error: str, now: datetime) -> None:
    """One attempt failed: queue the job again, or fail it for good after its last attempt."""
    if job.attempts < job.max_attempts:
        delay = RETRY_DELAY * 2 ** (job.attempts - 1)
        move(session, job, JobState.queued, run_after=now + delay, lease_until=None, error=error)
        return
    move(session, job, JobState.failed, finished_at=now, lease_until=None, error=error)
    failed(session, job, now)


def purge_seat(session: Session, seat: Seat, now: datetime, attempts: int) -> Job:
    """Queue a PURGE: the seat is cleaned whatever state it is in, then freed."""
    if seat.state is not SeatState.cleaning:
        move(session, seat, SeatState.cleaning, updated_at=now)
    return enqueue_job(session, Verb.PURGE, seat, now, attempts=attempts)


def succeeded(session: Session, job: Job, report: JobReport, now: datetime, box: SecretBox) -> None:
    registration, seat, workshop = _rows(session, job)
    if job.verb is Verb.CREATE:
        sealed = box.seal(report.password) if report.password else None
        _created(session, job, sealed, now, registration, seat, workshop)
    elif job.verb is Verb.CLEANUP:
        _cleaned(session, job, report, now, registration, seat, workshop)
    else:  # PURGE, RESET
        move(session, seat, SeatState.free, updated_at=now)


def _created(
    session: Session,
    job: Job,
    sealed_password: str | None,
    now: datetime,
    registration: Registration | None,
    seat: Seat,
    workshop: Workshop | None,
) -> None:
    if registration is None or workshop is None:
        purge_seat(session, seat, now, job.max_attempts)
        return
    if registration.state is not RegistrationState.provisioning or sealed_password is None:
        log.warning(
            "job %s: CREATE done for registration %s in state %s; purging the seat",
            job.id,
            registration.id,
            registration.state.value,
        )
        purge_seat(session, seat, now, job.max_attempts)
        return
    move(
        session,
        registration,
        RegistrationState.active,
        ready_at=now,
        ends_at=now + timedelta(hours=workshop.duration_hours),
        password_enc=sealed_password,
    )
    move(session, seat, SeatState.ready, updated_at=now)
    queue_email(session, "credentials", registration, now)


def _cleaned(
    session: Session,
    job: Job,
    report: JobReport,
    now: datetime,
    registration: Registration | None,
    seat: Seat,
    workshop: Workshop | None,
) -> None:
    if registration is not None and registration.state is RegistrationState.ending:
        move(
            session,
            registration,
            RegistrationState.ended,
            ended_at=now,
            completion=report.completion,
            password_enc=None,
        )
        queue_email(session, "final", registration, now)
    if workshop is not None and workshop.reset:
        move(session, seat, SeatState.resetting, updated_at=now)
        enqueue_job(
            session,
            Verb.RESET,
            seat,
            now,
            registration=registration,
            workshop=workshop,
            attempts=job.max_attempts,
        )
    else:
        move(session, seat, SeatState.free, updated_at=now)


def failed(session: Session, job: Job, now: datetime) -> None:
    """The job failed after its last attempt."""
    registration, seat, _ = _rows(session, job)
    log.error("job %s (%s seat %s) failed for good: %s", job.id, job.verb, seat.number, job.error)
    if job.verb is Verb.CREATE:
        if registration is not None and registration.state in (
            RegistrationState.queued,
            RegistrationState.provisioning,
        ):
            move(
                session,
                registration,
                RegistrationState.failed,
                ended_at=now,
                ended_reason="provision_failed",
                password_enc=None,
            )
        purge_seat(session, seat, now, job.max_attempts)
        return
    ending = registration is not None and registration.state is RegistrationState.ending
    if job.verb is Verb.CLEANUP and registration is not None and ending:
        move(session, registration, RegistrationState.ended, ended_at=now, password_enc=None)
    move(session, seat, SeatState.broken, updated_at=now)
