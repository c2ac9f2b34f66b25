"""Public catalogue: ``GET /api/v1/workshops`` and ``GET /api/v1/workshops/{slug}``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from starlette.concurrency import run_in_threadpool

from wod.api.schemas import WorkshopPublic
from wod.errors import WorkshopNotFound
from wod.services import links
from wod.services.catalogue import WorkshopView, find_workshop
from wod.settings import Settings
from wod.web.deps import Ctx, State
from wod.web.problems import problem_responses
from wod.wire import NO_NUL

router = APIRouter(tags=["workshops"])


def to_public(view: WorkshopView, settings: Settings) -> WorkshopPublic:
    w = view.workshop
    return WorkshopPublic(
        slug=w.slug,
        name=w.name,
        description=w.description,
        categories=w.categories,
        duration_hours=w.duration_hours,
        presenter=w.presenter,
        role=w.role,
        avatar_url=links.avatar_url(settings, w),
        replay_url=w.replay_link or None,
        badge_url=links.workshop_badge_image(settings, w),
        seats_left=view.seats_left,
        popular=view.popular,
        beta=w.beta,
    )


@router.get("/workshops", response_model=list[WorkshopPublic])
async def workshops(state: State) -> Response:
    """Every active workshop, in catalogue order. Seats left are at most
    ``api.catalogue_ttl`` seconds old."""
    cache = state.catalogue
    snapshot = cache.fresh()
    if snapshot is None:
        snapshot = await run_in_threadpool(cache.get)
    return Response(snapshot.api_body, media_type="application/json")


@router.get(
    "/workshops/{slug}",
    response_model=WorkshopPublic,
    responses=problem_responses(
        404, 422, meaning={404: "`workshop_not_found`: no active workshop with that slug."}
    ),
)
def workshop(
    ctx: Ctx, slug: Annotated[str, Path(max_length=100, pattern=NO_NUL)]
) -> WorkshopPublic:
    """One active workshop."""
    view = find_workshop(ctx, slug)
    if view is None:
        raise WorkshopNotFound(f"No workshop {slug!r}.")
    return to_public(view, ctx.settings)
