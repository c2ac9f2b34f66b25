"""The console's health page (``/admin/health``): each location's agent, its jobs waiting and
failing, its broken seats, and the outbox; what is stuck shows in red."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin.page import PATH, Admin, AdminRoute, render
from wod.services.admin.health import health
from wod.web.deps import Ctx

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/health")
def health_page(request: Request, ctx: Ctx, user: Admin) -> Response:
    window = ctx.settings.health.failure_window.total_seconds() / 3600
    return render(
        request,
        ctx,
        "health.html",
        user,
        nav="health",
        health=health(ctx),
        failure_window=f"last {window:g} h",
    )
