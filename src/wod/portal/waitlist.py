"""A full workshop's waiting list on the portal: the form's answer
(``POST /workshops/{slug}/waitlist``, the form is on the workshop's page) and the page of an
offer's claim link (``/waitlist/claim/{token}``).

As for a confirmation link, GET shows what the link claims and a button, and changes nothing
(mail scanners open links); the button's POST (with the form's CSRF token) claims. A link that
cannot claim says why on a page of its own: 404 unknown, 410 expired or used, 409 when the
address has a workshop running or no seat could be reserved.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wod.errors import AlreadyClaimed, AlreadyRegistered, ClaimExpired, Refusal
from wod.i18n import _
from wod.portal.links import ask_page, private, refused_page
from wod.portal.page import render
from wod.portal.workshop import ParticipantForm, refused
from wod.services.registrations import claim, waitlist
from wod.web import csrf
from wod.web.deps import Ctx, client_address

router = APIRouter(include_in_schema=False)


@router.post("/workshops/{slug}/waitlist", response_class=HTMLResponse)
def join_form(
    request: Request, ctx: Ctx, slug: str, form: Annotated[ParticipantForm, Form()]
) -> Response:
    stale = form.stale(request, ctx, slug)
    if stale is not None:
        return stale
    asked = form.asked(slug)
    try:
        place = waitlist.join_waitlist(ctx, asked, client=client_address(request))
    except Refusal as exc:
        return refused(request, ctx, slug, form.shown(), exc)
    return render(request, "waitlisted.html", with_csrf=False, place=place, email=asked.email)


def _ask(request: Request, ctx: Ctx, token: str, status: int = 200, **values: Any) -> Response:
    return ask_page(
        request,
        "claim.html",
        lambda: claim.offer_for_token(ctx, token),
        lambda refusal: _refused(request, refusal),
        token,
        status,
        **values,
    )


def _refused(request: Request, refusal: Refusal, slug: str | None = None) -> Response:
    """The page that says why the link did not claim a seat."""
    return refused_page(
        request, "claim_refused.html", refusal, (ClaimExpired, AlreadyClaimed), slug=slug
    )


@router.get("/waitlist/claim/{token}", response_class=HTMLResponse)
def claim_page(request: Request, ctx: Ctx, token: str) -> Response:
    return _ask(request, ctx, token)


@router.post("/waitlist/claim/{token}", response_class=HTMLResponse)
def claim_action(
    request: Request,
    ctx: Ctx,
    token: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    if not csrf.valid(request, csrf_token):
        summary = _("Your form expired; please claim again.")
        return _ask(request, ctx, token, 403, summary=summary)
    try:
        shown = claim.offer_for_token(ctx, token)
        registration = claim.claim_offer(ctx, token)
    except AlreadyRegistered:
        refusal = AlreadyRegistered(
            _(
                "This address already has a workshop running: one workshop at a time. Once it "
                "is over, open this link again: the seat stays held for you until the link "
                "expires."
            )
        )
        return _refused(request, refusal)
    except Refusal as exc:
        return _refused(request, exc)
    page = render(
        request, "registered.html", with_csrf=False, registration=registration, slug=shown.workshop
    )
    return private(page)
