"""The console's emails (``/admin/emails``): the outbox, one email as it was sent (password and
manage link hidden), and its resend."""

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
    PageNumber,
    Text,
    act,
    enum_or_none,
    render,
    render_list,
)
from wod.domain.states import EmailState
from wod.services import mail
from wod.services.admin import details, lists
from wod.web.deps import Ctx, RowId

router = APIRouter(prefix=PATH, route_class=AdminRoute)


@router.get("/emails")
def email_list(
    request: Request,
    ctx: Ctx,
    user: Admin,
    state: Text = "",
    kind: Text = "",
    recipient: Text = "",
    page: PageNumber = 1,
) -> Response:
    found = lists.emails(
        ctx, enum_or_none(EmailState, state), kind or None, recipient or None, page
    )
    return render_list(
        request,
        ctx,
        user,
        "emails",
        EmailState,
        page=found,
        filters={"state": state, "kind": kind, "recipient": recipient},
    )


@router.get("/emails/{email_id}")
def email_page(request: Request, ctx: Ctx, user: Admin, email_id: RowId) -> Response:
    detail = details.email_detail(ctx, email_id)
    return render(request, ctx, "email.html", user, nav="emails", detail=detail)


@router.post("/emails/{email_id}/resend")
def resend_email(
    request: Request, ctx: Ctx, user: Actor, email_id: RowId, back: Back = ""
) -> Response:
    @audited(ctx, request, user, Action.email_resend, f"email {email_id}")
    def resend() -> str:
        email = mail.resend_email(ctx, email_id)
        return f"Email {email_id} ({email.kind}) will be sent again."

    return act(ctx, back, "/admin/emails", resend)
