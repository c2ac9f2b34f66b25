"""``/dev/mail``: the messages the development mail catcher received (development mode only)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wod.mail.catcher import read_mail
from wod.portal.page import not_found, render
from wod.settings import Mode
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)


@router.get("/dev/mail", response_class=HTMLResponse)
def dev_mail(request: Request, ctx: Ctx) -> Response:
    if ctx.settings.mode is not Mode.development:
        return not_found(request, "dev/mail")
    messages = read_mail(ctx.settings.dev.maildir, 50)
    return render(request, "dev_mail.html", with_csrf=False, messages=messages)
