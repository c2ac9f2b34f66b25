"""Liveness."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text

from wod.api.deps import Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz(ctx: Ctx) -> dict[str, str]:
    """``ok`` when the process answers and its database too."""
    with ctx.db.read() as session:
        session.execute(text("SELECT 1"))
    return {"status": "ok"}
