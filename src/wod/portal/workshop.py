"""A workshop's page with its registration form (``/workshops/{slug}``; when it is full, the
same form joins its waiting list, :mod:`wod.portal.waitlist`), and the form's answer: the page
again with every problem inline and in a summary, or a redirect to the registration's live
status page (:mod:`wod.portal.status`; the form sent again leads there too)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from wod import i18n
from wod.db.models import Registration
from wod.errors import AlreadyRegistered, InvalidInput, Refusal, WorkshopFull
from wod.i18n import _
from wod.portal.page import local, not_found, render, snapshot
from wod.services import links, registrations
from wod.services.catalogue import WorkshopView, find_any_workshop
from wod.services.registrations import RegistrationRequest, progress
from wod.web import csrf
from wod.web.deps import Ctx, client_address
from wod.web.problems import status_of

router = APIRouter(include_in_schema=False)
#: The cookie in which the browser keeps the status page of its last registration, and for
#: how long (seconds).
REGISTERED_COOKIE = "wod_registered"
REGISTERED_MAX_AGE = 86400

#: The registration form's fields, in order, with their labels (error summary links).
FIELDS = {
    "email": i18n.N_("Email"),
    "name": i18n.N_("Full name"),
    "company": i18n.N_("Company"),
    "accept_terms": i18n.N_("Terms and conditions"),
}


def workshop_page(
    request: Request, ctx: Ctx, slug: str, status: int = 200, **values: Any
) -> Response:
    current = snapshot(request)
    view = current.find(slug) if current else None
    if view is None:
        view = find_any_workshop(ctx, slug)
    if view is None:
        return not_found(request, slug)
    values.setdefault("form", {})
    values.setdefault("errors", {})
    settings = ctx.settings
    w = view.workshop
    return render(
        request,
        "workshop.html",
        status=status,
        view=view,
        fields={field: _(label) for field, label in FIELDS.items()},
        avatar=local(settings, links.avatar_url(settings, w)),
        cover=local(settings, links.workshop_cover(settings, w)),
        badge_minimum=settings.registration.badge_min_completion,
        badge_image=local(settings, links.workshop_badge_image(settings, w)),
        badge_page=local(settings, links.workshop_badge_page(settings, w)),
        og_image=links.workshop_badge_image(settings, w),
        waitlist=settings.waitlist.enabled and w.active and not view.seats_left,
        **values,
    )


def others_with_seats(request: Request, slug: str) -> list[WorkshopView]:
    """Up to six other workshops with seats left, for a page that says one is full."""
    current = snapshot(request)
    if current is None:
        return []
    return [v for v in current.views if v.seats_left and v.workshop.slug != slug][:6]


@router.get("/workshops/{slug}", response_class=HTMLResponse)
def workshop(request: Request, ctx: Ctx, slug: str) -> Response:
    return workshop_page(request, ctx, slug)


class ParticipantForm(BaseModel):
    """The fields of the workshop page's registration form, which the waiting list's form
    shares (as typed: the service validates them)."""

    email: str = Field("", max_length=1000)
    name: str = Field("", max_length=1000)
    company: str = Field("", max_length=1000)
    accept_terms: str = Field("", max_length=10)
    csrf_token: str = Field("", max_length=100)
    #: The browser's time zone (IANA name), filled in by the page's script.
    time_zone: str = Field("", max_length=100)

    def shown(self) -> dict[str, Any]:
        """What the form shows again when it is refused."""
        return {
            "email": self.email,
            "name": self.name,
            "company": self.company,
            "accept_terms": bool(self.accept_terms),
        }

    def asked(self, slug: str) -> RegistrationRequest:
        return RegistrationRequest(
            slug,
            self.email,
            self.name,
            self.company,
            self.accept_terms == "yes",
            language=i18n.current(),
            time_zone=self.time_zone,
        )

    def stale(self, request: Request, ctx: Ctx, slug: str) -> Response | None:
        """The workshop page again (403) when the form's CSRF token is not valid."""
        if csrf.valid(request, self.csrf_token):
            return None
        summary = _("Your form expired; please submit it again.")
        return workshop_page(request, ctx, slug, 403, form=self.shown(), summary=summary)


@router.post("/workshops/{slug}/register", response_class=HTMLResponse)
def register_form(
    request: Request, ctx: Ctx, slug: str, form: Annotated[ParticipantForm, Form()]
) -> Response:
    stale = form.stale(request, ctx, slug)
    if stale is not None:
        return stale
    kept = request.cookies.get(REGISTERED_COOKIE, "")
    if kept and progress.live_for_form(ctx, kept, slug, form.email):
        return RedirectResponse(f"/status/{kept}", 303)  # sent again: nothing new to do
    try:
        registration = registrations.register(ctx, form.asked(slug), client=client_address(request))
    except Refusal as exc:
        return refused(request, ctx, slug, form.shown(), exc)
    return registered(ctx, slug, registration)


def registered(ctx: Ctx, slug: str, registration: Registration) -> Response:
    """Post/Redirect/Get: the status page of the new registration (the browser keeps its
    token, for the form sent again), or the page that says to confirm the address."""
    token = progress.status_token(ctx, registration)
    if token is None:
        return RedirectResponse(f"/workshops/{slug}/registered", 303)
    response = RedirectResponse(f"/status/{token}", 303)
    response.set_cookie(
        REGISTERED_COOKIE,
        token,
        max_age=REGISTERED_MAX_AGE,
        httponly=True,
        samesite="strict",
        secure=ctx.settings.api.public_url.startswith("https"),
        path="/workshops",
    )
    return response


@router.get("/workshops/{slug}/registered", response_class=HTMLResponse)
def check_mailbox(request: Request, slug: str) -> Response:
    """After registering with ``registration.confirm_email``: confirm the address first."""
    return render(request, "check_mailbox.html", with_csrf=False, slug=slug)


def refused(
    request: Request, ctx: Ctx, slug: str, form: dict[str, Any], refusal: Refusal
) -> Response:
    """The form again, saying why the registration (or joining the waiting list) was
    refused."""
    values: dict[str, Any] = {"form": form, "summary": refusal.message}
    if isinstance(refusal, InvalidInput):
        order = list(FIELDS)
        problems = sorted(
            refusal.problems, key=lambda p: order.index(p.field) if p.field in order else 9
        )
        values["errors"] = {p.field: p.message for p in problems}
        values["summary"] = _("Please correct the fields below.")
    elif isinstance(refusal, AlreadyRegistered):
        values["summary"] = _(
            "This address already has a workshop running: one workshop at a time. We have "
            "emailed it the link to manage that registration (see the time left, or end it)."
        )
    elif isinstance(refusal, WorkshopFull):
        values["others"] = others_with_seats(request, slug)
    return workshop_page(request, ctx, slug, status_of(refusal), **values)
