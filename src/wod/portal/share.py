"""Sharing a page of the portal on Mastodon (``/share/mastodon``): every person is on their own
server, so the page asks which one (a plain form, no script) and sends the browser to that
server's share page with the text filled in. LinkedIn and "copy link" need no page of ours
(:func:`wod.services.links.share_url`, ``share.js``)."""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from wod.i18n import _
from wod.portal.page import render
from wod.services import links
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)
#: A host name (no scheme, port, path or user): the only part of the address taken from the
#: form, so the browser can only be sent to ``https://<host>/share``.
_HOST = re.compile(r"(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def own_page(ctx: Ctx, url: str) -> bool:
    """Whether ``url`` is a page of this portal (nothing else is shared through it)."""
    base = ctx.settings.api.public_url.rstrip("/") + "/"
    return url.startswith(base) and not any(c in url for c in "\r\n")


def host_of(value: str) -> str | None:
    """The Mastodon server a person typed (``mastodon.social``, ``@me@mastodon.social`` or
    ``https://mastodon.social/``) as a host name, or None when it is none."""
    text = value.strip().lower()
    text = re.sub(r"^https?://", "", text).rstrip("/")
    if "@" in text:
        text = text.rsplit("@", 1)[1]
    return text if _HOST.fullmatch(text) else None


@router.get("/share/mastodon", response_class=HTMLResponse)
def share_mastodon(
    request: Request,
    ctx: Ctx,
    url: Annotated[str, Query(max_length=500)] = "",
    title: Annotated[str, Query(max_length=200)] = "",
    instance: Annotated[str, Query(max_length=300)] = "",
) -> Response:
    if not own_page(ctx, url):
        return render(
            request,
            "share.html",
            400,
            with_csrf=False,
            url="",
            title="",
            error=_("Only a page of this site can be shared from here."),
            instance="",
        )
    error = ""
    if instance:
        host = host_of(instance)
        if host is not None:
            text = f"{title} {url}" if title else url
            return RedirectResponse(links.mastodon_share_url(host, text), status_code=303)
        error = _("Write the address of your Mastodon server, for example mastodon.social.")
    status = 400 if error else 200
    return render(
        request,
        "share.html",
        status,
        with_csrf=False,
        url=url,
        title=title,
        error=error,
        instance=instance,
    )
