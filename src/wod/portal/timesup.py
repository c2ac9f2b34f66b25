"""The "Time's up" page (``/timesup/{id}/{token}``) a seat's lab shows in place of the dead
kernel once the seat ended: what was completed and the badge's outcome. Its token is derived
from the registration's manage nonce for this page alone (it acts on nothing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import HTMLResponse, Response

from wod.domain.wording import status_text
from wod.portal.page import not_found, render
from wod.services.registrations.lab import times_up
from wod.web.deps import Ctx, RowId

router = APIRouter(include_in_schema=False)


@router.get("/timesup/{registration_id}/{token}", response_class=HTMLResponse)
def timesup_page(
    request: Request,
    ctx: Ctx,
    registration_id: RowId,
    token: Annotated[str, Path(max_length=100)],
) -> Response:
    outcome = times_up(ctx, registration_id, token)
    if outcome is None:
        response = not_found(request, "timesup")
    else:
        response = render(
            request,
            "timesup.html",
            with_csrf=False,
            outcome=outcome,
            status_text=status_text(outcome.status),
        )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response
