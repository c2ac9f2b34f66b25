"""The backend agents' routes: claim a job, report on it (location bearer token)."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response
from sqlalchemy.exc import IntegrityError

from wod.api.deps import AgentLocation, Ctx
from wod.api.schemas import (
    AbuseIn,
    CheckIn,
    ExternalJobIn,
    JobOrder,
    JobReported,
    JobReportIn,
    LocationPublic,
)
from wod.errors import InvalidState
from wod.services.abuse import report_abuse
from wod.services.jobs import JobReport, claim_job, job_order, record_external_job
from wod.services.lifecycle import lease_duration
from wod.services.outbox import alert_admins
from wod.services.outcomes import report_job

router = APIRouter(prefix="/backend", tags=["backend"])


@router.post("/jobs/claim", response_model=JobOrder, responses={204: {"description": "No job"}})
def claim(ctx: Ctx, location: AgentLocation) -> JobOrder | Response:
    """Lease the next job of the caller's location; 204 when there is none."""
    with ctx.db.write() as session:
        job = claim_job(session, location, ctx.clock.now(), lease_duration(ctx))
        order = job_order(session, job) if job is not None else None
    if order is None:
        return Response(status_code=204)
    return JobOrder.model_validate(order)


@router.post("/jobs/{job_id}/report", response_model=JobReported)
def report(
    ctx: Ctx, location: AgentLocation, job_id: int, body: JobReportIn, request: Request
) -> JobReported:
    """Record the outcome of a job the caller ran."""
    outcome = JobReport(
        ok=body.ok,
        log=body.log,
        error=body.error,
        password=body.password,
        completion=body.completion,
    )
    with ctx.db.write() as session:
        job = report_job(ctx, session, location, job_id, outcome)
        answer = JobReported(id=job.id, state=job.state.value)
    request.app.state.wake()
    return answer


@router.post("/jobs/external", status_code=201, response_model=JobReported)
def external(ctx: Ctx, location: AgentLocation, body: ExternalJobIn) -> JobReported:
    """Record a verb the agent runs on an order it took itself (a mail order), so that its
    report goes through the same route as every job; it changes no registration."""
    try:
        with ctx.db.write() as session:
            job = record_external_job(
                session,
                location,
                body.verb,
                body.seat,
                body.workshop,
                body.source,
                ctx.clock.now(),
                lease_duration(ctx),
            )
            return JobReported(id=job.id, state=job.state.value)
    except IntegrityError as exc:  # a job already runs on that seat
        raise InvalidState(f"seat {body.seat} is busy with another job") from exc


@router.post("/seats/{number}/abuse", status_code=202, response_model=JobReported)
def abuse(
    ctx: Ctx, location: AgentLocation, number: int, body: AbuseIn, request: Request
) -> JobReported:
    """The agent killed a seat's processes for abuse: its registration ends, the seat is purged."""
    job = report_abuse(ctx, location, number, body.reason)
    request.app.state.wake()
    return JobReported(id=job.id, state=job.state.value)


@router.get("/location", response_model=LocationPublic)
def location_info(location: AgentLocation) -> LocationPublic:
    """The caller's location: its name, seat range and hub URLs."""
    return LocationPublic(
        name=location.name,
        seat_min=location.seat_min,
        seat_max=location.seat_max,
        hub_public_url=location.hub_public_url,
        hub_api_url=location.hub_api_url,
    )


def digest(problems: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(problems)).encode()).hexdigest()[:16]


@router.post("/check", status_code=204)
def check_report(ctx: Ctx, location: AgentLocation, body: CheckIn) -> Response:
    """The agent's daily conformity check: its problems reach the admins (once a day each)."""
    if body.problems:
        now = ctx.clock.now()
        with ctx.db.write() as session:
            alert_admins(
                session,
                ctx.settings.alerts.recipients,
                f"{len(body.problems)} problem(s) on the hub host of {location.name}",
                "wod backend check found:\n\n"
                + "\n".join(f"- {p}" for p in body.problems)
                + "\n\nRepair with `wod backend check --fix` on that host.",
                f"check:{location.id}:{now.date().isoformat()}:{digest(body.problems)}",
                now,
            )
    return Response(status_code=204)
