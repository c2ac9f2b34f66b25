"""Public catalogue: ``GET /api/v1/workshops`` and ``GET /api/v1/workshops/{slug}``; a full
workshop's waiting list: ``POST /api/v1/workshops/{slug}/waitlist``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from starlette.concurrency import run_in_threadpool

from wod import i18n
from wod.api.schemas import WaitlistJoin, WaitlistPlacePublic, WorkshopPublic
from wod.errors import WorkshopNotFound
from wod.services import links
from wod.services.catalogue import WorkshopView, find_workshop
from wod.services.registrations import RegistrationRequest, waitlist
from wod.settings import Settings
from wod.web.deps import Ctx, State, client_address
from wod.web.problems import problem_responses
from wod.wire import NO_NUL

router = APIRouter(tags=["workshops"])
Slug = Annotated[str, Path(max_length=100, pattern=NO_NUL)]


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
        cover_url=links.workshop_cover(settings, w),
        learn=w.learn,
        prerequisites=w.prerequisites,
        outline=w.outline,
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


@router.post(
    "/workshops/{slug}/waitlist",
    status_code=201,
    response_model=WaitlistPlacePublic,
    responses={
        200: {
            "model": WaitlistPlacePublic,
            "description": "The address was on the list already: its place, unchanged.",
        },
        **problem_responses(
            400,
            404,
            408,
            409,
            413,
            422,
            429,
            meaning={
                404: "`workshop_not_found`: no active workshop with that slug.",
                409: "`seats_free`: the workshop has free seats (register instead); "
                "`waitlist_full`: its list holds `waitlist.max_entries` addresses; "
                "`waitlist_closed`: `waitlist.enabled` is off; `already_registered`: the "
                "address holds a seat of this workshop.",
                422: "`invalid_input`, `terms_not_accepted`, `email_rejected`: as for a "
                "registration.",
                429: "`rate_limited`: too many attempts for this email or from this address; "
                "`Retry-After` gives the seconds to wait.",
            },
        ),
    },
)
def join_waitlist(
    ctx: Ctx, slug: Slug, body: WaitlistJoin, request: Request, response: Response
) -> WaitlistPlacePublic:
    """Join a full workshop's waiting list: when a seat frees, the first in line is emailed a
    link that claims it within `waitlist.claim_minutes`. One entry per address."""
    place = waitlist.join_waitlist(
        ctx,
        RegistrationRequest(
            workshop=slug,
            email=body.email,
            name=body.name,
            company=body.company,
            accept_terms=body.accept_terms,
            language=body.language or i18n.current(),
        ),
        client=client_address(request),
    )
    if place.already:
        response.status_code = 200
    return WaitlistPlacePublic(
        workshop=place.workshop, status=place.state, position=place.position, already=place.already
    )
