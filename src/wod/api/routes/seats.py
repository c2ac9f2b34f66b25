"""Seats for admins: ``POST /api/v1/seats/{location}/{number}/purge`` (admin token)."""

from __future__ import annotations

from fastapi import APIRouter

from wod.domain.roles import Role
from wod.errors import Forbidden
from wod.services import provisioning
from wod.web.deps import Authenticated, Ctx, RowId

router = APIRouter(tags=["seats"])


@router.post("/seats/{location}/{number}/purge", status_code=202)
def purge_seat(
    ctx: Ctx, caller: Authenticated, location: str, number: RowId
) -> dict[str, int | str]:
    """Queue a PURGE of a seat that no live registration holds (repairs a broken seat)."""
    if caller.role is not Role.admin:
        raise Forbidden("Purging a seat needs an admin token.")
    job = provisioning.purge(ctx, location, number)
    return {"job": job.id, "verb": job.verb.value}
