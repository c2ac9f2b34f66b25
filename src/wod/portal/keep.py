"""The page of an idle warning's "Keep my seat" link (``/keep/{token}``).

GET shows what the link keeps and a button, and changes nothing: mail scanners and link
previews open links. The button's POST (with the form's CSRF token) keeps the seat. A link that
cannot keep anything says why on a page of its own, and changes nothing: 404 for a link of no
seat, 410 once the session is over (ended as idle, at its time, or otherwise).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from wod import i18n
from wod.errors import Refusal, SeatAlreadyFreed
from wod.i18n import _
from wod.portal.links import private, refused_page
from wod.portal.page import render
from wod.services.registrations import idle
from wod.web import csrf
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)


def _page(
    request: Request,
    state: idle.KeepState,
    token: str,
    *,
    kept: bool = False,
    status: int = 200,
    summary: str | None = None,
) -> Response:
    return render(
        request,
        "keep.html",
        status=status,
        with_csrf=not kept,
        state=state,
        token=token,
        kept=kept,
        summary=summary,
        freed_at=i18n.when(state.freed_at) if state.freed_at is not None else None,
        ends_at=i18n.when(state.ends_at) if state.ends_at is not None else None,
    )


def _refused(request: Request, refusal: Refusal) -> Response:
    return refused_page(request, "keep_refused.html", refusal, (SeatAlreadyFreed,))


@router.get("/keep/{token}", response_class=HTMLResponse)
def keep_page(request: Request, ctx: Ctx, token: str) -> Response:
    try:
        state = idle.keep_state(ctx, token)
    except Refusal as exc:
        return _refused(request, exc)
    return private(_page(request, state, token))


@router.post("/keep/{token}", response_class=HTMLResponse)
def keep_action(
    request: Request,
    ctx: Ctx,
    token: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        if not csrf.valid(request, csrf_token):
            summary = _("Your form expired; please click again.")
            return private(
                _page(request, idle.keep_state(ctx, token), token, status=403, summary=summary)
            )
        state = idle.keep_seat(ctx, token)
    except Refusal as exc:
        return _refused(request, exc)
    return private(_page(request, state, token, kept=True))
