"""The live status page after registering (``/status/{token}``, Post/Redirect/Get from the
registration form): waiting, then ready with a start button. Without JavaScript it refreshes
itself while it waits (and has a reload link); with it, it polls ``/status/{token}/state``, a
small JSON answer, and reloads once the state changed. Reloading it never registers again."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from wod import i18n
from wod.domain.wording import status_text
from wod.portal.page import not_found, render
from wod.services.registrations.progress import progress_for_token
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)
#: Seconds between two refreshes of the page without JavaScript while it waits.
REFRESH = 3


def _private(response: Response) -> Response:
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get("/status/{token}", response_class=HTMLResponse)
def status_page(request: Request, ctx: Ctx, token: str) -> Response:
    progress = progress_for_token(ctx, token)
    if progress is None:
        return _private(not_found(request, "status"))
    current = progress.status
    response = render(
        request,
        "status.html",
        with_csrf=False,
        progress=progress,
        reg=current,
        token=token,
        refresh=REFRESH,
        status_text=status_text(current.status),
        ends_at=i18n.when(current.ends_at) if current.ends_at else "",
    )
    return _private(response)


@router.get("/status/{token}/state")
def status_state(ctx: Ctx, token: str) -> Response:
    """``{"state": …, "waiting": …, "ready": …}`` of the status page (its script polls it)."""
    progress = progress_for_token(ctx, token)
    if progress is None:
        return _private(JSONResponse({"detail": "not found"}, status_code=404))
    body = {
        "state": progress.status.status.value,
        "waiting": progress.waiting,
        "ready": progress.ready,
    }
    return _private(JSONResponse(body))
