"""Jobs for the backend agents: queued by the api, claimed with a lease, reported back.

A claim takes the oldest due job of the location whose seat has no running job and no older
queued job (so the verbs of one seat run in order). On PostgreSQL the claim uses
``FOR UPDATE SKIP LOCKED``; on SQLite write transactions are serialised. A report applies the
verb's outcome to the registration and the seat in the same transaction
(:mod:`wod.services.outcomes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from wod.db.models import Job, Location, Registration, Seat, Workshop
from wod.domain.states import JobState, RegistrationState, Verb
from wod.errors import InvalidState, NotFound
from wod.services.transitions import move

LOG_LIMIT = 64_000


@dataclass(frozen=True)
class JobReport:
    """What an agent says of a job it ran."""

    ok: bool
    log: str = ""
    error: str | None = None
    password: str | None = None
    completion: int | None = None


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
    )
    session.add(job)
    session.flush()
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


def job_order(session: Session, job: Job) -> dict[str, Any]:
    """The job as the agent receives it."""
    seat = session.get(Seat, job.seat_id) if job.seat_id else None
    workshop = session.get(Workshop, job.workshop_id) if job.workshop_id else None
    return {
        "id": job.id,
        "verb": job.verb.value,
        "attempt": job.attempts,
        "seat": {"number": seat.number, "username": seat.username} if seat else None,
        "registration": job.registration_id,
        "workshop": None
        if workshop is None
        else {
            "slug": workshop.slug,
            "id": workshop.id,
            "seat_min": workshop.seat_min,
            "seat_max": workshop.seat_max,
            "reset": workshop.reset,
            "varpass": workshop.varpass,
            "ldap": workshop.ldap,
            "compile": workshop.compile,
            "monoappliance": workshop.monoappliance,
            "multiappliance": workshop.multiappliance,
        },
    }


def truncate_log(log: str) -> str:
    if len(log) <= LOG_LIMIT:
        return log
    return "[… earlier lines dropped …]\n" + log[-LOG_LIMIT:]


def record_external_job(
    session: Session,
    location: Location,
    verb: str,
    number: int,
    slug: str | None,
    source: str,
    now: datetime,
    lease: timedelta,
) -> Job:
    """A job the agent took by another transport: recorded as running, reported as usual."""
    seat = session.scalar(
        select(Seat).where(Seat.location_id == location.id, Seat.number == number)
    )
    if seat is None:
        raise NotFound(f"no seat {number} at this location")
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug)) if slug else None
    job = Job(
        verb=Verb(verb),
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
