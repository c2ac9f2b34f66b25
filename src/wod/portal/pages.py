"""Participant pages: the catalogue, a workshop with its registration form, the manage page,
badges, terms and privacy, and, in development, the caught mail.

Server-rendered and working without JavaScript (scripts only add instant filtering, live
seat counts and the countdown); every text in the request's language (:mod:`wod.i18n`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from wod import i18n
from wod.api.deps import Ctx, client_address
from wod.branding import readable_on_white
from wod.db.models import Workshop
from wod.domain.levels import level
from wod.errors import AlreadyRegistered, InvalidInput, RateLimited, Refusal, WorkshopFull
from wod.i18n import _
from wod.mail.catcher import read_mail
from wod.portal import badges as badge_art
from wod.portal import csrf, legal
from wod.portal.catalogue import Filter, filter_views, searchable
from wod.services import links, manage
from wod.services.catalogue import Snapshot, WorkshopView, get_any_workshop
from wod.services.manage import registration_for_token, status_of
from wod.services.outbox import status_text
from wod.services.registration import RegistrationRequest, register
from wod.settings import Mode

log = logging.getLogger(__name__)

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("wod.portal") / "templates"))
i18n.install(templates.env)

#: The registration form's fields, in order, with their labels (error summary links).
FIELDS = {
    "email": i18n.N_("Email"),
    "name": i18n.N_("Full name"),
    "company": i18n.N_("Company"),
    "accept_terms": i18n.N_("Terms and conditions"),
}
#: Rendered catalogue pages kept per snapshot (common tab and language combinations).
PAGE_CACHE_SIZE = 64


@dataclass(frozen=True)
class LanguageLink:
    code: str
    name: str
    url: str
    current: bool


def _local(settings: Any, url: str | None) -> str | None:
    """A URL of the portal itself as a path (pages work whatever host they are reached by);
    other URLs as they are."""
    if url is None:
        return None
    base = settings.api.public_url.rstrip("/")
    return url[len(base) :] or "/" if url.startswith(base + "/") else url


def _common(request: Request, ctx: Any) -> dict[str, Any]:
    settings = ctx.settings
    language = i18n.current()
    return {
        "branding": settings.branding,
        "accent": readable_on_white(settings.branding.primary_color),
        "logo_url": _local(settings, settings.branding.logo_url),
        "dev": settings.mode is Mode.development,
        "lang": language,
        "languages": [
            LanguageLink(code, name, i18n.switch_url(request.url, code), code == language)
            for code, name in i18n.LANGUAGES.items()
        ],
    }


def _page(
    request: Request,
    ctx: Any,
    name: str,
    status: int = 200,
    *,
    with_csrf: bool = True,
    **values: Any,
) -> Response:
    """A page; pages with a form carry a CSRF token (and set its cookie)."""
    token = csrf.token_for(request) if with_csrf else ""
    response = templates.TemplateResponse(
        request,
        name,
        {**_common(request, ctx), "csrf_token": token, **values},
        status_code=status,
    )
    if with_csrf:
        secure = ctx.settings.api.public_url.startswith("https")
        csrf.set_cookie(response, token, secure=secure)
    return response


def _not_found(request: Request, ctx: Any, what: str) -> Response:
    return _page(request, ctx, "not_found.html", status=404, with_csrf=False, what=what)


def _snapshot(request: Request) -> Snapshot | None:
    """The catalogue, or None when the database cannot be reached."""
    try:
        snapshot: Snapshot = request.app.state.catalogue.get()
    except SQLAlchemyError:
        return None
    return snapshot


def _page_key(request: Request, chosen: Filter) -> tuple[str, ...]:
    return (i18n.current(), chosen.tab_value, chosen.query, str(request.url.query))


@router.get("/", response_class=HTMLResponse)
async def catalogue(request: Request, tab: str = "all", q: str = "") -> Response:
    """The catalogue; a page already rendered from the current snapshot is answered from the
    event loop, anything else (a new snapshot, a new search) in a worker thread."""
    snapshot = request.app.state.catalogue.fresh()
    if snapshot is not None:
        chosen = Filter.parse(tab, q, snapshot.categories)
        body = snapshot.pages.get(_page_key(request, chosen))
        if body is not None:
            return HTMLResponse(body, headers={"content-language": i18n.current()})
    return await run_in_threadpool(_catalogue_page, request, tab, q)


def _catalogue_page(request: Request, tab: str, q: str) -> Response:
    ctx = request.app.state.ctx
    snapshot = _snapshot(request)
    if snapshot is None:
        return _page(request, ctx, "catalogue.html", 503, with_csrf=False, unavailable=True)
    chosen = Filter.parse(tab, q, snapshot.categories)
    key = _page_key(request, chosen)
    body = snapshot.pages.get(key)
    if body is None:
        response = _page(
            request,
            ctx,
            "catalogue.html",
            with_csrf=False,
            snapshot=snapshot,
            filter=chosen,
            views=filter_views(snapshot, chosen),
            unavailable=False,
            searchable=searchable,
            avatar_of=lambda w: _local(ctx.settings, links.avatar_url(ctx.settings, w)),
        )
        if len(snapshot.pages) < PAGE_CACHE_SIZE and len(chosen.query) <= 40:
            snapshot.pages[key] = bytes(response.body)
        return response
    return HTMLResponse(body, headers={"content-language": i18n.current()})


def _workshop_page(
    request: Request, ctx: Ctx, slug: str, status: int = 200, **values: Any
) -> Response:
    snapshot = _snapshot(request)
    view = snapshot.find(slug) if snapshot else None
    if view is None:
        with ctx.db.read() as session:
            view = get_any_workshop(session, slug)
    if view is None:
        return _not_found(request, ctx, slug)
    values.setdefault("form", {})
    values.setdefault("errors", {})
    settings = ctx.settings
    w = view.workshop
    return _page(
        request,
        ctx,
        "workshop.html",
        status=status,
        view=view,
        fields={field: _(label) for field, label in FIELDS.items()},
        avatar=_local(settings, links.avatar_url(settings, w)),
        badge_image=_local(settings, links.workshop_badge_image(settings, w)),
        badge_page=_local(settings, links.workshop_badge_page(settings, w)),
        og_image=links.workshop_badge_image(settings, w),
        **values,
    )


def _others_with_seats(request: Request, slug: str) -> list[WorkshopView]:
    snapshot = _snapshot(request)
    if snapshot is None:
        return []
    return [v for v in snapshot.views if v.seats_left and v.workshop.slug != slug][:6]


@router.get("/workshops/{slug}", response_class=HTMLResponse)
def workshop(request: Request, ctx: Ctx, slug: str) -> Response:
    return _workshop_page(request, ctx, slug)


@router.post("/workshops/{slug}/register", response_class=HTMLResponse)
def register_form(
    request: Request,
    ctx: Ctx,
    slug: str,
    email: Annotated[str, Form(max_length=1000)] = "",
    name: Annotated[str, Form(max_length=1000)] = "",
    company: Annotated[str, Form(max_length=1000)] = "",
    accept_terms: Annotated[str, Form(max_length=10)] = "",
    csrf_token: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    form = {"email": email, "name": name, "company": company, "accept_terms": bool(accept_terms)}
    if not csrf.valid(request, csrf_token):
        summary = _("Your form expired; please submit it again.")
        return _workshop_page(request, ctx, slug, 403, form=form, summary=summary)
    try:
        registration = register(
            ctx,
            RegistrationRequest(
                slug, email, name, company, accept_terms == "yes", language=i18n.current()
            ),
            client=client_address(request),
        )
    except InvalidInput as exc:
        order = list(FIELDS)
        problems = sorted(
            exc.problems, key=lambda p: order.index(p.field) if p.field in order else 9
        )
        errors = {p.field: p.message for p in problems}
        summary = _("Please correct the fields below.")
        return _workshop_page(request, ctx, slug, 422, form=form, errors=errors, summary=summary)
    except AlreadyRegistered:
        summary = _(
            "This address already has a workshop running: one workshop at a time. We have "
            "emailed it the link to manage that registration (see the time left, or end it)."
        )
        return _workshop_page(request, ctx, slug, 409, form=form, summary=summary)
    except WorkshopFull as exc:
        others = _others_with_seats(request, slug)
        return _workshop_page(
            request, ctx, slug, 409, form=form, summary=exc.message, others=others
        )
    except RateLimited as exc:
        return _workshop_page(request, ctx, slug, 429, form=form, summary=exc.message)
    except Refusal as exc:
        return _workshop_page(request, ctx, slug, 404, form=form, summary=exc.message)
    request.app.state.catalogue.invalidate()
    request.app.state.wake()
    return _page(
        request, ctx, "registered.html", with_csrf=False, registration=registration, slug=slug
    )


@router.get("/dev/mail", response_class=HTMLResponse)
def dev_mail(request: Request, ctx: Ctx) -> Response:
    if ctx.settings.mode is not Mode.development:
        return _not_found(request, ctx, "dev/mail")
    messages = read_mail(ctx.settings.dev.maildir, 50)
    return _page(request, ctx, "dev_mail.html", with_csrf=False, messages=messages)


# --------------------------------------------------------------------- terms and privacy


@router.get("/terms", response_class=HTMLResponse)
def terms(request: Request, ctx: Ctx) -> Response:
    return _legal_page(request, ctx, "terms")


@router.get("/privacy", response_class=HTMLResponse)
def privacy(request: Request, ctx: Ctx) -> Response:
    return _legal_page(request, ctx, "privacy")


def _legal_page(request: Request, ctx: Ctx, name: str) -> Response:
    try:
        text = legal.render(name, i18n.current(), ctx.settings)
    except legal.LegalPageError as exc:
        log.error("the %s page cannot be shown: %s", name, exc)
        return _page(request, ctx, "legal_error.html", status=500, with_csrf=False)
    return _page(request, ctx, "legal.html", with_csrf=False, title=text.title, body=text.html)


# --------------------------------------------------------------------- manage page


def _manage_page(
    request: Request, ctx: Ctx, token: str, status: int = 200, **values: Any
) -> Response:
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        current = status_of(ctx, session, registration) if registration else None
    if current is None:
        response = _not_found(request, ctx, "manage")
    else:
        response = _page(
            request,
            ctx,
            "manage.html",
            status=status,
            reg=current,
            token=token,
            now=ctx.clock.now(),
            status_text=status_text(current.status),
            ends_at=i18n.when(current.ends_at) if current.ends_at else "",
            **values,
        )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/manage/{token}", response_class=HTMLResponse)
def manage_page(request: Request, ctx: Ctx, token: str) -> Response:
    return _manage_page(request, ctx, token)


@router.post("/manage/{token}/{action}", response_class=HTMLResponse)
def manage_action(
    request: Request,
    ctx: Ctx,
    token: str,
    action: str,
    csrf_token: Annotated[str, Form(max_length=100)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
    if registration is None or action not in ("end", "extend"):
        return _not_found(request, ctx, "manage")
    if not csrf.valid(request, csrf_token):
        message = _("Your form expired; please try again.")
        return _manage_page(request, ctx, token, 403, message=message, failed=True)
    if action == "end" and confirm != "yes":
        message = _("Tick the box to confirm that you want to end now.")
        return _manage_page(request, ctx, token, 422, message=message, failed=True)
    try:
        if action == "end":
            manage.end_now(ctx, registration.id, by_admin=False)
            message = _(
                "Your workshop is ending: the seat is being cleaned, the final email follows."
            )
        else:
            manage.extend(ctx, registration.id)
            message = _("Extended: you have more time.")
    except Refusal as exc:
        return _manage_page(request, ctx, token, 409, message=exc.message, failed=True)
    request.app.state.catalogue.invalidate()
    request.app.state.wake()
    return _manage_page(request, ctx, token, message=message)


# --------------------------------------------------------------------- images


def _png(content: bytes) -> Response:
    return Response(
        content, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


def _layer_file(ctx: Ctx, folder: str, name: str) -> Response:
    """A file of the content layers' ``folder`` (the later layer wins), by bare name."""
    if "/" in name or "\\" in name or name.startswith("."):
        return Response(status_code=404)
    for layer in reversed(ctx.settings.content.paths):
        path = Path(layer) / folder / name
        if path.is_file():
            return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
    return Response(status_code=404)


@router.get("/badges/files/{name}")
def badge_file(ctx: Ctx, name: str) -> Response:
    """A badge image named by a workshop's ``badgeImg``, from the layers' ``badges/``."""
    return _layer_file(ctx, "badges", name)


@router.get("/avatars/files/{name}")
def avatar_file(ctx: Ctx, name: str) -> Response:
    """A presenter's picture named by a workshop's ``avatar``, from the layers' ``avatars/``."""
    return _layer_file(ctx, "avatars", name)


@router.get("/badges/workshop/{slug}.png")
def workshop_badge_image(ctx: Ctx, slug: str) -> Response:
    with ctx.db.read() as session:
        workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return Response(status_code=404)
    return _png(badge_art.workshop_badge(workshop.slug, workshop.name))


@router.get("/badges/level/{number}.png")
def level_badge_image(number: int) -> Response:
    current = level(number)
    if current is None:
        return Response(status_code=404)
    return _png(badge_art.level_badge(current))


# --------------------------------------------------------------------- badge pages


@router.get("/badges/workshop/{slug}", response_class=HTMLResponse)
def workshop_badge_page(request: Request, ctx: Ctx, slug: str) -> Response:
    with ctx.db.read() as session:
        workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return _not_found(request, ctx, slug)
    settings = ctx.settings
    return _page(
        request,
        ctx,
        "badge.html",
        with_csrf=False,
        title=_("%(workshop)s: workshop completed", workshop=workshop.name),
        text=_(
            "Awarded for completing the %(workshop)s workshop on %(wod)s.",
            workshop=workshop.name,
            wod=settings.branding.wod_name,
        ),
        image=links.workshop_badge_image(settings, workshop),
        page=links.workshop_badge_page(settings, workshop),
        cta_url=links.workshop_url(settings, workshop) if workshop.active else "/",
        cta=_("Take this workshop") if workshop.active else _("See the workshops"),
    )


@router.get("/badges/level/{number}", response_class=HTMLResponse)
def level_badge_page(request: Request, ctx: Ctx, number: int) -> Response:
    current = level(number)
    if current is None:
        return _not_found(request, ctx, f"badges/level/{number}")
    settings = ctx.settings
    return _page(
        request,
        ctx,
        "badge.html",
        with_csrf=False,
        title=_("%(level)s badge", level=current.name),
        text=_(
            "Awarded for completing %(count)s different workshops on %(wod)s.",
            count=current.count,
            wod=settings.branding.wod_name,
        ),
        image=links.level_badge_image(settings, number),
        page=links.level_badge_page(settings, number),
        cta_url=settings.absolute_url("/"),
        cta=_("See the workshops"),
    )
