"""The console's seats (``/admin/seats``): every seat with its state and holder, and the purge
that repairs a broken one."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from wod.admin.audit import Action, audited
from wod.admin.page import (
    PATH,
    Actor,
    Admin,
    AdminRoute,
    Back,
    Confirmed,
    PageNumber,
    Text,
    act,
    confirmation,
    enum_or_none,
    render_list,
)
from wod.domain.states import SeatState
from wod.services import provisioning
from wod.services.admin import lists
from wod.web.deps import Ctx, RowId

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/seats")
def seat_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    location: Text = "",
    state: Text = "",
    page: PageNumber = 1,
) -> Response:
    return render_list(
        request,
        ctx,
        user,
        "seats",
        SeatState,
        page=lists.seats(ctx, location or None, enum_or_none(SeatState, state), page),
        filters={"location": location, "state": state},
        purge_question=PURGE_QUESTION,
    )


PURGE_QUESTION = (
    "Purge seat {number} at {location}? A PURGE job locks the seat out and erases its home; "
    "what it holds cannot be brought back."
)


@router.post("/seats/{location}/{number}/purge")
def purge_seat(
    request: Request,
    ctx: Ctx,
    user: Actor,
    location: str,
    number: RowId,
    back: Back = "",
    confirmed: Confirmed = "",
) -> Response:
    if confirmed != "yes":
        return confirmation(
            request,
            ctx,
            user,
            url=f"/admin/seats/{quote(location, safe='')}/{number}/purge",
            back=back,
            default="/admin/seats",
            label=f"Purge seat {number} at {location}",
            question=PURGE_QUESTION.format(number=number, location=location),
        )

    @audited(ctx, request, user, Action.seat_purge, f"seat {number} at {location}")
    def purge() -> str:
        job = provisioning.purge(ctx, location, number)
        return f"Seat {number} at {location}: PURGE queued as job {job.id}."

    return act(ctx, back, "/admin/seats", purge)
