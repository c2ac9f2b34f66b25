"""A seat's lab: what the seat's JupyterLab extension shows and does with its lab token.

The lab token is written into the seat's home by the agent's CREATE (``JobOrder.lab_token``);
the api keeps only its hash on the seat. It answers only while a registration holding that
seat is active, for that registration's ``/api/v1/seat/…`` routes, and its hash is cleared
when the registration ends. Extend and End now are the manage page's own services.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod import i18n
from wod.context import AppContext
from wod.db.models import Registration, Seat, Workshop
from wod.domain.levels import badge_earned
from wod.domain.secrets import LAB_PREFIX, hash_token, same_token, timesup_token
from wod.domain.states import RegistrationState
from wod.errors import NotFound
from wod.i18n import _
from wod.services import links
from wod.services.registrations import manage


@dataclass(frozen=True)
class LabStatus:
    """What ``GET /api/v1/seat/status`` answers."""

    now: datetime
    status: RegistrationState
    workshop: str
    workshop_name: str
    ends_at: datetime | None
    seconds_left: int
    can_extend: bool
    extend_by_minutes: int
    badge_min_completion: int
    timesup_url: str | None
    language: str
    texts: dict[str, str]


def registration_id_for_lab_token(ctx: AppContext, token: str) -> int | None:
    """The active registration holding the seat whose lab token this is, or None (an unknown
    token, or one whose seat holds no active registration)."""
    if not token.startswith(LAB_PREFIX + "_"):
        return None
    with ctx.db.read() as session:
        return session.scalar(
            select(Registration.id)
            .join(Seat, Seat.id == Registration.seat_id)
            .where(
                Seat.lab_token_hash == hash_token(token),
                Registration.state == RegistrationState.active,
            )
        )


def lab_status(ctx: AppContext, registration_id: int) -> LabStatus:
    """The registration's time, state and badge rule, as its lab shows them."""
    with ctx.db.read() as session:
        registration = session.get(Registration, registration_id)
        if registration is None:
            raise NotFound(f"No registration {registration_id}.")
        return _status(ctx, session, registration)


def lab_extend(ctx: AppContext, registration_id: int) -> LabStatus:
    """Extend once, from the lab (the manage page's service)."""
    manage.extend(ctx, registration_id)
    return lab_status(ctx, registration_id)


def lab_end(ctx: AppContext, registration_id: int) -> LabStatus:
    """End now, from the lab (the manage page's service): the seat is cleaned, the final
    email follows."""
    manage.end_now(ctx, registration_id, by_admin=False)
    return lab_status(ctx, registration_id)


def _status(ctx: AppContext, session: Session, registration: Registration) -> LabStatus:
    workshop = session.get(Workshop, registration.workshop_id)
    assert workshop is not None
    now = ctx.clock.now()
    left = (registration.ends_at - now).total_seconds() if registration.ends_at else 0
    settings = ctx.settings.registration
    with i18n.use(registration.language) as language:
        texts = lab_texts()
    return LabStatus(
        now=now,
        status=registration.state,
        workshop=workshop.slug,
        workshop_name=workshop.name,
        ends_at=registration.ends_at,
        seconds_left=max(0, int(left)),
        can_extend=(
            registration.state is RegistrationState.active
            and workshop.extendable
            and not registration.extended
        ),
        extend_by_minutes=int(settings.extend_by.total_seconds() // 60),
        badge_min_completion=settings.badge_min_completion,
        timesup_url=timesup_url(ctx, registration),
        language=language,
        texts=texts,
    )


def timesup_url(ctx: AppContext, registration: Registration) -> str | None:
    """The portal's "Time's up" page of the registration (None once its data was erased)."""
    if not registration.manage_nonce:
        return None
    token = timesup_token(ctx.settings.secret_key.get_secret_value(), registration.manage_nonce)
    return ctx.settings.absolute_url(f"/timesup/{registration.id}/{token}")


@dataclass(frozen=True)
class TimesUp:
    """What the "Time's up" page shows: the outcome, nothing personal."""

    workshop_name: str
    status: RegistrationState
    completion: int | None
    badge_min_completion: int
    badge_earned: bool
    badge_page: str
    workshop_url: str


def times_up(ctx: AppContext, registration_id: int, token: str) -> TimesUp | None:
    """The "Time's up" page of the registration this token opens, or None."""
    with ctx.db.read() as session:
        registration = session.get(Registration, registration_id)
        if registration is None or not registration.manage_nonce:
            return None
        secret = ctx.settings.secret_key.get_secret_value()
        expected = timesup_token(secret, registration.manage_nonce)
        if not same_token(token, hash_token(expected)):
            return None
        workshop = session.get(Workshop, registration.workshop_id)
        assert workshop is not None
        minimum = ctx.settings.registration.badge_min_completion
        ended = registration.state is RegistrationState.ended
        return TimesUp(
            workshop_name=workshop.name,
            status=registration.state,
            completion=registration.completion,
            badge_min_completion=minimum,
            badge_earned=ended and badge_earned(registration.completion, minimum),
            badge_page=links.workshop_badge_page(ctx.settings, workshop),
            workshop_url=links.workshop_url(ctx.settings, workshop),
        )


def lab_texts() -> dict[str, str]:
    """The lab extension's words in the current language (the extension has none of its own:
    every word it shows comes from here, through the catalogues ``wod i18n check`` checks)."""
    return {
        "panel_title": _("Workshop"),
        "time_left": _("Time left"),
        "time_left_short": _("%(time)s left"),
        "ends_at": _("Ends at %(time)s"),
        "extend": _("Extend by %(minutes)s min"),
        "extended": _("Extended"),
        "end_now": _("End now"),
        "cancel": _("Cancel"),
        "end_title": _("End the workshop now?"),
        "end_body": _(
            "Your seat is cleaned and you cannot come back to it. The badge needs "
            "%(threshold)s %% of the code cells run; you have run %(percent)s %%."
        ),
        "end_badge_yes": _("You would earn the badge."),
        "end_badge_no": _("You would not earn the badge."),
        "progress": _("Progress toward the badge"),
        "progress_cells": _("%(done)s of %(total)s code cells run (%(percent)s %%)"),
        "threshold": _("The badge needs %(threshold)s %%."),
        "reminder": _("%(minutes)s minutes left in the workshop."),
        "reminder_extend": _("You can extend it once from the Workshop panel."),
        "unreachable": _("The workshop's status cannot be reached just now."),
    }
