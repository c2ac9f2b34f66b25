"""The pages of the links emails carry with a token in their address (confirm a registration,
claim a waiting-list offer, keep an idle seat).

They share one shape: GET shows what the link would do and a button, and changes nothing (mail
scanners and link previews open links); the button's POST, with the form's CSRF token, acts. A
link that cannot act says why on a page of its own: 410 when it is used up or expired, else the
status of its refusal. No referrer leaves with the token and no cache keeps the page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from fastapi import Request
from fastapi.responses import Response

from wod import i18n
from wod.errors import Refusal
from wod.portal.page import render
from wod.web.problems import status_of


class Shown(Protocol):
    """What a link's page shows of what the link would do: at least until when it may."""

    @property
    def due_at(self) -> datetime: ...


def private(response: Response) -> Response:
    """The token is in the address: no referrer leaves with it, no cache keeps the page."""
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def refused_page(
    request: Request,
    template: str,
    refusal: Refusal,
    gone: tuple[type[Refusal], ...],
    **values: Any,
) -> Response:
    """The page that says why the link did not act: 410 for the refusals in ``gone``."""
    status = 410 if isinstance(refusal, gone) else status_of(refusal)
    page = render(
        request, template, status=status, with_csrf=False, message=refusal.message, **values
    )
    return private(page)


def ask_page(
    request: Request,
    template: str,
    read: Callable[[], Shown],
    refused: Callable[[Refusal], Response],
    token: str,
    status: int = 200,
    **values: Any,
) -> Response:
    """The page that shows what the link of ``token`` would do (``read``), with its button;
    ``refused`` answers when it no longer can."""
    try:
        shown = read()
    except Refusal as exc:
        return refused(exc)
    page = render(
        request,
        template,
        status=status,
        shown=shown,
        token=token,
        until=i18n.when(shown.due_at),
        **values,
    )
    return private(page)
