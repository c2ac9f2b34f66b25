"""Catalogue covers: the pictures of the content layers' ``covers/`` folder named by a
workshop's ``workshopImg``, and the cover drawn for a workshop without one
(:mod:`wod.portal.cover_art`)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.portal import cover_art
from wod.portal.badges import IMAGE_HEADERS, layer_file
from wod.portal.page import snapshot
from wod.services.catalogue import workshop_named
from wod.web.deps import Ctx

router = APIRouter(include_in_schema=False)


@router.get("/covers/files/{name}")
def cover_file(ctx: Ctx, name: str) -> Response:
    """A cover named by a workshop's ``workshopImg``, from the layers' ``covers/``."""
    return layer_file(ctx, "covers", name)


@router.get("/covers/workshop/{slug}.svg")
def drawn_cover(request: Request, ctx: Ctx, slug: str) -> Response:
    """The cover drawn from the workshop's name (read from the catalogue snapshot when the
    workshop is listed: a page of cards costs no query)."""
    current = snapshot(request)
    view = current.find(slug) if current is not None else None
    workshop = view.workshop if view is not None else workshop_named(ctx, slug)
    if workshop is None:
        return Response(status_code=404)
    svg = cover_art.workshop_cover(workshop.slug, workshop.name)
    return Response(svg, media_type="image/svg+xml", headers=IMAGE_HEADERS)
