"""The backend agents' routes: claim a job, report on it (location bearer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from fastapi.responses import FileResponse

from wod.services import content, provisioning, registrations
from wod.services.admin.checks import report_check
from wod.services.admin.containment import report_containment
from wod.services.registrations.idle import record_activity
from wod.services.registrations.leases import keep_alive
from wod.web.deps import AgentLocation, Ctx, RowId
from wod.web.problems import problem_responses
from wod.wire import (
    AbuseIn,
    ActivityIn,
    ActivityRecorded,
    CheckIn,
    ContainedIn,
    ExternalJobIn,
    HeartbeatIn,
    HeartbeatOut,
    JobOrder,
    JobReport,
    JobReported,
    LocationPublic,
)

router = APIRouter(prefix="/backend", tags=["backend"])

_NO_SEAT = "`not_found`: no such seat at the caller's location."
_WITH_BODY = (400, 401, 408, 413, 422)
#: A revision is named by the sha256 of its layers (``wod.services.content.revisions``).
Revision = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]


@router.post(
    "/jobs/claim",
    response_model=JobOrder,
    responses={204: {"description": "No job"}, **problem_responses(401)},
)
def claim(ctx: Ctx, location: AgentLocation) -> JobOrder | Response:
    """Lease the next job of the caller's location; 204 when there is none."""
    order = provisioning.claim(ctx, location)
    return order if order is not None else Response(status_code=204)


@router.post(
    "/jobs/{job_id}/report",
    response_model=JobReported,
    responses=problem_responses(
        *_WITH_BODY,
        404,
        meaning={
            404: "`not_found`: no such job at the caller's location.",
            422: "`invalid_input`: a malformed body, or a CREATE reported `ok` without a "
            "`password`.",
        },
    ),
)
def report(ctx: Ctx, location: AgentLocation, job_id: RowId, body: JobReport) -> JobReported:
    """Record the outcome of a job the caller ran. A late report (the attempt's lease ran out,
    or the job was reported already) is answered 200 too: it completes a job that waits for its
    retry, or is kept in the job's log."""
    job = registrations.report_job(ctx, location, job_id, _storable(body))
    return JobReported(id=job.id, state=job.state.value)


def _storable(report: JobReport) -> JobReport:
    """The report with the NUL characters of its log and error as U+FFFD: a program's output
    may hold them and PostgreSQL's text cannot, and a report refused is an outcome lost."""
    error = report.error
    if "\x00" not in report.log and (error is None or "\x00" not in error):
        return report
    return report.model_copy(
        update={
            "log": report.log.replace("\x00", "\ufffd"),
            "error": error.replace("\x00", "\ufffd") if error is not None else None,
        }
    )


@router.post(
    "/jobs/external",
    status_code=201,
    response_model=JobReported,
    responses=problem_responses(
        *_WITH_BODY,
        404,
        409,
        meaning={404: _NO_SEAT, 409: "`invalid_state`: the seat has a running job."},
    ),
)
def external(ctx: Ctx, location: AgentLocation, body: ExternalJobIn) -> JobReported:
    """Record a verb the agent runs on an order it took itself (a mail order), so that its
    report goes through the same route as every job; it changes no registration."""
    job = provisioning.record_external_job(ctx, location, body)
    return JobReported(id=job.id, state=job.state.value)


@router.post(
    "/seats/{number}/abuse",
    status_code=202,
    response_model=JobReported,
    responses=problem_responses(*_WITH_BODY, 404, meaning={404: _NO_SEAT}),
)
def abuse(ctx: Ctx, location: AgentLocation, number: RowId, body: AbuseIn) -> JobReported:
    """The agent killed a seat's processes for abuse: its registration ends, the seat is purged."""
    job = registrations.report_abuse(ctx, location, number, body.reason)
    return JobReported(id=job.id, state=job.state.value)


@router.post(
    "/seats/{number}/contained",
    status_code=204,
    responses=problem_responses(*_WITH_BODY, 404, meaning={404: _NO_SEAT}),
)
def contained(ctx: Ctx, location: AgentLocation, number: RowId, body: ContainedIn) -> Response:
    """A seat's limits contained something (systemd mode): the admins are told; the seat and
    its registration go on."""
    report_containment(ctx, location, number, body.events)
    return Response(status_code=204)


@router.get("/location", response_model=LocationPublic, responses=problem_responses(401))
def location_info(location: AgentLocation) -> LocationPublic:
    """The caller's location: its name, seat range and hub URLs."""
    return LocationPublic(
        name=location.name,
        seat_min=location.seat_min,
        seat_max=location.seat_max,
        hub_public_url=location.hub_public_url,
        hub_api_url=location.hub_api_url,
    )


@router.post("/check", status_code=204, responses=problem_responses(*_WITH_BODY))
def check_report(ctx: Ctx, location: AgentLocation, body: CheckIn) -> Response:
    """The agent's daily conformity check: its problems reach the admins (once a day each)."""
    report_check(ctx, location, body.problems)
    return Response(status_code=204)


@router.post("/heartbeat", response_model=HeartbeatOut, responses=problem_responses(*_WITH_BODY))
def heartbeat(ctx: Ctx, location: AgentLocation, body: HeartbeatIn) -> HeartbeatOut:
    """The agent is alive, runs these jobs (their leases are renewed; after a restart, the
    location's other running jobs are given again) and holds these content revisions; the
    revision in service and the bundles of the location's workshops in it."""
    keep_alive(ctx, location, body.running, body.boot)
    return content.heartbeat(ctx, location, body)


@router.post(
    "/activity",
    response_model=ActivityRecorded,
    responses=problem_responses(
        *_WITH_BODY,
        404,
        meaning={404: "`not_found`: a seat reported is not one of the caller's location's."},
    ),
)
def activity(ctx: Ctx, location: AgentLocation, body: ActivityIn) -> ActivityRecorded:
    """The last activity the agent read from its hub for the seats of its location: an idle
    seat is warned, then given back (`idle_timeout`); activity after a warning cancels it. A
    report naming a seat of another location is refused whole."""
    return ActivityRecorded(recorded=record_activity(ctx, location, body))


@router.get(
    "/content/{revision}/{folder}",
    response_class=FileResponse,
    responses={
        200: {"content": {"application/gzip": {}}},
        **problem_responses(
            401,
            404,
            422,
            meaning={
                404: "`content_not_found`: the api holds no such revision, or the revision no "
                "such workshop.",
                422: "`invalid_input`: `revision` is not a sha256 (64 hexadecimal digits).",
            },
        ),
    },
)
def bundle(ctx: Ctx, location: AgentLocation, revision: Revision, folder: str) -> FileResponse:
    """The bundle of workshop ``folder`` in content ``revision`` (its digest in
    ``X-Wod-Bundle-Digest``, as the job order names it)."""
    found = content.bundle_of(ctx, revision, folder)
    return FileResponse(
        found.path,
        media_type="application/gzip",
        headers={"X-Wod-Bundle-Digest": found.digest, "Cache-Control": "no-store"},
    )
