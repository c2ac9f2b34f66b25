"""The backend agents' routes: claim a job, report on it (location bearer token)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import FileResponse

from wod.services import content, provisioning, registrations
from wod.services.admin.checks import report_check
from wod.services.registrations.leases import keep_alive
from wod.web.deps import AgentLocation, Ctx, RowId
from wod.wire import (
    AbuseIn,
    CheckIn,
    ExternalJobIn,
    HeartbeatIn,
    HeartbeatOut,
    JobOrder,
    JobReport,
    JobReported,
    LocationPublic,
)

router = APIRouter(prefix="/backend", tags=["backend"])


@router.post("/jobs/claim", response_model=JobOrder, responses={204: {"description": "No job"}})
def claim(ctx: Ctx, location: AgentLocation) -> JobOrder | Response:
    """Lease the next job of the caller's location; 204 when there is none."""
    order = provisioning.claim(ctx, location)
    return order if order is not None else Response(status_code=204)


@router.post("/jobs/{job_id}/report", response_model=JobReported)
def report(ctx: Ctx, location: AgentLocation, job_id: RowId, body: JobReport) -> JobReported:
    """Record the outcome of a job the caller ran."""
    job = registrations.report_job(ctx, location, job_id, body)
    return JobReported(id=job.id, state=job.state.value)


@router.post("/jobs/external", status_code=201, response_model=JobReported)
def external(ctx: Ctx, location: AgentLocation, body: ExternalJobIn) -> JobReported:
    """Record a verb the agent runs on an order it took itself (a mail order), so that its
    report goes through the same route as every job; it changes no registration."""
    job = provisioning.record_external_job(ctx, location, body)
    return JobReported(id=job.id, state=job.state.value)


@router.post("/seats/{number}/abuse", status_code=202, response_model=JobReported)
def abuse(ctx: Ctx, location: AgentLocation, number: RowId, body: AbuseIn) -> JobReported:
    """The agent killed a seat's processes for abuse: its registration ends, the seat is purged."""
    job = registrations.report_abuse(ctx, location, number, body.reason)
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


@router.post("/check", status_code=204)
def check_report(ctx: Ctx, location: AgentLocation, body: CheckIn) -> Response:
    """The agent's daily conformity check: its problems reach the admins (once a day each)."""
    report_check(ctx, location, body.problems)
    return Response(status_code=204)


@router.post("/heartbeat", response_model=HeartbeatOut)
def heartbeat(ctx: Ctx, location: AgentLocation, body: HeartbeatIn) -> HeartbeatOut:
    """The agent is alive, runs these jobs (their leases are renewed; after a restart, the
    location's other running jobs are given again) and holds these content revisions; the
    revision in service and the bundles of the location's workshops in it."""
    keep_alive(ctx, location, body.running, body.boot)
    return content.heartbeat(ctx, location, body)


@router.get(
    "/content/{revision}/{folder}",
    response_class=FileResponse,
    responses={200: {"content": {"application/gzip": {}}}, 404: {"description": "No such"}},
)
def bundle(ctx: Ctx, location: AgentLocation, revision: str, folder: str) -> FileResponse:
    """The bundle of workshop ``folder`` in content ``revision`` (its digest in
    ``X-Wod-Bundle-Digest``, as the job order names it)."""
    found = content.bundle_of(ctx, revision, folder)
    return FileResponse(
        found.path,
        media_type="application/gzip",
        headers={"X-Wod-Bundle-Digest": found.digest, "Cache-Control": "no-store"},
    )
