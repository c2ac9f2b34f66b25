"""Jobs for the backend agents: queued by the api, claimed with a lease, reported back.

A claim takes the oldest due job of the location whose seat has no running job and no older
queued job (so the verbs of one seat run in order). On PostgreSQL the claim uses
``FOR UPDATE SKIP LOCKED``; on SQLite write transactions are serialised. A report applies the
verb's outcome to the registration and the seat in the same transaction
(:mod:`wod.services.registrations.outcomes`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from wod.context import AppContext
from wod.db.models import ContentRevision, Job, Location, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.secrets import LAB_PREFIX, hash_token, new_token
from wod.domain.states import JobState, RegistrationState, Verb
from wod.errors import InvalidState, NotFound
from wod.logs import current_request_id
from wod.services.content.bundles import content_ref
from wod.wire import ExternalJobIn, JobOrder, SeatOrder, WorkshopOrder

LOG_LIMIT = 64_000


def lease_duration(ctx: AppContext) -> timedelta:
    """How long an agent may run a job it claimed before the job is given again."""
    return timedelta(seconds=ctx.settings.scheduler.job_lease)


def enqueue_job(
    session: Session,
    verb: Verb,
    seat: Seat,
    now: datetime,
    *,
    registration: Registration | None = None,
    workshop: Workshop | None = None,
    attempts: int = 3,
) -> Job:
    """Queue one verb for one seat."""
    job = Job(
        verb=verb,
        location_id=seat.location_id,
        seat_id=seat.id,
        registration_id=registration.id if registration else None,
        workshop_id=workshop.id if workshop else None,
        max_attempts=attempts,
        run_after=now,
        created_at=now,
        request_id=current_request_id(),  # of the api request that queues it, if one does
    )
    session.add(job)
    session.flush()  # the agents ask for work: nobody in this process is woken
    return job


def _claimable(location_id: int, now: datetime) -> Any:
    other = aliased(Job)
    seat_busy = exists().where(
        other.seat_id == Job.seat_id,
        or_(
            other.state == JobState.running,
            and_(other.state == JobState.queued, other.id < Job.id),
        ),
    )
    return (
        select(Job)
        .where(
            Job.location_id == location_id,
            Job.state == JobState.queued,
            Job.run_after <= now,
            ~seat_busy,
        )
        .order_by(Job.id)
        .limit(1)
        .with_for_update(skip_locked=True, of=Job)
    )


def claim_job(session: Session, location: Location, now: datetime, lease: timedelta) -> Job | None:
    """Lease the next job of the location to its agent, or None when there is nothing to do."""
    job: Job | None = session.scalar(_claimable(location.id, now))
    if job is None:
        return None
    try:
        with session.begin_nested():
            move(
                session,
                job,
                JobState.running,
                attempts=job.attempts + 1,
                lease_until=now + lease,
                started_at=now,
            )
    except (IntegrityError, InvalidState):  # a concurrent claim won the seat
        return None
    if job.verb is Verb.CREATE and job.registration_id is not None:
        registration = session.get(Registration, job.registration_id)
        if registration is not None and registration.state is RegistrationState.queued:
            move(session, registration, RegistrationState.provisioning)
    return job


def claim(ctx: AppContext, location: Location) -> JobOrder | None:
    """Lease the next job of ``location`` to its agent: its order, or None when there is
    nothing to do. A job of a registration made from a content revision names that revision
    and its workshop's bundle (built after the claim's transaction: it may take a moment)."""
    with ctx.db.write() as session:
        job = claim_job(session, location, ctx.clock.now(), lease_duration(ctx))
        if job is None:
            return None
        order, revision = job_order(session, job), _revision_of(session, job)
        if job.verb is Verb.CREATE and job.seat_id is not None:
            order.lab_token = _new_lab_token(session, job.seat_id)
    if order.workshop is not None and revision is not None:
        order.content = content_ref(ctx, revision, order.workshop.slug)
    return order


def _new_lab_token(session: Session, seat_id: int) -> str:
    """A fresh lab token for the seat a CREATE builds: every claim of the CREATE makes a new
    one, so only the attempt that completes leaves a token that works."""
    token = new_token(LAB_PREFIX)
    session.execute(update(Seat).where(Seat.id == seat_id).values(lab_token_hash=hash_token(token)))
    return token


def _revision_of(session: Session, job: Job) -> str | None:
    if job.registration_id is None:  # a warm pool's CREATE: the revision the seat is built for
        return session.scalar(
            select(ContentRevision.digest)
            .join(Seat, Seat.warm_revision_id == ContentRevision.id)
            .where(Seat.id == job.seat_id)
        )
    return session.scalar(
        select(ContentRevision.digest)
        .join(Registration, Registration.content_revision_id == ContentRevision.id)
        .where(Registration.id == job.registration_id)
    )


def job_order(session: Session, job: Job) -> JobOrder:
    """The job as the agent receives it."""
    seat = session.get(Seat, job.seat_id) if job.seat_id else None
    workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
    return JobOrder(
        id=job.id,
        verb=job.verb.value,
        attempt=job.attempts,
        seat=SeatOrder(number=seat.number, username=seat.username) if seat else None,
        registration=job.registration_id,
        workshop=None if workshop is None else workshop_order(workshop),
        # a warm pool's seat is ready to open: its server runs before anyone logs in
        start_server=job.verb is Verb.CREATE
        and seat is not None
        and seat.warm_workshop_id is not None,
        request_id=job.request_id,
    )


def _warm_build(job: Job, seat: Seat | None) -> bool:
    return job.verb is Verb.CREATE and seat is not None and seat.warm_workshop_id is not None


def workshop_order(workshop: Workshop) -> WorkshopOrder:
    return WorkshopOrder(
        id=workshop.id,
        slug=workshop.slug,
        seat_min=workshop.seat_min,
        seat_max=workshop.seat_max,
        reset=workshop.reset,
        varpass=workshop.varpass,
        ldap=workshop.ldap,
        compile=workshop.compile,
        monoappliance=workshop.monoappliance,
        multiappliance=workshop.multiappliance,
    )


def truncate_log(log: str) -> str:
    if len(log) <= LOG_LIMIT:
        return log
    return "[… earlier lines dropped …]\n" + log[-LOG_LIMIT:]


def record_external_job(ctx: AppContext, location: Location, order: ExternalJobIn) -> Job:
    """A job the agent took by another transport (a mail order): recorded as running, reported
    through the same route as every job; it changes no registration."""
    try:
        with ctx.db.write() as session:
            return _record_external(session, location, order, ctx.clock.now(), lease_duration(ctx))
    except IntegrityError as exc:  # a job already runs on that seat
        raise InvalidState(f"seat {order.seat} is busy with another job") from exc


def _record_external(
    session: Session, location: Location, order: ExternalJobIn, now: datetime, lease: timedelta
) -> Job:
    number, slug, source = order.seat, order.workshop, order.source
    seat = session.scalar(
        select(Seat).where(Seat.location_id == location.id, Seat.number == number)
    )
    if seat is None:
        raise NotFound(f"no seat {number} at this location")
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug)) if slug else None
    job = Job(
        verb=Verb(order.verb),
        location_id=location.id,
        seat_id=seat.id,
        workshop_id=workshop.id if workshop else None,
        state=JobState.running,
        attempts=1,
        max_attempts=1,
        run_after=now,
        started_at=now,
        created_at=now,
        lease_until=now + lease,
        log=f"--- taken by {source}\n",
        source=source,
    )
    session.add(job)
    session.flush()
    return job
