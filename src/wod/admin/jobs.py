"""The console's jobs (``/admin/jobs``): the list, one job with its log, and the retry of a job
that left its seat broken."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin.audit import Action, audited
from wod.admin.page import (
    PATH,
    Actor,
    Admin,
    AdminRoute,
    Back,
    PageNumber,
    Text,
    act,
    enum_or_none,
    render,
    render_list,
)
from wod.domain.states import JobState, Verb
from wod.services import provisioning
from wod.services.admin import details, lists
from wod.web.deps import Ctx, RowId

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/jobs")
def job_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    state: Text = "",
    verb: Text = "",
    location: Text = "",
    page: PageNumber = 1,
) -> Response:
    found = lists.jobs(
        ctx, enum_or_none(JobState, state), enum_or_none(Verb, verb), location or None, page
    )
    return render_list(
        request,
        ctx,
        user,
        "jobs",
        JobState,
        page=found,
        filters={"state": state, "verb": verb, "location": location},
        verbs=[v.value for v in Verb],
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, ctx: Ctx, user: Admin, job_id: RowId) -> Response:
    detail = details.job_detail(ctx, job_id)
    return render(request, ctx, "job.html", user, nav="jobs", detail=detail)


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, ctx: Ctx, user: Actor, job_id: RowId, back: Back = "") -> Response:
    @audited(ctx, request, user, Action.job_retry, f"job {job_id}")
    def again() -> str:
        job = provisioning.retry_job(ctx, job_id)
        return f"Job {job_id} retried as job {job.id} ({job.verb.value})."

    return act(ctx, back, "/admin/jobs", again)
