"""``/dev/mail``: the messages the development mail catcher received (development mode only),
each in its text and its HTML version, with a switch between them.

The HTML version is shown as the mail client would show it, with its links working, but it is
a message, not a page of the portal: it goes into an ``<iframe sandbox>`` through ``srcdoc``
with no ``allow-scripts`` and no ``allow-same-origin`` (it can run nothing and reach nothing of
the portal) and a Content-Security-Policy of its own that refuses scripts too; its links open
in a new tab (``<base target="_blank">``, the sandbox letting that tab escape it).
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from wod.mail.catcher import read_mail
from wod.portal.page import not_found, render
from wod.settings import Mode
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)
#: What the HTML version may load: its pictures and styles, nothing that runs.
MAIL_CSP = "default-src 'none'; img-src * data:; style-src 'unsafe-inline' *; font-src * data:"
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


def framed_html(html: str) -> str:
    """An email's HTML made ready for the sandboxed frame: links open in a new tab, and a
    policy that forbids scripts comes first."""
    preamble = (
        f'<meta http-equiv="Content-Security-Policy" content="{MAIL_CSP}"><base target="_blank">'
    )
    head = _HEAD.search(html)
    if head is None:
        return f"<!doctype html><html><head>{preamble}</head><body>{html}</body></html>"
    return html[: head.end()] + preamble + html[head.end() :]


@router.get("/dev/mail", response_class=HTMLResponse)
def dev_mail(request: Request, ctx: Ctx) -> Response:
    if ctx.settings.mode is not Mode.development:
        return not_found(request, "dev/mail")
    messages = read_mail(ctx.settings.dev.maildir, 50)
    for message in messages:
        message["framed"] = framed_html(message["html"]) if message["html"].strip() else ""
    return render(request, "dev_mail.html", with_csrf=False, messages=messages)
