"""``GET /api/v1/stats``: figures for the dashboard (admin or viewer token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from wod.api.deps import Authenticated, Ctx
from wod.errors import Forbidden
from wod.services.stats import dashboard

router = APIRouter(tags=["stats"])


@router.get("/stats")
def stats(
    ctx: Ctx, caller: Authenticated, days: Annotated[int, Query(ge=1, le=3660)] = 30
) -> dict[str, Any]:
    """Live seats by workshop and location, registrations per day over ``days``, outcomes,
    mean completion per workshop, badge levels reached."""
    if caller.role is None:
        raise Forbidden("The stats need an admin or viewer token.")
    with ctx.db.read() as session:
        return dashboard(session, ctx.clock.now(), days)
