"""How the platform is doing: per location its agent's last contact, version and content
revision, the jobs waiting and failing, the broken seats; the outbox's backlog and failures.
The console's health page and ``GET /api/v1/health`` show :func:`health`; ``GET /metrics``
serves the same database figures to Prometheus (:func:`scrape`).

Something is *stuck* (the page shows it in red) when an enabled location's agent is silent or
never called, a job waits past ``health.job_wait``, a job failed for good or a seat broke, an
email waits past ``health.outbox_wait``, or an email was given up (the last two within
``health.failure_window``).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import Email, Job, Location, Registration, Seat, Workshop
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState, Verb
from wod.errors import NotAuthenticated
from wod.services.content.revisions import current_revision
from wod.settings import HealthSettings, Mode

_WAITING = (EmailState.pending, EmailState.sending)


@dataclass(frozen=True)
class LocationHealth:
    """One location: its agent, its jobs, its seats, and what is stuck there."""

    name: str
    enabled: bool
    last_contact_at: datetime | None
    silent_since: datetime | None
    agent_version: str | None
    content_revision: str | None
    #: It holds another revision than the one in service (its agent fetches it soon).
    lags: bool
    queued_jobs: int
    running_jobs: int
    #: Since when its oldest due job has waited for the agent (None: none waits).
    oldest_job_due_at: datetime | None
    #: Jobs that failed for good within ``health.failure_window``.
    failed_jobs: int
    broken_seats: int
    problems: list[str]
    stuck: bool


@dataclass(frozen=True)
class OutboxHealth:
    """The emails not sent yet, and those given up within ``health.failure_window``."""

    backlog: int
    oldest_queued_at: datetime | None
    failed: int
    problems: list[str]
    stuck: bool


@dataclass(frozen=True)
class Health:
    """``GET /api/v1/health``: every location and the outbox; ``ok`` when nothing is stuck."""

    checked_at: datetime
    revision: str | None
    locations: list[LocationHealth]
    outbox: OutboxHealth
    ok: bool


@dataclass(frozen=True)
class _Jobs:
    queued: int
    running: int
    oldest_due: datetime | None
    failed: int


def health(ctx: AppContext) -> Health:
    """Where each location and the outbox stand now, and what is stuck."""
    now = ctx.clock.now()
    since = now - ctx.settings.health.failure_window
    with ctx.db.read() as session:
        current = current_revision(session)
        revision = current.digest if current is not None else None
        rows = list(session.scalars(select(Location).order_by(Location.name)))
        jobs = _jobs_by_location(session, now, since)
        broken = dict(
            session.execute(
                select(Seat.location_id, func.count())
                .where(Seat.state == SeatState.broken)
                .group_by(Seat.location_id)
            ).all()
        )
        outbox = _outbox(ctx, session, now, since)
    locations = [
        _location(ctx, row, revision, jobs.get(row.id), broken.get(row.id, 0), now) for row in rows
    ]
    ok = not outbox.stuck and not any(loc.stuck for loc in locations)
    return Health(now, revision, locations, outbox, ok)


def _jobs_by_location(session: Session, now: datetime, since: datetime) -> dict[int, _Jobs]:
    counts: dict[tuple[int, JobState], int] = {
        (location_id, state): count
        for location_id, state, count in session.execute(
            select(Job.location_id, Job.state, func.count())
            .where(Job.state.in_((JobState.queued, JobState.running)))
            .group_by(Job.location_id, Job.state)
        )
    }
    due = dict(
        session.execute(
            select(Job.location_id, func.min(Job.run_after))
            .where(Job.state == JobState.queued, Job.run_after <= now)
            .group_by(Job.location_id)
        ).all()
    )
    failed = dict(
        session.execute(
            select(Job.location_id, func.count())
            .where(Job.state == JobState.failed, Job.finished_at >= since)
            .group_by(Job.location_id)
        ).all()
    )
    ids = {location_id for location_id, _ in counts} | set(due) | set(failed)
    return {
        i: _Jobs(
            counts.get((i, JobState.queued), 0),
            counts.get((i, JobState.running), 0),
            _aware(due.get(i)),
            failed.get(i, 0),
        )
        for i in ids
    }


def _location(
    ctx: AppContext,
    row: Location,
    revision: str | None,
    jobs: _Jobs | None,
    broken: int,
    now: datetime,
) -> LocationHealth:
    jobs = jobs or _Jobs(0, 0, None, 0)
    problems = _location_problems(ctx, row, jobs, broken, now) if row.enabled else []
    return LocationHealth(
        name=row.name,
        enabled=row.enabled,
        last_contact_at=row.last_contact_at,
        silent_since=row.silent_since,
        agent_version=row.agent_version,
        content_revision=row.content_revision,
        lags=revision is not None and row.enabled and row.content_revision != revision,
        queued_jobs=jobs.queued,
        running_jobs=jobs.running,
        oldest_job_due_at=jobs.oldest_due,
        failed_jobs=jobs.failed,
        broken_seats=broken,
        problems=problems,
        stuck=bool(problems),
    )


def _location_problems(
    ctx: AppContext, row: Location, jobs: _Jobs, broken: int, now: datetime
) -> list[str]:
    limits = ctx.settings.health
    problems = []
    last = row.last_contact_at
    if last is None:
        problems.append("its agent never called the api")
    elif row.silent_since is not None or now - last >= ctx.settings.locations.silent_after:
        problems.append(f"its agent is silent: no call since {last:%Y-%m-%d %H:%M:%S} UTC")
    if jobs.oldest_due is not None and now - jobs.oldest_due >= limits.job_wait:
        problems.append(
            f"a job has waited for its agent since {jobs.oldest_due:%Y-%m-%d %H:%M:%S} UTC"
        )
    if jobs.failed:
        problems.append(f"{jobs.failed} job(s) failed for good in the last {_span(limits)}")
    if broken:
        problems.append(f"{broken} seat(s) broken (a purge repairs them)")
    return problems


def _outbox(ctx: AppContext, session: Session, now: datetime, since: datetime) -> OutboxHealth:
    limits = ctx.settings.health
    backlog, first = session.execute(
        select(func.count(), func.min(Email.created_at)).where(Email.state.in_(_WAITING))
    ).one()
    oldest = _aware(first)
    failed = (
        session.scalar(
            select(func.count()).where(Email.state == EmailState.failed, Email.created_at >= since)
        )
        or 0
    )
    problems = []
    if oldest is not None and now - oldest >= limits.outbox_wait:
        problems.append(f"an email has waited since {oldest:%Y-%m-%d %H:%M:%S} UTC")
    if failed:
        problems.append(f"{failed} email(s) given up in the last {_span(limits)}")
    return OutboxHealth(backlog, oldest, failed, problems, bool(problems))


def _span(limits: HealthSettings) -> str:
    return f"{limits.failure_window.total_seconds() / 3600:g} h"


def _aware(value: datetime | None) -> datetime | None:
    """An aggregate's datetime, in UTC like every column of ours."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


# --------------------------------------------------------------------- for Prometheus


def scrape(ctx: AppContext, token: str | None) -> bytes:
    """The text of ``GET /metrics`` for a scraper presenting ``token``: refused
    (:class:`NotAuthenticated`) without the ``metrics.token`` when one is set, and always in
    production when none is."""
    expected = ctx.settings.metrics.token
    if expected is None and ctx.settings.mode is Mode.production:
        raise NotAuthenticated("metrics.token is not set: in production /metrics answers nobody.")
    if expected is not None:
        given = (token or "").encode()
        if not hmac.compare_digest(given, expected.get_secret_value().encode()):
            raise NotAuthenticated("The metrics token is required (Authorization: Bearer …).")
    return metrics.exposition(metric_state(ctx))


def metric_state(ctx: AppContext) -> metrics.State:
    """The figures of the database that ``GET /metrics`` serves, every state counted (zeros
    too: a series that vanishes cannot be alerted on)."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        rows = list(session.scalars(select(Location).order_by(Location.name)))
        names = {row.id: row.name for row in rows}
        slugs = list(session.scalars(select(Workshop.slug).order_by(Workshop.slug)))
        seats = _counts(session, select(Seat.location_id, Seat.state, func.count()))
        registrations = _counts(
            session,
            select(Workshop.slug, Registration.state, func.count()).join(
                Workshop, Workshop.id == Registration.workshop_id
            ),
        )
        jobs = _counts(session, select(Job.location_id, Job.verb, Job.state, func.count()))
        emails = _counts(session, select(Email.state, func.count()))
        oldest_email = _aware(
            session.scalar(select(func.min(Email.created_at)).where(Email.state.in_(_WAITING)))
        )
        due = _jobs_by_location(session, now, now)
    return metrics.State(
        seats=[(names[i], s, seats.get((i, s), 0)) for i in names for s in SeatState],
        registrations=[
            (slug, s, registrations.get((slug, s), 0)) for slug in slugs for s in RegistrationState
        ],
        jobs=[
            (names[i], v, s, jobs.get((i, v, s), 0)) for i in names for v in Verb for s in JobState
        ],
        emails=[(s, emails.get((s,), 0)) for s in EmailState],
        outbox_oldest=_age(now, oldest_email),
        locations=[_location_state(row, due.get(row.id), now) for row in rows],
    )


Row = tuple[Any, ...]


def _counts(session: Session, query: Select[*Row]) -> dict[Row, int]:
    """``query``'s rows (keys…, count) grouped by their keys, as {keys: count}."""
    keys = query.selected_columns[:-1]
    return {tuple(row[:-1]): row[-1] for row in session.execute(query.group_by(*keys))}


def _location_state(row: Location, jobs: _Jobs | None, now: datetime) -> metrics.LocationState:
    last = row.last_contact_at
    return metrics.LocationState(
        name=row.name,
        enabled=row.enabled,
        silent=row.silent_since is not None,
        last_contact_age=None if last is None else _age(now, last),
        agent_version=row.agent_version,
        content_revision=row.content_revision,
        oldest_job_wait=_age(now, jobs.oldest_due if jobs else None),
    )


def _age(now: datetime, then: datetime | None) -> float:
    return 0.0 if then is None else max((now - then).total_seconds(), 0.0)
