"""Logging in to the console and out of it (``/admin/login``, ``/admin/logout``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from wod.admin.page import (
    LOGIN,
    PATH,
    SESSION_COOKIE,
    Admin,
    AdminRoute,
    Back,
    CsrfRefused,
    Text,
    is_secure,
    local_path,
    render,
)
from wod.errors import NotAuthenticated, RateLimited
from wod.services.admin import audit, sessions
from wod.web import csrf
from wod.web.deps import Ctx, client_address

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/login")
def login_page(request: Request, ctx: Ctx, next: Text = PATH) -> Response:
    if sessions.resolve_session(ctx, request.cookies.get(SESSION_COOKIE, "")) is not None:
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
    try:
        token = sessions.log_in(ctx, username, password, client_address(request))
    except RateLimited as exc:
        minutes = -(-exc.retry_after // 60)
        answer = refused(429, f"Too many logins from your address: try again in {minutes} min.")
        answer.headers["retry-after"] = str(exc.retry_after)
        return answer
    except NotAuthenticated as exc:
        audit.record_login(ctx, username, client_address(request), ok=False)
        return refused(401, exc.message)
    audit.record_login(ctx, username, client_address(request), ok=True)
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
    sessions.end_session(ctx, request.cookies.get(SESSION_COOKIE, ""))
    audit.record(ctx, audit.console_who(user, client_address(request)), audit.Action.logout)
    response = RedirectResponse(LOGIN, status_code=303)
    response.delete_cookie(SESSION_COOKIE, path=PATH)
    return response
