"""The console's dashboard (``/admin``): the figures of the stats as charts and tables, over the
last 7, 30 or 90 days or any period (``?from=…&to=…``), and the retention policy."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin import charts
from wod.admin.audit import From, To
from wod.admin.page import PATH, Admin, AdminRoute, render
from wod.services.admin.stats import console_dashboard
from wod.web.deps import Ctx

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("")
def dashboard(
    request: Request,
    ctx: Ctx,
    user: Admin,
    days: int | None = None,
    since: From = "",
    until: To = "",
) -> Response:
    now = ctx.clock.now()
    period = charts.chosen_period(now.date(), days, since, until)
    figures = console_dashboard(ctx, charts.chosen_range(days), period.since, period.until)
    minimum = ctx.settings.registration.badge_min_completion
    board = charts.build_console(figures, period, minimum)
    dates = {"from": str(period.since), "to": str(period.until)}
    return render(
        request,
        ctx,
        "dashboard.html",
        user,
        nav="dashboard",
        board=board,
        ranges=charts.RANGES,
        chart_data=[c.to_json() for c in board.charts],
        export="/admin/registrations.csv?" + urlencode(dates),
        asked={"from": since, "to": until},
    )
