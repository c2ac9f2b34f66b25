"""What every page of the admin console shares: who is logged in, CSRF, flash messages,
rendering, an action's round trip, and the answers to anonymous, forbidden or malformed
requests.

A request without a valid session is sent to the login page when it reads (GET, 303 with a
``next`` that is always a local ``/admin`` path) and refused when it acts (POST, 403, nothing
done). An action needs a session, a valid CSRF token (the portal's double-submit cookie) and
the admin role, checked in that order before the action's own arguments are even read.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Coroutine
from datetime import datetime
from enum import StrEnum
from importlib.resources import files
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Depends, Form, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from wod.context import AppContext
from wod.errors import ContentError, Forbidden, NotFound, Refusal
from wod.services.admin import lists
from wod.services.admin.sessions import AdminIdentity, resolve_session
from wod.web import csrf
from wod.web.deps import Ctx
from wod.web.state import web_state

SESSION_COOKIE = "wod_admin"
FLASH_COOKIE = "wod_admin_flash"
PATH = "/admin"
LOGIN = "/admin/login"
_LOCAL = re.compile(r"/admin(/[A-Za-z0-9._~/-]*)?(\?[A-Za-z0-9._~=&%+-]*)?")
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=str(files("wod.admin") / "templates"))
E = TypeVar("E", bound=StrEnum)
PageNumber = Annotated[int, Query(ge=1, le=1_000_000)]
Text = Annotated[str, Query(max_length=200)]
Back = Annotated[str, Form(max_length=500)]
#: ``yes`` once the admin confirmed an irreversible action (:func:`confirmation`).
Confirmed = Annotated[str, Form(max_length=10)]


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"


def _ident(value: object) -> str:
    """A value as a fragment of an element id."""
    return re.sub(r"[^A-Za-z0-9_-]", "-", str(value))


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "…"


def with_page(filters: dict[str, str], number: int) -> str:
    """The query string of a list's page ``number`` with its filters."""
    return urlencode({k: v for k, v in filters.items() if v} | {"page": number})


templates.env.filters.update(
    when=_when, ident=_ident, show=_show, path_part=lambda v: quote(str(v), safe="")
)
templates.env.globals["with_page"] = with_page


class LoginRequired(Exception):
    """No valid admin session came with the request."""


class CsrfRefused(Exception):
    """The form's CSRF token is missing or does not match the cookie."""


def local_path(value: str | None, default: str = PATH) -> str:
    """``value`` if it is a path inside the console (never another site, never the login or
    logout page), else ``default``."""
    if not value or "//" in value or not _LOCAL.fullmatch(value):
        return default
    if any(part in (".", "..") for part in value.partition("?")[0].split("/")):
        return default
    if value.startswith((LOGIN, "/admin/logout")):
        return default
    return value


def is_secure(ctx: AppContext) -> bool:
    return ctx.settings.api.public_url.startswith("https")


# --------------------------------------------------------------------- who is asking


def current_admin(request: Request, ctx: Ctx) -> AdminIdentity:
    """The logged-in user, or :class:`LoginRequired`."""
    identity = resolve_session(ctx, request.cookies.get(SESSION_COOKIE, ""))
    if identity is None:
        raise LoginRequired()
    return identity


Admin = Annotated[AdminIdentity, Depends(current_admin)]


def acting_admin(
    request: Request, user: Admin, csrf_token: Annotated[str, Form(max_length=200)] = ""
) -> AdminIdentity:
    """The logged-in user, allowed to act on this form: CSRF token valid, role admin."""
    if not csrf.valid(request, csrf_token):
        raise CsrfRefused()
    if not user.can_act:
        raise Forbidden("Your role (viewer) lets you look, not act.")
    return user


Actor = Annotated[AdminIdentity, Depends(acting_admin)]


# --------------------------------------------------------------------- answers


def render(
    request: Request,
    ctx: AppContext,
    name: str,
    user: AdminIdentity | None,
    *,
    status: int = 200,
    **values: Any,
) -> Response:
    """A page of the console, with a CSRF token for its forms and the pending flash."""
    token = csrf.token_for(request)
    flash = read_flash(request)
    response = templates.TemplateResponse(
        request,
        name,
        {"user": user, "csrf_token": token, "flash": flash, "branding": ctx.settings.branding}
        | values,
        status_code=status,
    )
    csrf.set_cookie(response, token, secure=is_secure(ctx))
    if flash is not None:
        response.delete_cookie(FLASH_COOKIE, path=PATH)
    return response


def render_list(
    request: Request,
    ctx: AppContext,
    user: AdminIdentity,
    name: str,
    states: type[StrEnum],
    **values: Any,
) -> Response:
    """A list page of the console (template ``<name>.html``): its rows' ``page``, the
    ``filters`` as asked, the states and the other values its filters offer."""
    return render(
        request,
        ctx,
        f"{name}.html",
        user,
        nav=name,
        states=[s.value for s in states],
        choices=lists.choices(ctx),
        **values,
    )


def redirect(ctx: AppContext, target: str, message: str, *, error: bool = False) -> Response:
    """Back to a page (303), which shows ``message`` once."""
    response = RedirectResponse(target, status_code=303)
    payload = json.dumps({"error": error, "text": message[:600]}).encode()
    response.set_cookie(
        FLASH_COOKIE,
        base64.urlsafe_b64encode(payload).decode(),
        max_age=300,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(ctx),
    )
    return response


def read_flash(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except (ValueError, binascii.Error):
        return None
    if not isinstance(value, dict) or not isinstance(value.get("text"), str):
        return None
    return {"error": bool(value.get("error")), "text": value["text"]}


def enum_or_none(cls: type[E], value: str | None) -> E | None:
    """A filter's value, or None for "any" (empty or unknown)."""
    try:
        return cls(value) if value else None
    except ValueError:
        return None


def act(ctx: AppContext, back: str, default: str, action: Callable[[], str]) -> Response:
    """Run an action, then back to the list it came from with what happened (or why not)."""
    target = local_path(back, default)
    try:
        message = action()
    except Refusal as exc:
        return redirect(ctx, target, exc.message, error=True)
    except ContentError as exc:
        return redirect(ctx, target, f"Nothing imported: {exc.message}", error=True)
    return redirect(ctx, target, message)


def confirmation(
    request: Request,
    ctx: AppContext,
    user: AdminIdentity,
    *,
    url: str,
    back: str,
    default: str,
    label: str,
    question: str,
) -> Response:
    """The step before an irreversible action, when its form did not say ``confirmed=yes``
    (no script, or a request of its own): the question, a danger button that posts the same
    action again confirmed (with a fresh CSRF token), and a way back. Nothing is done."""
    return render(
        request,
        ctx,
        "confirm.html",
        user,
        url=url,
        back=local_path(back, default),
        label=label,
        question=question,
    )


def refusal_page(request: Request, status: int, title: str, text: str) -> Response:
    ctx = web_state(request).ctx
    return render(request, ctx, "refused.html", None, status=status, title=title, text=text)


class AdminRoute(APIRoute):
    """A route of the console: turns the edge's refusals into pages, and adds the security
    headers to every answer."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                response = await handler(request)
            except LoginRequired:
                response = _login_required(request)
            except CsrfRefused:
                response = refusal_page(
                    request,
                    403,
                    "Form expired",
                    "This form's security token is missing or out of date: nothing was done. "
                    "Go back, reload the page and try again.",
                )
            except Forbidden as exc:
                response = refusal_page(request, 403, "Not allowed", exc.message)
            except NotFound as exc:
                response = refusal_page(request, 404, "Not found", exc.message)
            except RequestValidationError:
                response = refusal_page(
                    request, 422, "Invalid request", "Some values of this request are not valid."
                )
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return route


def _login_required(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(
            f"{LOGIN}?next={quote(local_path(here), safe='/')}", status_code=303
        )
    return refusal_page(
        request,
        403,
        "Log in first",
        "You are not logged in (or your session ended): nothing was done. Log in, then try again.",
    )
