"""The console's workshops (``/admin/workshops``): the list, the import preview with its diff,
and the apply bound to that preview's digest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from wod.admin.audit import Action, audited
from wod.admin.page import PATH, Actor, Admin, AdminRoute, redirect, render
from wod.errors import ContentError, Refusal
from wod.services import content
from wod.services.admin import lists
from wod.services.catalogue import importer
from wod.web.deps import Ctx

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/workshops")
def workshop_list(request: Request, ctx: Ctx, user: Admin) -> Response:
    rows = lists.workshops(ctx)
    state = content.content_status(ctx)
    return render(request, ctx, "workshops.html", user, nav="workshops", rows=rows, content=state)


@router.get("/workshops/import")
def import_page(request: Request, ctx: Ctx, user: Admin) -> Response:
    try:
        plan, digest = importer.preview_import(ctx)
    except ContentError as exc:
        return render(
            request, ctx, "import.html", user, nav="workshops", plan=None, problems=exc.problems
        )
    return render(
        request,
        ctx,
        "import.html",
        user,
        nav="workshops",
        plan=plan,
        digest=digest,
        problems=plan.problems,
    )


@router.post("/workshops/import")
def import_apply(
    request: Request, ctx: Ctx, user: Actor, plan: Annotated[str, Form(max_length=100)] = ""
) -> Response:
    """Applies exactly the plan that was shown (its digest), or sends back to the new plan."""

    @audited(ctx, request, user, Action.workshops_import, f"plan {plan[:16]}")
    def apply() -> str:
        applied = importer.apply_previewed(ctx, plan)
        changed = [w for w in applied.workshops if w.action in importer.CHANGING]
        return f"Imported: {len(changed)} workshop(s) changed."

    try:
        message = apply()
    except (Refusal, ContentError) as exc:
        return redirect(ctx, "/admin/workshops/import", exc.message, error=True)
    return redirect(ctx, "/admin/workshops", message)
