"""The admin console's pages (``/admin``): log in, the dashboard, registrations, seats, jobs,
emails and workshops, each list with its filters and its actions. Server-rendered, working
without JavaScript (the dashboard's charts are drawn by a script over the data tables)."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from importlib.resources import files
from pathlib import Path
from typing import Annotated, TypeVar

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from wod.admin import charts
from wod.admin.web import (
    LOGIN,
    PATH,
    SESSION_COOKIE,
    Actor,
    Admin,
    AdminRoute,
    CsrfRefused,
    is_secure,
    local_path,
    redirect,
    render,
)
from wod.api.deps import Ctx, client_address
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState, Verb
from wod.errors import ContentError, NotAuthenticated, RateLimited, Refusal
from wod.portal import csrf
from wod.services import admins, console, importer, manage, ratelimit, retry, seats
from wod.services.erasure import purge_registration
from wod.services.stats import dashboard as dashboard_figures

router = APIRouter(prefix="/admin", include_in_schema=False, route_class=AdminRoute)
STATIC = files("wod.admin") / "static"
E = TypeVar("E", bound=StrEnum)
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
Text = Annotated[str, Query(max_length=200)]
Back = Annotated[str, Form(max_length=500)]


def _enum(cls: type[E], value: str | None) -> E | None:
    """A filter's value, or None for "any" (empty or unknown)."""
    try:
        return cls(value) if value else None
    except ValueError:
        return None


def _act(
    request: Request, ctx: Ctx, back: str, default: str, action: Callable[[], str]
) -> Response:
    """Run an action, then back to the list it came from with what happened (or why not)."""
    target = local_path(back, default)
    try:
        message = action()
    except Refusal as exc:
        return redirect(ctx, target, exc.message, error=True)
    except ContentError as exc:
        return redirect(ctx, target, f"Nothing imported: {exc.message}", error=True)
    request.app.state.wake()
    return redirect(ctx, target, message)


# --------------------------------------------------------------------- static files


@router.get("/static/{name:path}")
def static(name: str) -> Response:
    """The console's own style sheet and scripts (Chart.js is vendored: no CDN)."""
    root = Path(str(STATIC)).resolve()
    path = (root / name).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    return FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


# --------------------------------------------------------------------- login, logout


@router.get("/login")
def login_page(request: Request, ctx: Ctx, next: Text = PATH) -> Response:
    if admins.resolve_session(ctx, request.cookies.get(SESSION_COOKIE, "")) is not None:
        return RedirectResponse(local_path(next), status_code=303)
    return render(request, ctx, "login.html", None, next=local_path(next))


@router.post("/login")
def login(
    request: Request,
    ctx: Ctx,
    username: Annotated[str, Form(max_length=200)] = "",
    password: Annotated[str, Form(max_length=2000)] = "",
    next: Back = PATH,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    target = local_path(next)

    def refused(status: int, message: str) -> Response:
        return render(
            request,
            ctx,
            "login.html",
            None,
            status=status,
            next=target,
            error=message,
            username=username,
        )

    if not csrf.valid(request, csrf_token):
        return refused(403, "This form expired: log in again.")
    limits = ctx.settings.admin
    try:
        address = f"admin-login:{client_address(request)}"
        ratelimit.hit(ctx, address, limits.login_attempts_per_address, limits.login_window)
    except RateLimited as exc:
        minutes = -(-exc.retry_after // 60)
        answer = refused(429, f"Too many logins from your address: try again in {minutes} min.")
        answer.headers["retry-after"] = str(exc.retry_after)
        return answer
    try:
        user = admins.authenticate(ctx, username, password)
    except NotAuthenticated as exc:
        return refused(401, exc.message)
    token = admins.create_session(ctx, user)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(ctx.settings.admin.session_lifetime.total_seconds()),
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(ctx),
    )
    return response


@router.post("/logout")
def logout(
    request: Request, ctx: Ctx, user: Admin, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> Response:
    """Ends the session on the server (its cookie stops working everywhere)."""
    if not csrf.valid(request, csrf_token):
        raise CsrfRefused()
    admins.end_session(ctx, request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PATH)
    return response


# --------------------------------------------------------------------- dashboard


@router.get("")
def dashboard(request: Request, ctx: Ctx, user: Admin, days: int | None = None) -> Response:
    span = charts.chosen_range(days)
    now = ctx.clock.now()
    with ctx.db.read() as session:
        figures = dashboard_figures(session, now, span)
    board = charts.build(figures, now, span)
    return render(
        request,
        ctx,
        "dashboard.html",
        user,
        nav="dashboard",
        board=board,
        ranges=charts.RANGES,
        chart_data=[c.to_json() for c in board.charts],
    )


# --------------------------------------------------------------------- registrations


@router.get("/registrations")
def registrations(
    request: Request,
    ctx: Ctx,
    user: Admin,
    workshop: Text = "",
    state: Text = "",
    location: Text = "",
    q: Text = "",
    page: PageNumber = 1,
) -> Response:
    where = console.RegistrationFilter(
        workshop or None, _enum(RegistrationState, state), location or None, q or None
    )
    return render(
        request,
        ctx,
        "registrations.html",
        user,
        nav="registrations",
        page=console.registrations(ctx, where, page),
        filters={"workshop": workshop, "state": state, "location": location, "q": q},
        states=[s.value for s in RegistrationState],
        choices=console.choices(ctx),
    )


@router.post("/registrations/{registration_id}/end")
def end_registration(
    request: Request, ctx: Ctx, user: Actor, registration_id: int, back: Back = ""
) -> Response:
    def end() -> str:
        manage.end_now(ctx, registration_id, by_admin=True)
        return f"Registration {registration_id} is ending: its seat is being cleaned."

    return _act(request, ctx, back, "/admin/registrations", end)


@router.post("/registrations/{registration_id}/extend")
def extend_registration(
    request: Request, ctx: Ctx, user: Actor, registration_id: int, back: Back = ""
) -> Response:
    def extend() -> str:
        status = manage.extend(ctx, registration_id)
        ends = status.ends_at.strftime("%Y-%m-%d %H:%M UTC") if status.ends_at else "?"
        return f"Registration {registration_id} extended: it now ends at {ends}."

    return _act(request, ctx, back, "/admin/registrations", extend)


@router.post("/registrations/{registration_id}/purge")
def purge_registration_action(
    request: Request, ctx: Ctx, user: Actor, registration_id: int, back: Back = ""
) -> Response:
    return _act(
        request,
        ctx,
        back,
        "/admin/registrations",
        lambda: purge_registration(ctx, registration_id).describe(),
    )


# --------------------------------------------------------------------- seats


@router.get("/seats")
def seat_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    location: Text = "",
    state: Text = "",
    page: PageNumber = 1,
) -> Response:
    return render(
        request,
        ctx,
        "seats.html",
        user,
        nav="seats",
        page=console.seats(ctx, location or None, _enum(SeatState, state), page),
        filters={"location": location, "state": state},
        states=[s.value for s in SeatState],
        choices=console.choices(ctx),
    )


@router.post("/seats/{location}/{number}/purge")
def purge_seat(
    request: Request, ctx: Ctx, user: Actor, location: str, number: int, back: Back = ""
) -> Response:
    def purge() -> str:
        job = seats.purge(ctx, location, number)
        return f"Seat {number} at {location}: PURGE queued as job {job.id}."

    return _act(request, ctx, back, "/admin/seats", purge)


# --------------------------------------------------------------------- jobs


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
    found = console.jobs(ctx, _enum(JobState, state), _enum(Verb, verb), location or None, page)
    return render(
        request,
        ctx,
        "jobs.html",
        user,
        nav="jobs",
        page=found,
        filters={"state": state, "verb": verb, "location": location},
        states=[s.value for s in JobState],
        verbs=[v.value for v in Verb],
        choices=console.choices(ctx),
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, ctx: Ctx, user: Admin, job_id: int) -> Response:
    return render(
        request, ctx, "job.html", user, nav="jobs", detail=console.job_detail(ctx, job_id)
    )


@router.post("/jobs/{job_id}/retry")
def retry_job(request: Request, ctx: Ctx, user: Actor, job_id: int, back: Back = "") -> Response:
    def again() -> str:
        job = retry.retry_job(ctx, job_id)
        return f"Job {job_id} retried as job {job.id} ({job.verb.value})."

    return _act(request, ctx, back, "/admin/jobs", again)


# --------------------------------------------------------------------- emails


@router.get("/emails")
def email_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    state: Text = "",
    kind: Text = "",
    recipient: Text = "",
    page: PageNumber = 1,
) -> Response:
    found = console.emails(ctx, _enum(EmailState, state), kind or None, recipient or None, page)
    return render(
        request,
        ctx,
        "emails.html",
        user,
        nav="emails",
        page=found,
        filters={"state": state, "kind": kind, "recipient": recipient},
        states=[s.value for s in EmailState],
        choices=console.choices(ctx),
    )


@router.get("/emails/{email_id}")
def email_page(request: Request, ctx: Ctx, user: Admin, email_id: int) -> Response:
    detail = console.email_detail(ctx, email_id)
    return render(request, ctx, "email.html", user, nav="emails", detail=detail)


@router.post("/emails/{email_id}/resend")
def resend_email(
    request: Request, ctx: Ctx, user: Actor, email_id: int, back: Back = ""
) -> Response:
    def resend() -> str:
        email = retry.resend_email(ctx, email_id)
        return f"Email {email_id} ({email.kind}) will be sent again."

    return _act(request, ctx, back, "/admin/emails", resend)


# --------------------------------------------------------------------- workshops


@router.get("/workshops")
def workshop_list(request: Request, ctx: Ctx, user: Admin) -> Response:
    rows = console.workshops(ctx)
    return render(request, ctx, "workshops.html", user, nav="workshops", rows=rows)


@router.get("/workshops/import")
def import_page(request: Request, ctx: Ctx, user: Admin) -> Response:
    try:
        plan, digest = importer.preview_import(ctx)
    except ContentError as exc:
        return render(
            request, ctx, "import.html", user, nav="workshops", plan=None, problems=exc.problems
        )
    return render(
        request,
        ctx,
        "import.html",
        user,
        nav="workshops",
        plan=plan,
        digest=digest,
        problems=plan.problems,
    )


@router.post("/workshops/import")
def import_apply(
    request: Request,
    ctx: Ctx,
    user: Actor,
    plan: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    """Applies exactly the plan that was shown (its digest), or sends back to the new plan."""
    try:
        applied = importer.apply_previewed(ctx, plan)
    except (Refusal, ContentError) as exc:
        return redirect(ctx, "/admin/workshops/import", exc.message, error=True)
    changed = [w for w in applied.workshops if w.action in importer.CHANGING]
    message = f"Imported: {len(changed)} workshop(s) changed."
    return redirect(ctx, "/admin/workshops", message)
