"""The content's push webhook: ``POST /api/v1/content/webhook`` (GitHub or GitLab, signed with
``content.webhook_secret``); a valid delivery asks for a sync."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from wod.services import content
from wod.web.deps import Ctx
from wod.web.limits import WEBHOOK_MAX_BODY
from wod.web.problems import problem_responses

router = APIRouter(prefix="/content", tags=["content"])


@router.post(
    "/webhook",
    status_code=202,
    max_body_size=WEBHOOK_MAX_BODY,
    responses=problem_responses(
        401,
        408,
        413,
        meaning={
            401: "`not_authenticated`: no signature, a wrong one, or no `content.webhook_secret`.",
            413: "The body is over 5 MiB.",
        },
    ),
)
async def webhook(ctx: Ctx, request: Request) -> dict[str, str]:
    """A push delivery: verified against the secret (401 and nothing done otherwise), then a
    sync is asked for; the scheduler runs it."""
    body = await request.body()
    provider = await run_in_threadpool(content.receive_delivery, ctx, request.headers, body)
    return {"sync": "requested", "provider": provider}
