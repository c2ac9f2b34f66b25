"""Participant pages: the catalogue, a workshop with its registration form, and, in
development, the caught mail. Server-rendered, working without JavaScript."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates
from sqlalchemy import select

from wod.api.deps import Ctx, client_address
from wod.db.models import Workshop
from wod.domain.levels import level
from wod.errors import AlreadyRegistered, InvalidInput, RateLimited, Refusal, WorkshopFull
from wod.mail.catcher import read_mail
from wod.portal import badges as badge_art
from wod.portal import csrf
from wod.services import links, manage
from wod.services.catalogue import get_workshop, list_workshops
from wod.services.manage import registration_for_token, status_of
from wod.services.registration import RegistrationRequest, register
from wod.settings import Mode

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=str(files("wod.portal") / "templates"))


def _page(request: Request, ctx: Any, name: str, status: int = 200, **values: Any) -> Response:
    token = csrf.token_for(request)
    settings = ctx.settings
    response = templates.TemplateResponse(
        request,
        name,
        {
            "branding": settings.branding,
            "csrf_token": token,
            "logo_url": settings.absolute_url(settings.branding.logo_url),
            "dev": settings.mode is Mode.development,
            **values,
        },
        status_code=status,
    )
    csrf.set_cookie(response, token, secure=settings.api.public_url.startswith("https"))
    return response


@router.get("/", response_class=HTMLResponse)
def catalogue(request: Request, ctx: Ctx) -> Response:
    with ctx.db.read() as session:
        views = list_workshops(session)
    return _page(request, ctx, "catalogue.html", views=views)


def _workshop_page(
    request: Request, ctx: Ctx, slug: str, status: int = 200, **values: Any
) -> Response:
    with ctx.db.read() as session:
        view = get_workshop(session, slug)
    if view is None:
        return _page(request, ctx, "not_found.html", status=404, slug=slug)
    values.setdefault("form", {})
    values.setdefault("errors", {})
    return _page(request, ctx, "workshop.html", status=status, view=view, **values)


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
        return _workshop_page(
            request,
            ctx,
            slug,
            status=403,
            form=form,
            summary="Your form expired; please submit it again.",
        )
    try:
        registration = register(
            ctx,
            RegistrationRequest(slug, email, name, company, accept_terms == "yes"),
            client=client_address(request),
        )
    except InvalidInput as exc:
        errors = {p.field: p.message for p in exc.problems}
        return _workshop_page(
            request,
            ctx,
            slug,
            status=422,
            form=form,
            errors=errors,
            summary="Please correct the fields below.",
        )
    except AlreadyRegistered:
        summary = (
            "This address already has a workshop running: one workshop at a time. We have "
            "emailed it the link to manage that registration (see the time left, or end it)."
        )
        return _workshop_page(request, ctx, slug, status=409, form=form, summary=summary)
    except (WorkshopFull, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 409
        return _workshop_page(request, ctx, slug, status=status, form=form, summary=exc.message)
    except Refusal as exc:
        return _workshop_page(request, ctx, slug, status=404, form=form, summary=exc.message)
    request.app.state.wake()
    return _page(request, ctx, "registered.html", registration=registration, slug=slug)


@router.get("/dev/mail", response_class=HTMLResponse)
def dev_mail(request: Request, ctx: Ctx) -> Response:
    if ctx.settings.mode is not Mode.development:
        return _page(request, ctx, "not_found.html", status=404, slug="dev/mail")
    return _page(request, ctx, "dev_mail.html", messages=read_mail(ctx.settings.dev.maildir, 50))


# --------------------------------------------------------------------- manage page


def _manage_page(
    request: Request, ctx: Ctx, token: str, status: int = 200, **values: Any
) -> Response:
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        current = status_of(ctx, session, registration) if registration else None
    if current is None:
        response = _page(request, ctx, "not_found.html", status=404, slug="manage")
    else:
        response = _page(
            request,
            ctx,
            "manage.html",
            status=status,
            reg=current,
            token=token,
            now=ctx.clock.now(),
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
        return _page(request, ctx, "not_found.html", status=404, slug="manage")
    if not csrf.valid(request, csrf_token):
        return _manage_page(request, ctx, token, 403, message="Your form expired; try again.")
    if action == "end" and confirm != "yes":
        return _manage_page(
            request, ctx, token, 422, message="Tick the box to confirm that you want to end now."
        )
    try:
        if action == "end":
            manage.end_now(ctx, registration.id, by_admin=False)
            message = "Your workshop is ending: the seat is being cleaned, the final email follows."
        else:
            manage.extend(ctx, registration.id)
            message = "Extended: you have more time."
    except Refusal as exc:
        return _manage_page(request, ctx, token, 409, message=exc.message)
    request.app.state.wake()
    return _manage_page(request, ctx, token, message=message)


# --------------------------------------------------------------------- badges


def _png(content: bytes) -> Response:
    return Response(
        content, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


@router.get("/badges/workshop/{slug}.png")
def workshop_badge_image(ctx: Ctx, slug: str) -> Response:
    with ctx.db.read() as session:
        workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return Response(status_code=404)
    return _png(badge_art.workshop_badge(workshop.slug, workshop.name))


@router.get("/badges/files/{name}")
def badge_file(ctx: Ctx, name: str) -> Response:
    """A badge image named by a workshop's ``badgeImg``, from the content layers' ``badges/``
    folders (the later layer wins)."""
    if "/" in name or name.startswith("."):
        return Response(status_code=404)
    for layer in reversed(ctx.settings.content.paths):
        path = layer / "badges" / name
        if path.is_file():
            return FileResponse(path, headers={"Cache-Control": "public, max-age=86400"})
    return Response(status_code=404)


@router.get("/badges/level/{number}.png")
def level_badge_image(number: int) -> Response:
    current = level(number)
    if current is None:
        return Response(status_code=404)
    return _png(badge_art.level_badge(current))


@router.get("/badges/workshop/{slug}", response_class=HTMLResponse)
def workshop_badge_page(request: Request, ctx: Ctx, slug: str) -> Response:
    with ctx.db.read() as session:
        workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return _page(request, ctx, "not_found.html", status=404, slug=slug)
    settings = ctx.settings
    return _page(
        request,
        ctx,
        "badge.html",
        title=f"{workshop.name}: workshop completed",
        text=f"Awarded for completing the {workshop.name} workshop on "
        f"{settings.branding.wod_name}.",
        image=links.workshop_badge_image(settings, workshop),
        page=links.workshop_badge_page(settings, workshop),
        cta_url=links.workshop_url(settings, workshop) if workshop.active else "/",
        cta="Take this workshop" if workshop.active else "See the workshops",
    )


@router.get("/badges/level/{number}", response_class=HTMLResponse)
def level_badge_page(request: Request, ctx: Ctx, number: int) -> Response:
    current = level(number)
    if current is None:
        return _page(request, ctx, "not_found.html", status=404, slug=f"badges/level/{number}")
    settings = ctx.settings
    return _page(
        request,
        ctx,
        "badge.html",
        title=f"{current.name} badge",
        text=f"Awarded for completing {current.count} different workshops on "
        f"{settings.branding.wod_name}.",
        image=links.level_badge_image(settings, number),
        page=links.level_badge_page(settings, number),
        cta_url=settings.absolute_url("/"),
        cta="See the workshops",
    )
