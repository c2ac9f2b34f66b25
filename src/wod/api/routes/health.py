"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter

from wod.web.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(ctx: Ctx) -> dict[str, str]:
    """``ok`` when the process answers and its database too."""
    ctx.db.ping()
    return {"status": "ok"}
