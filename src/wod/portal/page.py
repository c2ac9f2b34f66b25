"""What every participant page shares: the templates, the branding and language switch, CSRF
on pages with a form, the "not found" page, and the catalogue snapshot.

Pages are server-rendered and work without JavaScript (scripts only add instant filtering,
live seat counts and the countdown); every text is in the request's language (:mod:`wod.i18n`).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from sqlalchemy.exc import SQLAlchemyError

from wod import i18n
from wod.branding import readable_on_white
from wod.hub.modes import isolates_seats
from wod.services import links
from wod.services.catalogue import Snapshot
from wod.settings import Mode, Settings
from wod.web import csrf
from wod.web.language import switch_url
from wod.web.state import web_state

templates = Jinja2Templates(directory=str(files("wod.portal") / "templates"))
i18n.install(templates.env)
templates.env.globals["linkedin_share"] = links.share_url


def mastodon_share(page_url: str, title: str) -> str:
    """The portal's own "share on Mastodon" page for a page (:mod:`wod.portal.share`)."""
    return "/share/mastodon?" + urlencode({"url": page_url, "title": title})


templates.env.globals["mastodon_share"] = mastodon_share


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


def local(settings: Settings, url: str | None) -> str | None:
    """A URL of the portal itself as a path (pages work whatever host they are reached by);
    other URLs as they are."""
    if url is None:
        return None
    base = settings.api.public_url.rstrip("/")
    return url[len(base) :] or "/" if url.startswith(base + "/") else url


def _common(request: Request, settings: Settings) -> dict[str, Any]:
    language = i18n.current()
    return {
        "branding": settings.branding,
        "accent": readable_on_white(settings.branding.primary_color),
        "logo_url": local(settings, settings.branding.logo_url),
        "dev": settings.mode is Mode.development,
        "public_url": settings.api.public_url.rstrip("/"),
        # a development platform whose seats share one user says so on every page (wod up as
        # an ordinary user: the hub mode)
        "seats_shared": settings.mode is Mode.development
        and not isolates_seats(settings.backend.account_mode),
        "lang": language,
        "languages": [
            LanguageLink(code, name, switch_url(request.url, code), code == language)
            for code, name in i18n.LANGUAGES.items()
        ],
    }


def render(
    request: Request,
    name: str,
    status: int = 200,
    *,
    with_csrf: bool = True,
    **values: Any,
) -> Response:
    """A page; pages with a form carry a CSRF token (and set its cookie)."""
    settings = web_state(request).ctx.settings
    token = csrf.token_for(request) if with_csrf else ""
    response = templates.TemplateResponse(
        request,
        name,
        {**_common(request, settings), "csrf_token": token, **values},
        status_code=status,
    )
    if with_csrf:
        csrf.set_cookie(response, token, secure=settings.api.public_url.startswith("https"))
    return response


def not_found(request: Request, what: str) -> Response:
    return render(request, "not_found.html", status=404, with_csrf=False, what=what)


def snapshot(request: Request) -> Snapshot | None:
    """The catalogue, or None when the database cannot be reached."""
    try:
        return web_state(request).catalogue.get()
    except SQLAlchemyError:
        return None
