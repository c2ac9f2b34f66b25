"""Participant pages: the catalogue, a workshop with its registration form, and, in
development, the caught mail. Server-rendered, working without JavaScript."""

from __future__ import annotations

from importlib.resources import files
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from wod.api.deps import Ctx
from wod.errors import AlreadyRegistered, InvalidInput, Refusal, WorkshopFull
from wod.mail.catcher import read_mail
from wod.portal import csrf
from wod.services.catalogue import get_workshop, list_workshops
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
            ctx, RegistrationRequest(slug, email, name, company, accept_terms == "yes")
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
    except (AlreadyRegistered, WorkshopFull) as exc:
        return _workshop_page(request, ctx, slug, status=409, form=form, summary=exc.message)
    except Refusal as exc:
        return _workshop_page(request, ctx, slug, status=404, form=form, summary=exc.message)
    request.app.state.wake()
    return _page(request, ctx, "registered.html", registration=registration, slug=slug)


@router.get("/dev/mail", response_class=HTMLResponse)
def dev_mail(request: Request, ctx: Ctx) -> Response:
    if ctx.settings.mode is not Mode.development:
        return _page(request, ctx, "not_found.html", status=404, slug="dev/mail")
    return _page(request, ctx, "dev_mail.html", messages=read_mail(ctx.settings.dev.maildir, 50))
