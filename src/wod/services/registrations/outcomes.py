"""Reports of jobs, and what a finished job means for its registration and its seat
(ARCHITECTURE §4, §5): a CREATE makes the registration active, a CLEANUP ends it, a job that
failed for good stops it or breaks its seat, and the admins are told."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.states import EndReason, JobState, RegistrationState, SeatState, Verb
from wod.errors import FieldProblem, InvalidInput, NotFound
from wod.services.mail.queue import alert_admins
from wod.services.provisioning.jobs import enqueue_job, truncate_log
from wod.services.provisioning.seats import purge_seat
from wod.services.provisioning.warm import warmed
from wod.services.registrations.badges import award_levels
from wod.services.registrations.lifecycle import (
    activate,
    finish_registration,
    stop_registration,
)
from wod.wire import JobReport

log = logging.getLogger(__name__)
RETRY_DELAY = timedelta(seconds=5)
#: The shortest and the longest wait of a job for an unavailable hub.
HUB_WAIT = timedelta(seconds=5)
HUB_WAIT_MAX = timedelta(seconds=60)
HUB_WAITING = "found the hub unavailable"
WAITING = (RegistrationState.queued, RegistrationState.provisioning)


def _rows(session: Session, job: Job) -> tuple[Registration | None, Seat, Workshop | None]:
    registration = session.get(Registration, job.registration_id) if job.registration_id else None
    seat = session.get(Seat, job.seat_id)
    workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
    assert seat is not None
    return registration, seat, workshop


def report_job(ctx: AppContext, location: Location, job_id: int, report: JobReport) -> Job:
    """Record an agent's report on a job of its location and apply the outcome of the verb."""
    with ctx.db.write() as session:
        return record_report(ctx, session, location, job_id, report)


def record_report(
    ctx: AppContext, session: Session, location: Location, job_id: int, report: JobReport
) -> Job:
    now = ctx.clock.now()
    job = session.get(Job, job_id, with_for_update=True)
    if job is None or job.location_id != location.id:
        raise NotFound(f"job {job_id} does not exist at this location")
    if report.ok and job.verb is Verb.CREATE and not report.password:
        raise InvalidInput([FieldProblem("password", "a successful CREATE reports the password")])
    attempt = report.attempt or job.attempts
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    if job.state is not JobState.running or attempt != job.attempts:
        return _late(ctx, session, job, report, attempt, stamp, now)
    job.log = truncate_log(f"{job.log}--- attempt {attempt} reported {stamp}\n{report.log}\n")
    if report.ok:
        move(session, job, JobState.done, finished_at=now, lease_until=None, error=None)
        _succeeded(ctx, session, job, report, now)
    elif report.unavailable and _patient(ctx, job, now):
        _wait_for_hub(session, job, report.error or "the hub is unavailable", now)
    else:
        fail_attempt(ctx, session, job, report.error or "the agent reported a failure", now)
    metrics.job_ended(job.verb.value, job.state.value, now - (job.started_at or now))
    return job


def _late(
    ctx: AppContext,
    session: Session,
    job: Job,
    report: JobReport,
    attempt: int,
    stamp: str,
    now: datetime,
) -> Job:
    """A report that arrives after its attempt's lease ran out (or after the api lost track of
    it): never lost. A success completes the job if it still waits for its retry (nobody runs
    it: the seat is as this attempt left it); otherwise it goes into the job's log only."""
    outcome = "succeeded" if report.ok else f"failed: {report.error or 'no reason given'}"
    applied = report.ok and job.state is JobState.queued and attempt == job.attempts
    what = "completes the job" if applied else f"the job is {job.state.value}, kept as history"
    log.warning("job %s: late report of attempt %s (%s); %s", job.id, attempt, outcome, what)
    job.log = truncate_log(
        f"{job.log}--- late report of attempt {attempt} {stamp} ({outcome}; {what})\n{report.log}\n"
    )
    if applied:
        move(session, job, JobState.done, finished_at=now, run_after=now, error=None)
        _succeeded(ctx, session, job, report, now)
    return job


def _patient(ctx: AppContext, job: Job, now: datetime) -> bool:
    """Whether an attempt that failed on an unavailable hub goes uncounted: for the job's first
    ``scheduler.hub_outage_patience`` (a hub restarts, a host reboots), not for ever."""
    return now - job.created_at < ctx.settings.scheduler.hub_outage_patience


def _wait_for_hub(session: Session, job: Job, error: str, now: datetime) -> None:
    """Queue the job again without counting the attempt, later as the outage lasts (a quarter
    of the job's age, from ``HUB_WAIT`` to ``HUB_WAIT_MAX``): its attempts are kept for
    failures of its own."""
    delay = min(max(HUB_WAIT, (now - job.created_at) / 4), HUB_WAIT_MAX)
    job.hub_waits += 1  # this attempt is not counted against the job
    job.log = truncate_log(
        f"{job.log}--- attempt {job.attempts} {HUB_WAITING} ({error}); "
        f"not counted, tried again in {delay.total_seconds():.0f} s\n"
    )
    log.warning("job %s: the hub is unavailable; tried again in %s", job.id, delay)
    move(session, job, JobState.queued, run_after=now + delay, lease_until=None, error=error)


def fail_attempt(
    ctx: AppContext,
    session: Session,
    job: Job,
    error: str,
    now: datetime,
    *,
    retry_after: timedelta | None = None,
) -> None:
    """One attempt failed: queue the job again (after ``retry_after``, by default a delay that
    doubles with each attempt), or fail it for good after its last attempt."""
    job.log = truncate_log(f"{job.log}--- attempt {job.attempts} failed: {error}\n")
    counted = job.attempts - job.hub_waits
    if counted < job.max_attempts:
        delay = RETRY_DELAY * 2 ** (counted - 1) if retry_after is None else retry_after
        move(session, job, JobState.queued, run_after=now + delay, lease_until=None, error=error)
        return
    move(session, job, JobState.failed, finished_at=now, lease_until=None, error=error)
    _failed(ctx, session, job, now)


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
    if registration is None and seat.state is SeatState.warming:
        warmed(ctx, session, seat, workshop, sealed_password, now)
        return
    # queued: it took a seat of a warm pool whose CREATE was running already
    live = registration is not None and registration.state in WAITING
    if registration is None or workshop is None or not live or sealed_password is None:
        log.warning(
            "job %s: CREATE done for a registration that is no longer waiting; purging seat %s",
            job.id,
            seat.number,
        )
        purge_seat(session, seat, now, job.max_attempts)
        return
    activate(ctx, session, registration, workshop, seat, sealed_password, now)


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
        finish_registration(session, registration, now, completion)
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


def _where(session: Session, seat: Seat) -> tuple[str, str]:
    location = session.get(Location, seat.location_id)
    name = location.name if location else "?"
    return f"seat {seat.username} at {name}", location.name if location else "LOCATION"


def _failed(ctx: AppContext, session: Session, job: Job, now: datetime) -> None:
    """The job failed after its last attempt: the admins are told in every case."""
    registration, seat, _ = _rows(session, job)
    where, location = _where(session, seat)
    if job.source != "api":
        subject = f"a {job.source} order failed on {where}"
        advice = "Nothing was changed at the api; look at the hub host."
        _alert(ctx, session, job, subject, advice, now)
        return
    log.error("job %s (%s seat %s) failed for good: %s", job.id, job.verb, seat.number, job.error)
    if job.verb is Verb.CREATE:
        apologised = registration is not None and registration.state in WAITING
        if registration is not None and apologised:
            reason = EndReason.provision_failed
            stop_registration(ctx, session, registration, reason, now, apology=True)
        else:
            purge_seat(session, seat, now, job.max_attempts)
        told = "The participant got an apology. " if apologised else ""
        subject = f"CREATE failed on {where}"
        _alert(ctx, session, job, subject, told + "The seat is being purged.", now)
        return
    ending = registration is not None and registration.state is RegistrationState.ending
    if job.verb is Verb.CLEANUP and registration is not None and ending:
        finish_registration(session, registration, now, None)
    if seat.state is not SeatState.broken:
        move(session, seat, SeatState.broken, updated_at=now)
    advice = (
        "The seat is no longer handed out. Repair it once the cause is fixed with "
        f"`wod seats purge {location} {seat.number}`."
    )
    _alert(ctx, session, job, f"{where} is broken", advice, now)


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
