"""``GET /api/v1/stats``: figures for the dashboard (admin or viewer token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from wod.errors import Forbidden
from wod.services.admin.stats import dashboard
from wod.web.deps import Authenticated, Ctx
from wod.web.problems import problem_responses
from wod.wire import Stats

router = APIRouter(tags=["stats"])


@router.get(
    "/stats",
    responses=problem_responses(
        401, 403, 422, meaning={403: "`forbidden`: a manage token (the stats are for admins)."}
    ),
)
def stats(
    ctx: Ctx, caller: Authenticated, days: Annotated[int, Query(ge=1, le=3660)] = 30
) -> Stats:
    """Live seats by workshop and location, registrations per day over ``days``, outcomes,
    mean completion per workshop, badge levels reached."""
    if caller.role is None:
        raise Forbidden("The stats need an admin or viewer token.")
    return dashboard(ctx, days)
