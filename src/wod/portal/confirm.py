"""The page of a confirmation link (``/confirm/{token}``, ``registration.confirm_email``).

GET shows what the link confirms and a button, and changes nothing: mail scanners and link
previews open links, and must not take a seat in someone's name. The button's POST (with the
form's CSRF token) confirms. A link that cannot confirm says why on a page of its own: 404 for
an unknown link, 410 for an expired or used one, 409 when every seat was taken meanwhile (the
registration is then cancelled) or when the address has a workshop running.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wod.errors import (
    AlreadyConfirmed,
    AlreadyRegistered,
    ConfirmationExpired,
    Refusal,
    WorkshopFull,
)
from wod.i18n import _
from wod.portal.links import ask_page, private, refused_page
from wod.portal.page import render
from wod.portal.workshop import others_with_seats
from wod.services import registrations
from wod.web import csrf
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)


def _ask(request: Request, ctx: Ctx, token: str, status: int = 200, **values: Any) -> Response:
    return ask_page(
        request,
        "confirm.html",
        lambda: registrations.confirmation_for_token(ctx, token),
        lambda refusal: _refused(request, refusal),
        token,
        status,
        **values,
    )


def _refused(request: Request, refusal: Refusal, slug: str | None = None) -> Response:
    """The page that says why the link did not confirm."""
    full = isinstance(refusal, WorkshopFull)
    return refused_page(
        request,
        "confirm_refused.html",
        refusal,
        (ConfirmationExpired, AlreadyConfirmed),
        expired=isinstance(refusal, ConfirmationExpired),
        others=others_with_seats(request, slug or "") if full else [],
        slug=slug,
    )


@router.get("/confirm/{token}", response_class=HTMLResponse)
def confirm_page(request: Request, ctx: Ctx, token: str) -> Response:
    return _ask(request, ctx, token)


@router.post("/confirm/{token}", response_class=HTMLResponse)
def confirm_action(
    request: Request,
    ctx: Ctx,
    token: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not csrf.valid(request, csrf_token):
        summary = _("Your form expired; please confirm again.")
        return _ask(request, ctx, token, 403, summary=summary)
    try:
        shown = registrations.confirmation_for_token(ctx, token)
    except Refusal as exc:
        return _refused(request, exc)
    try:
        registration = registrations.confirm_registration(ctx, token)
    except AlreadyRegistered:
        refusal = AlreadyRegistered(
            _(
                "This address already has a workshop running: one workshop at a time. We have "
                "emailed it the link to manage that registration; once it is over, open this "
                "confirmation link again."
            )
        )
        return _refused(request, refusal)
    except WorkshopFull as exc:
        return _refused(request, exc, shown.workshop)
    except Refusal as exc:
        return _refused(request, exc)
    page = render(
        request,
        "registered.html",
        with_csrf=False,
        registration=registration,
        slug=shown.workshop,
        confirmed=True,
    )
    return private(page)
