"""Liveness (``/healthz``), the platform's health for admins (``/api/v1/health``) and the
Prometheus metrics (``/metrics``, protected by ``metrics.token``: docs/howto/monitoring.md)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from wod import metrics
from wod.errors import Forbidden
from wod.services.admin import health as platform
from wod.services.admin.health import Health
from wod.web.deps import Authenticated, Bearer, Ctx
from wod.web.problems import problem_responses

router = APIRouter(tags=["health"])


@router.get(
    "/healthz",
    responses=problem_responses(500, meaning={500: "`internal_error`: the database failed."}),
)
def healthz(ctx: Ctx) -> dict[str, str]:
    """``ok`` when the process answers and its database too."""
    ctx.db.ping()
    return {"status": "ok"}


@router.get(
    "/api/v1/health",
    responses=problem_responses(
        401, 403, meaning={403: "`forbidden`: a manage token (the health is for admins)."}
    ),
)
def health(ctx: Ctx, caller: Authenticated) -> Health:
    """Each location's agent (last contact, version, content revision), its jobs waiting and
    failing, its broken seats, and the outbox; what is stuck, and ``ok`` when nothing is."""
    if caller.role is None:
        raise Forbidden("The health needs an admin or viewer token.")
    return platform.health(ctx)


@router.get(
    "/metrics",
    response_class=Response,
    # the token is optional: without metrics.token, development answers anyone (an empty
    # requirement added to the bearer one says so)
    openapi_extra={"security": [{}]},
    responses={
        200: {
            "description": "The metrics in the Prometheus text format (version 0.0.4).",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problem_responses(
            401,
            meaning={
                401: "`not_authenticated`: not the `metrics.token` (or none is set in production)."
            },
        ),
    },
)
def prometheus_metrics(ctx: Ctx, credentials: Bearer) -> Response:
    """The Prometheus metrics of this api process and of the database, in the text format."""
    body = platform.scrape(ctx, credentials.credentials if credentials else None)
    return Response(body, media_type=metrics.CONTENT_TYPE)
