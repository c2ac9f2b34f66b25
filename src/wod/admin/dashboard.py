"""The console's dashboard (``/admin``): the figures of the stats as charts and tables."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin import charts
from wod.admin.page import PATH, Admin, AdminRoute, render
from wod.services.admin.stats import dashboard as figures
from wod.web.deps import Ctx

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("")
def dashboard(request: Request, ctx: Ctx, user: Admin, days: int | None = None) -> Response:
    span = charts.chosen_range(days)
    board = charts.build(figures(ctx, span), ctx.clock.now(), span)
    return render(
        request,
        ctx,
        "dashboard.html",
        user,
        nav="dashboard",
        board=board,
        ranges=charts.RANGES,
        chart_data=[c.to_json() for c in board.charts],
    )
