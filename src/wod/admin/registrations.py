"""The console's registrations (``/admin/registrations``): the list and its actions — end,
extend, purge (stop and erase the person's data)."""

from __future__ import annotations

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
from wod.domain.states import RegistrationState
from wod.services import registrations
from wod.services.admin import lists
from wod.web.deps import Ctx, RowId

router = APIRouter(prefix=PATH, route_class=AdminRoute)
LIST = "/admin/registrations"


def registration_filter(
    workshop: str, state: str, location: str, q: str
) -> lists.RegistrationFilter:
    """The list's filters from its query parameters (empty: not filtered), as its CSV export
    reads them too."""
    return lists.RegistrationFilter(
        workshop or None, enum_or_none(RegistrationState, state), location or None, q or None
    )


@router.get("/registrations")
def registration_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    workshop: Text = "",
    state: Text = "",
    location: Text = "",
    q: Text = "",
    page: PageNumber = 1,
) -> Response:
    where = registration_filter(workshop, state, location, q)
    return render_list(
        request,
        ctx,
        user,
        "registrations",
        RegistrationState,
        page=lists.registrations(ctx, where, page),
        filters={"workshop": workshop, "state": state, "location": location, "q": q},
        questions={"end": END_QUESTION, "purge": PURGE_QUESTION},
    )


#: What ending and purging do, asked before they are done (the list's buttons say it too).
END_QUESTION = (
    "End registration {id} now? The participant's session stops, the seat is cleaned and "
    "the final email is sent. It cannot be undone."
)
PURGE_QUESTION = (
    "Purge registration {id}? It stops at once (no cleanup, no completion, no final email), "
    "its seat is purged, and the person's name, company and address are erased from it and "
    "its emails. It cannot be undone."
)


@router.post("/registrations/{registration_id}/end")
def end_registration(
    request: Request,
    ctx: Ctx,
    user: Actor,
    registration_id: RowId,
    back: Back = "",
    confirmed: Confirmed = "",
) -> Response:
    if confirmed != "yes":
        return confirmation(
            request,
            ctx,
            user,
            url=f"/admin/registrations/{registration_id}/end",
            back=back,
            default=LIST,
            label=f"End registration {registration_id}",
            question=END_QUESTION.format(id=registration_id),
        )

    @audited(ctx, request, user, Action.registration_end, f"registration {registration_id}")
    def end() -> str:
        registrations.end_now(ctx, registration_id, by_admin=True)
        return f"Registration {registration_id} is ending: its seat is being cleaned."

    return act(ctx, back, LIST, end)


@router.post("/registrations/{registration_id}/extend")
def extend_registration(
    request: Request, ctx: Ctx, user: Actor, registration_id: RowId, back: Back = ""
) -> Response:
    @audited(ctx, request, user, Action.registration_extend, f"registration {registration_id}")
    def extend() -> str:
        status = registrations.extend(ctx, registration_id)
        ends = status.ends_at.strftime("%Y-%m-%d %H:%M UTC") if status.ends_at else "?"
        return f"Registration {registration_id} extended: it now ends at {ends}."

    return act(ctx, back, LIST, extend)


@router.post("/registrations/{registration_id}/purge")
def purge_registration(
    request: Request,
    ctx: Ctx,
    user: Actor,
    registration_id: RowId,
    back: Back = "",
    confirmed: Confirmed = "",
) -> Response:
    if confirmed != "yes":
        return confirmation(
            request,
            ctx,
            user,
            url=f"/admin/registrations/{registration_id}/purge",
            back=back,
            default=LIST,
            label=f"Purge registration {registration_id}",
            question=PURGE_QUESTION.format(id=registration_id),
        )

    @audited(ctx, request, user, Action.registration_purge, f"registration {registration_id}")
    def purge() -> str:
        return registrations.purge_registration(ctx, registration_id).describe()

    return act(ctx, back, LIST, purge)
