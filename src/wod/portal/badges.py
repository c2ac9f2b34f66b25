"""Badges: their images (drawn here, or files of the content layers), the public pages with
Open Graph tags that participants share, and the presenters' pictures of the layers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from wod.domain.levels import level
from wod.domain.limits import ID_MAX, NAME_MAX
from wod.i18n import _
from wod.portal import badge_art
from wod.portal.page import local, not_found, render
from wod.services import links
from wod.services.catalogue import workshop_named
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)


def _png(content: bytes) -> Response:
    return Response(
        content, media_type="image/png", headers={"Cache-Control": "public, max-age=86400"}
    )


#: The pictures a layer may serve, by extension: nothing else leaves a content folder.
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".svg": "image/svg+xml",
}
#: An SVG opened on its own must not run a script nor fetch anything: the portal's origin is
#: the participants'.
IMAGE_HEADERS = {
    "Cache-Control": "public, max-age=86400",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
    "sandbox",
}


def layer_file(ctx: Ctx, folder: str, name: str) -> Response:
    """A picture of the content layers' ``folder`` (the later layer wins), by bare name, with
    the type its extension says (:data:`IMAGE_TYPES`), or 404."""
    if len(name) > NAME_MAX or "/" in name or "\\" in name or name.startswith("."):
        return Response(status_code=404)
    media_type = IMAGE_TYPES.get(Path(name).suffix.lower())
    if media_type is None:
        return Response(status_code=404)
    for layer in reversed(ctx.settings.content.paths):
        path = Path(layer) / folder / name
        if path.is_file():
            return FileResponse(path, media_type=media_type, headers=IMAGE_HEADERS)
    return Response(status_code=404)


@router.get("/badges/files/{name}")
def badge_file(ctx: Ctx, name: str) -> Response:
    """A badge image named by a workshop's ``badgeImg``, from the layers' ``badges/``."""
    return layer_file(ctx, "badges", name)


@router.get("/avatars/files/{name}")
def avatar_file(ctx: Ctx, name: str) -> Response:
    """A presenter's picture named by a workshop's ``avatar``, from the layers' ``avatars/``."""
    return layer_file(ctx, "avatars", name)


@router.get("/badges/workshop/{slug}.png")
def workshop_badge_image(ctx: Ctx, slug: str) -> Response:
    workshop = workshop_named(ctx, slug)
    if workshop is None:
        return Response(status_code=404)
    return _png(badge_art.workshop_badge(workshop.slug, workshop.name))


@router.get("/badges/level/{number}.png")
def level_badge_image(number: Annotated[int, PathParam(ge=1, le=ID_MAX)]) -> Response:
    current = level(number)
    if current is None:
        return Response(status_code=404)
    return _png(badge_art.level_badge(current))


@router.get("/badges/workshop/{slug}", response_class=HTMLResponse)
def workshop_badge_page(request: Request, ctx: Ctx, slug: str) -> Response:
    workshop = workshop_named(ctx, slug)
    if workshop is None:
        return not_found(request, slug)
    settings = ctx.settings
    return render(
        request,
        "badge.html",
        with_csrf=False,
        title=_("%(workshop)s: workshop completed", workshop=workshop.name),
        text=_(
            "Awarded for completing the %(workshop)s workshop on %(wod)s.",
            workshop=workshop.name,
            wod=settings.branding.wod_name,
        ),
        image=links.workshop_badge_image(settings, workshop),
        local_image=local(settings, links.workshop_badge_image(settings, workshop)),
        page=links.workshop_badge_page(settings, workshop),
        cta_url=links.workshop_url(settings, workshop) if workshop.active else "/",
        cta=_("Take this workshop") if workshop.active else _("See the workshops"),
    )


@router.get("/badges/level/{number}", response_class=HTMLResponse)
def level_badge_page(
    request: Request, ctx: Ctx, number: Annotated[int, PathParam(ge=1, le=ID_MAX)]
) -> Response:
    current = level(number)
    if current is None:
        return not_found(request, f"badges/level/{number}")
    settings = ctx.settings
    return render(
        request,
        "badge.html",
        with_csrf=False,
        title=_("%(level)s badge", level=current.name),
        text=_(
            "Awarded for completing %(count)s different workshops on %(wod)s.",
            count=current.count,
            wod=settings.branding.wod_name,
        ),
        image=links.level_badge_image(settings, number),
        local_image=local(settings, links.level_badge_image(settings, number)),
        page=links.level_badge_page(settings, number),
        cta_url=settings.absolute_url("/"),
        cta=_("See the workshops"),
    )
