"""Development helpers: the caught mail, as JSON (mounted only in development mode)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from wod.mail.catcher import read_mail
from wod.web.deps import Ctx
from wod.web.problems import problem_responses

router = APIRouter(prefix="/dev", tags=["development"])


@router.get("/mail", responses=problem_responses(422))
def mail(ctx: Ctx, limit: int = 100) -> list[dict[str, Any]]:
    """Messages the dev mail catcher received, newest first."""
    return list(read_mail(ctx.settings.dev.maildir, limit=max(1, min(limit, 1000))))
