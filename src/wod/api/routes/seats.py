"""Seats for admins: ``POST /api/v1/seats/{location}/{number}/purge`` (admin token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from wod.api.schemas import PurgeQueued
from wod.domain.roles import Role
from wod.errors import Forbidden
from wod.services import provisioning
from wod.web.deps import Authenticated, Ctx, RowId
from wod.web.problems import problem_responses
from wod.wire import NO_NUL

router = APIRouter(tags=["seats"])


@router.post(
    "/seats/{location}/{number}/purge",
    status_code=202,
    responses=problem_responses(
        401,
        403,
        404,
        409,
        422,
        meaning={
            403: "`forbidden`: a `viewer` admin token, or a manage token.",
            404: "`not_found`: no seat `number` at a location of that name.",
            409: "`invalid_state`: a live registration holds the seat.",
        },
    ),
)
def purge_seat(
    ctx: Ctx,
    caller: Authenticated,
    location: Annotated[str, Path(max_length=100, pattern=NO_NUL)],
    number: RowId,
) -> PurgeQueued:
    """Queue a PURGE of a seat that no live registration holds (repairs a broken seat)."""
    if caller.role is not Role.admin:
        raise Forbidden("Purging a seat needs an admin token.")
    job = provisioning.purge(ctx, location, number)
    return PurgeQueued(job=job.id, verb=job.verb.value)
