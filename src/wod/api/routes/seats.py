"""Seats for admins: ``POST /api/v1/seats/{location}/{number}/purge`` (admin token)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from wod.api.deps import Authenticated, Ctx
from wod.errors import Forbidden
from wod.services import seats
from wod.services.tokens import Role

router = APIRouter(tags=["seats"])


@router.post("/seats/{location}/{number}/purge", status_code=202)
def purge_seat(
    ctx: Ctx, caller: Authenticated, location: str, number: int, request: Request
) -> dict[str, int | str]:
    """Queue a PURGE of a seat that no live registration holds (repairs a broken seat)."""
    if caller.role is not Role.admin:
        raise Forbidden("Purging a seat needs an admin token.")
    job = seats.purge(ctx, location, number)
    request.app.state.wake()
    return {"job": job.id, "verb": job.verb.value}
