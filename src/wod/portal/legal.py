"""The terms (``/terms``) and privacy (``/privacy``) pages, from the content layers or wod's
own text (:mod:`.legal_text`); a text with an error is a clear page and a log line."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wod import i18n
from wod.portal import legal_text
from wod.portal.page import render
from wod.web.deps import Ctx

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)


@router.get("/terms", response_class=HTMLResponse)
def terms(request: Request, ctx: Ctx) -> Response:
    return _legal_page(request, ctx, "terms")


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, ctx: Ctx) -> Response:
    return _legal_page(request, ctx, "privacy")


def _legal_page(request: Request, ctx: Ctx, name: str) -> Response:
    try:
        text = legal_text.render(name, i18n.current(), ctx.settings)
    except legal_text.LegalPageError as exc:
        log.error("the %s page cannot be shown: %s", name, exc)
        return render(request, "legal_error.html", status=500, with_csrf=False)
    return render(request, "legal.html", with_csrf=False, title=text.title, body=text.html)
