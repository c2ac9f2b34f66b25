"""The console's CSV downloads: ``/admin/registrations.csv`` (the filters of the registrations'
list, and ``from``/``to`` days) and ``/admin/audit.csv`` (the filters of the audit log). Each
download is recorded in the audit log."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin.audit import From, To, audit_filter, day_or_none
from wod.admin.page import PATH, Admin, AdminRoute, Text
from wod.admin.registrations import registration_filter
from wod.services.admin import audit, export
from wod.web.deps import Ctx, client_address

router = APIRouter(prefix=PATH, route_class=AdminRoute)


def _download(file: export.CsvFile) -> Response:
    return Response(
        file.text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{file.filename}"'},
    )


@router.get("/registrations.csv")
def registrations_csv(
    request: Request,
    ctx: Ctx,
    user: Admin,
    workshop: Text = "",
    state: Text = "",
    location: Text = "",
    q: Text = "",
    since: From = "",
    until: To = "",
) -> Response:
    where = registration_filter(workshop, state, location, q)
    who = audit.console_who(user, client_address(request))
    file = export.registrations_csv(ctx, who, where, day_or_none(since), day_or_none(until))
    return _download(file)


@router.get("/audit.csv")
def audit_csv(
    request: Request,
    ctx: Ctx,
    user: Admin,
    action: Text = "",
    outcome: Text = "",
    actor: Text = "",
    since: From = "",
    until: To = "",
) -> Response:
    where = audit_filter(action, outcome, actor, since, until)
    who = audit.console_who(user, client_address(request))
    return _download(export.audit_csv(ctx, who, where))
