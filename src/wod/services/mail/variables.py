"""What the templates of one email see, read from the database when it is sent: the variables
every email has, then its kind's own (:mod:`wod.services.mail.kinds`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod import i18n
from wod.branding import readable_on_white
from wod.context import AppContext
from wod.db.models import Email, Location, Registration, Seat, Workshop
from wod.domain.levels import badge_earned
from wod.domain.states import ENDED_EARLY, SEAT_HOLDING, EndReason, RegistrationState
from wod.domain.wording import status_text
from wod.errors import MailError
from wod.i18n import _, ngettext
from wod.services import links
from wod.services.mail.kinds import EmailKind


def _time_left(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    hours, rest = divmod(minutes, 60)
    if rest:
        padded = f"{rest:02d}"
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=padded)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


def _when(moment: datetime | None, zone: str | None = None) -> str:
    return i18n.when(moment, zone=zone) if moment else ""


def email_language(session: Session, email: Email) -> str:
    """The language of the registration the email is about; of its payload without one (the
    waiting list's); the default (alerts). The registration is read with its workshop, seat
    and location in one query: the session then has what :func:`email_variables` reads."""
    if email.registration_id is None:
        chosen = str((email.payload or {}).get("language"))
        return chosen if chosen in i18n.LANGUAGES else i18n.DEFAULT
    row = session.execute(
        select(Registration, Workshop, Seat, Location)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .outerjoin(Seat, Seat.id == Registration.seat_id)
        .outerjoin(Location, Location.id == Registration.location_id)
        .where(Registration.id == email.registration_id)
    ).first()
    session.info["wod.mail.rows"] = row  # held: the session's identity map keeps them weakly
    return (row[0].language if row is not None else None) or i18n.DEFAULT


def registered_at(session: Session) -> datetime | None:
    """When the registration :func:`email_language` read was made, or confirmed if it was
    (None for an email of no registration)."""
    row = session.info.get("wod.mail.rows")
    if row is None:
        return None
    holder: Registration = row[0]
    return holder.confirmed_at or holder.created_at


def _common(ctx: AppContext) -> dict[str, Any]:
    settings = ctx.settings
    return {
        "branding": settings.branding,
        "logo_url": settings.absolute_url(settings.branding.logo_url),
        "portal_url": settings.api.public_url,
        "manage_url": None,
        "live": False,
        "can_extend": False,
        "language": i18n.current(),
        "heading_color": readable_on_white(settings.branding.primary_color),
        "button_color": readable_on_white(settings.branding.primary_color),
    }


def email_variables(
    ctx: AppContext, session: Session, email: Email, kind: EmailKind
) -> dict[str, Any]:
    """Every variable of one email of ``kind``, in the current language."""
    registration = None
    variables = _common(ctx)
    if email.registration_id is not None:
        registration = session.get(Registration, email.registration_id)
        if registration is None:
            raise MailError(f"email {email.id}: registration {email.registration_id} is gone")
        variables |= _registration_variables(ctx, session, registration)
    if kind.variables is not None:
        variables |= kind.variables(ctx, email, registration)
    return variables


def _registration_variables(
    ctx: AppContext, session: Session, registration: Registration
) -> dict[str, Any]:
    settings = ctx.settings
    workshop = session.get(Workshop, registration.workshop_id)
    # no seat: unconfirmed (its confirmation email), or over before it got one
    seat = session.get(Seat, registration.seat_id) if registration.seat_id else None
    location = session.get(Location, registration.location_id) if registration.location_id else None
    assert workshop is not None
    live = registration.state in SEAT_HOLDING
    # unconfirmed: nothing to manage yet, and the address has not said it is its owner's
    manage = registration.state is not RegistrationState.unconfirmed and registration.manage_nonce
    badge_page = links.workshop_badge_page(settings, workshop)
    minimum = settings.registration.badge_min_completion
    return {
        "registration": {
            "id": registration.id,
            "name": registration.name,
            "email": registration.email,
            "company": registration.company,
        },
        "workshop": workshop,
        "duration": ngettext("%(num)s hour", "%(num)s hours", workshop.duration_hours),
        "username": seat.username if seat is not None else "",
        "password": _("(no longer available)"),
        "start_url": (
            links.start_url(location, seat, workshop)
            if seat is not None and location is not None
            else None
        ),
        "start_link": (  # one click, no password: only while the seat runs
            links.start_link(settings, ctx.clock.now(), location, seat, workshop)
            if registration.state is RegistrationState.active
            and seat is not None
            and location is not None
            else None
        ),
        "start_link_minutes": round(settings.hub.start_link_validity / 60),
        "workshop_url": links.workshop_url(settings, workshop),
        "manage_url": (  # empty for rows that still await the backfill: no dead link
            links.manage_url(settings, registration.manage_nonce) if manage else None
        ),
        "live": live,
        "can_extend": workshop.extendable and not registration.extended and live,
        "ended_early": registration.ended_reason in ENDED_EARLY,
        "ended_idle": registration.ended_reason == EndReason.idle,
        "extend_minutes": round(settings.registration.extend_by.total_seconds() / 60),
        "ends_at": _when(registration.ends_at, registration.time_zone),
        "time_left": (
            _time_left(registration.ends_at - ctx.clock.now()) if registration.ends_at else ""
        ),
        "status_text": status_text(registration.state),
        "completion": registration.completion,
        "badge": {
            "earned": badge_earned(registration.completion, minimum),
            "min_completion": minimum,
            "image_url": links.workshop_badge_image(settings, workshop),
            "page_url": badge_page,
            "share_url": links.share_url(badge_page),
        },
    }
