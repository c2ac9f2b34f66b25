"""A participant's own page (``/manage/{token}``, the personal link of the emails): status,
seat, time left, start link and password while running; end now and extend."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wod import i18n
from wod.domain.wording import status_text
from wod.errors import Refusal
from wod.i18n import _
from wod.portal.page import not_found, render
from wod.services import registrations
from wod.services.registrations.unlock import start_link_for_token
from wod.web import csrf
from wod.web.deps import Ctx
from wod.web.problems import status_of

router = APIRouter(include_in_schema=False)
ACTIONS = ("end", "extend")


def _manage_page(
    request: Request, ctx: Ctx, token: str, status: int = 200, **values: Any
) -> Response:
    current = registrations.status_for_token(ctx, token)
    if current is None:
        response = not_found(request, "manage")
    else:
        response = render(
            request,
            "manage.html",
            status=status,
            reg=current,
            token=token,
            now=ctx.clock.now(),
            status_text=status_text(current.status),
            ends_at=i18n.when(current.ends_at) if current.ends_at else "",
            **values,
        )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, ctx: Ctx, token: str) -> Response:
    return _manage_page(request, ctx, token)


@router.get("/manage/{token}/start")
def start(request: Request, ctx: Ctx, token: str) -> Response:
    """The start button: a fresh one-time start link of the seat, which logs in without the
    password and lifts a login lockout of the participant's own seat."""
    url = start_link_for_token(ctx, token)
    response = not_found(request, "manage") if url is None else RedirectResponse(url, 303)
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.post("/manage/{token}/{action}", response_class=HTMLResponse)
def manage_action(
    request: Request,
    ctx: Ctx,
    token: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    registration_id = registrations.registration_id_for_token(ctx, token)
    if registration_id is None or action not in ACTIONS:
        return not_found(request, "manage")
    if not csrf.valid(request, csrf_token):
        message = _("Your form expired; please try again.")
        return _manage_page(request, ctx, token, 403, message=message, failed=True)
    if action == "end" and confirm != "yes":
        message = _("Tick the box to confirm that you want to end now.")
        return _manage_page(request, ctx, token, 422, message=message, failed=True)
    try:
        if action == "end":
            registrations.end_now(ctx, registration_id, by_admin=False)
            message = _(
                "Your workshop is ending: the seat is being cleaned, the final email follows."
            )
        else:
            registrations.extend(ctx, registration_id)
            message = _("Extended: you have more time.")
    except Refusal as exc:
        return _manage_page(request, ctx, token, status_of(exc), message=exc.message, failed=True)
    return _manage_page(request, ctx, token, message=message)
