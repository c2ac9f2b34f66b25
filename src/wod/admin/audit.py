"""The console's audit log (``/admin/audit``): every recorded action, filtered and paged, and
:func:`audited`, which records the console's actions with how they went."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from datetime import date
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from wod.admin.page import PATH, Admin, AdminRoute, PageNumber, Text, enum_or_none, render_list
from wod.context import AppContext
from wod.errors import ContentError, Refusal
from wod.services.admin import audit
from wod.services.admin.audit import Action, AuditFilter, Outcome
from wod.services.admin.sessions import AdminIdentity
from wod.web.deps import Ctx, client_address

__all__ = ["Action", "From", "To", "audited", "router"]

router = APIRouter(prefix=PATH, route_class=AdminRoute)
log = logging.getLogger(__name__)
T = TypeVar("T")
#: A period's first and last days in a query (``?from=2026-11-01&to=2026-11-30``).
From = Annotated[str, Query(alias="from", max_length=20)]
To = Annotated[str, Query(alias="to", max_length=20)]


def audited(
    ctx: AppContext, request: Request, user: AdminIdentity, action: Action, target: str = ""
) -> Callable[[Callable[[], T]], Callable[[], T]]:
    """An action of the console, recorded in the audit log once it ran: done (with the
    answer it gives, when it is text), refused (with the refusal), or failed."""

    def decorate(run: Callable[[], T]) -> Callable[[], T]:
        @functools.wraps(run)
        def wrapped() -> T:
            who = audit.console_who(user, client_address(request))
            try:
                value = run()
            except (Refusal, ContentError) as exc:
                audit.record(ctx, who, action, target, outcome=Outcome.refused, detail=exc.message)
                raise
            except Exception as exc:
                try:
                    detail = type(exc).__name__
                    audit.record(ctx, who, action, target, outcome=Outcome.failed, detail=detail)
                except Exception:  # the database may be why it failed: the error comes first
                    log.exception("audit: %s of %s not recorded", action, user.username)
                raise
            audit.record(ctx, who, action, target, detail=value if isinstance(value, str) else "")
            return value

        return wrapped

    return decorate


def day_or_none(value: str) -> date | None:
    """A filter's date (``YYYY-MM-DD``), or None for any (empty or not a date)."""
    try:
        return date.fromisoformat(value.strip()) if value.strip() else None
    except ValueError:
        return None


def audit_filter(action: str, outcome: str, actor: str, since: str, until: str) -> AuditFilter:
    """The filters of the page (and of its export) as asked."""
    return AuditFilter(
        enum_or_none(Action, action),
        enum_or_none(Outcome, outcome),
        actor or None,
        day_or_none(since),
        day_or_none(until),
    )


@router.get("/audit")
def audit_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    action: Text = "",
    outcome: Text = "",
    actor: Text = "",
    since: From = "",
    until: To = "",
    page: PageNumber = 1,
) -> Response:
    filters = {"action": action, "outcome": outcome, "actor": actor, "from": since, "to": until}
    found = audit.events(ctx, audit_filter(action, outcome, actor, since, until), page)
    return render_list(
        request,
        ctx,
        user,
        "audit",
        Outcome,
        page=found,
        filters=filters,
        actions=[a.value for a in Action],
        export="/admin/audit.csv?" + urlencode({k: v for k, v in filters.items() if v}),
    )
