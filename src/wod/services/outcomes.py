"""Reports of jobs, and what a finished job means for its registration and its seat
(ARCHITECTURE §4, §5)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import FieldProblem, InvalidInput, InvalidState, NotFound
from wod.services.badges import award_levels
from wod.services.jobs import JobReport, enqueue_job, truncate_log
from wod.services.outbox import alert_admins, queue_email
from wod.services.transitions import move
from wod.settings import Settings

log = logging.getLogger(__name__)
RETRY_DELAY = timedelta(seconds=5)


def _rows(session: Session, job: Job) -> tuple[Registration | None, Seat, Workshop | None]:
    registration = session.get(Registration, job.registration_id) if job.registration_id else None
    seat = session.get(Seat, job.seat_id)
    workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
    assert seat is not None
    return registration, seat, workshop


def reminder_lead(settings: Settings, workshop: Workshop) -> timedelta:
    """How long before the end the reminder goes (shorter for workshops of an hour or less)."""
    reg = settings.registration
    return reg.reminder_before_short if workshop.duration_hours <= 1 else reg.reminder_before


def report_job(
    ctx: AppContext, session: Session, location: Location, job_id: int, report: JobReport
) -> Job:
    """Record an agent's report and apply the outcome of the verb."""
    now = ctx.clock.now()
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
        _succeeded(ctx, session, job, report, now)
    else:
        fail_attempt(ctx, session, job, report.error or "the agent reported a failure", now)
    return job


def fail_attempt(ctx: AppContext, session: Session, job: Job, error: str, now: datetime) -> None:
    """One attempt failed: queue the job again, or fail it for good after its last attempt."""
    if job.attempts < job.max_attempts:
        delay = RETRY_DELAY * 2 ** (job.attempts - 1)
        move(session, job, JobState.queued, run_after=now + delay, lease_until=None, error=error)
        return
    move(session, job, JobState.failed, finished_at=now, lease_until=None, error=error)
    _failed(ctx, session, job, now)


def purge_seat(session: Session, seat: Seat, now: datetime, attempts: int) -> Job:
    """Queue a PURGE: the seat is cleaned whatever state it is in, then freed. A PURGE already
    waiting for the seat is reused."""
    waiting = session.scalar(
        select(Job).where(
            Job.seat_id == seat.id,
            Job.verb == Verb.PURGE,
            Job.state.in_((JobState.queued, JobState.running)),
        )
    )
    if waiting is not None:
        return waiting
    if seat.state is not SeatState.cleaning:
        move(session, seat, SeatState.cleaning, updated_at=now)
    return enqueue_job(session, Verb.PURGE, seat, now, attempts=attempts)


def fail_registration(
    session: Session, registration: Registration, reason: str, now: datetime, attempts: int
) -> None:
    """A registration that never became active: failed, its seat purged, an apology sent."""
    move(
        session,
        registration,
        RegistrationState.failed,
        ended_at=now,
        ended_reason=reason,
        password_enc=None,
        provision_due_at=None,
    )
    for job in session.scalars(
        select(Job).where(Job.registration_id == registration.id, Job.state == JobState.queued)
    ):
        move(session, job, JobState.failed, finished_at=now, error=f"cancelled: {reason}")
    seat = session.get(Seat, registration.seat_id)
    assert seat is not None
    purge_seat(session, seat, now, attempts)
    queue_email(session, "apology", registration, now)


def _succeeded(
    ctx: AppContext, session: Session, job: Job, report: JobReport, now: datetime
) -> None:
    registration, seat, workshop = _rows(session, job)
    if job.source != "api":
        return  # a verb the agent took by another transport: recorded, moves nothing
    if job.verb is Verb.CREATE:
        sealed = ctx.secret_box.seal(report.password) if report.password else None
        _created(ctx, session, job, sealed, now, registration, seat, workshop)
    elif job.verb is Verb.CLEANUP:
        _cleaned(ctx, session, job, report.completion, now, registration, seat, workshop)
    elif seat.state is not SeatState.free:  # PURGE, RESET
        move(session, seat, SeatState.free, updated_at=now)


def _created(
    ctx: AppContext,
    session: Session,
    job: Job,
    sealed_password: str | None,
    now: datetime,
    registration: Registration | None,
    seat: Seat,
    workshop: Workshop | None,
) -> None:
    live = registration is not None and registration.state is RegistrationState.provisioning
    if registration is None or workshop is None or not live or sealed_password is None:
        log.warning(
            "job %s: CREATE done for a registration that is no longer waiting; purging seat %s",
            job.id,
            seat.number,
        )
        purge_seat(session, seat, now, job.max_attempts)
        return
    ends_at = now + timedelta(hours=workshop.duration_hours)
    move(
        session,
        registration,
        RegistrationState.active,
        ready_at=now,
        ends_at=ends_at,
        password_enc=sealed_password,
        provision_due_at=None,
        reminder_due_at=max(now, ends_at - reminder_lead(ctx.settings, workshop)),
    )
    move(session, seat, SeatState.ready, updated_at=now)
    queue_email(session, "credentials", registration, now)


def _cleaned(
    ctx: AppContext,
    session: Session,
    job: Job,
    completion: int | None,
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
            completion=completion,
            password_enc=None,
            reminder_due_at=None,
        )
        queue_email(session, "final", registration, now)
        award_levels(session, registration, ctx.settings, now)
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


def _failed(ctx: AppContext, session: Session, job: Job, now: datetime) -> None:
    """The job failed after its last attempt: the admins are told in every case."""
    registration, seat, _ = _rows(session, job)
    if job.source != "api":
        _alert(
            ctx,
            session,
            job,
            f"a {job.source} order failed on seat {seat.username} at "
            f"{getattr(session.get(Location, seat.location_id), 'name', '?')}",
            "Nothing was changed at the api; look at the hub host.",
            now,
        )
        return
    log.error("job %s (%s seat %s) failed for good: %s", job.id, job.verb, seat.number, job.error)
    location = session.get(Location, seat.location_id)
    where = f"seat {seat.username} at {location.name if location else '?'}"
    if job.verb is Verb.CREATE:
        waiting = (RegistrationState.queued, RegistrationState.provisioning)
        apologised = registration is not None and registration.state in waiting
        if registration is not None and apologised:
            fail_registration(session, registration, "provision_failed", now, job.max_attempts)
        else:
            purge_seat(session, seat, now, job.max_attempts)
        told = "The participant got an apology. " if apologised else ""
        _alert(
            ctx, session, job, f"CREATE failed on {where}", told + "The seat is being purged.", now
        )
        return
    ending = registration is not None and registration.state is RegistrationState.ending
    if job.verb is Verb.CLEANUP and registration is not None and ending:
        move(
            session,
            registration,
            RegistrationState.ended,
            ended_at=now,
            password_enc=None,
            reminder_due_at=None,
        )
        queue_email(session, "final", registration, now)
    if seat.state is not SeatState.broken:
        move(session, seat, SeatState.broken, updated_at=now)
    _alert(
        ctx,
        session,
        job,
        f"{where} is broken",
        "The seat is no longer handed out. Repair it once the cause is fixed with "
        f"`wod seats purge {location.name if location else 'LOCATION'} {seat.number}`.",
        now,
    )


def _alert(
    ctx: AppContext, session: Session, job: Job, subject: str, advice: str, now: datetime
) -> None:
    alert_admins(
        session,
        ctx.settings.alerts.recipients,
        subject,
        f"The {job.verb.value} job {job.id} failed after {job.attempts} attempts:\n\n"
        f"{job.error}\n\n{advice}\n\nJob log:\n{job.log[-4000:]}",
        f"job:{job.id}",
        now,
    )
