"""The live status page a browser goes to after registering (``/status/<manage token>``):
waiting, then ready with a start button, so that a participant can begin without the email.

Only a registration made without an email confirmation has one: one made unconfirmed was made
by a browser that has not shown it owns the address, and its seat must not reach that
browser, even once the address confirmed."""

from __future__ import annotations

from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

from wod.context import AppContext
from wod.db.models import Registration, Workshop
from wod.domain.secrets import manage_token
from wod.domain.states import RegistrationState
from wod.services.registrations.manage import RegistrationStatus, registration_for_token, status_of

#: The states in which the page still waits for the seat.
WAITING = frozenset({RegistrationState.queued, RegistrationState.provisioning})


@dataclass(frozen=True)
class Progress:
    """What the status page shows: the registration's status and whether it may start."""

    status: RegistrationStatus
    email: str
    waiting: bool
    ready: bool


def status_token(ctx: AppContext, registration: Registration) -> str | None:
    """The token of the status page of a registration just made, or None when it has none
    (unconfirmed: the address must confirm first)."""
    if registration.state is RegistrationState.unconfirmed or not registration.manage_nonce:
        return None
    return manage_token(ctx.settings.secret_key.get_secret_value(), registration.manage_nonce)


def progress_for_token(ctx: AppContext, token: str) -> Progress | None:
    """The status page of ``token``, or None for a token of no registration that has one."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        if registration is None or registration.confirm_nonce:
            return None
        status = status_of(ctx, session, registration)
        email = registration.email
    ready = status.status is RegistrationState.active and status.hub_url is not None
    return Progress(status, email, status.status in WAITING, ready)


def _normalized(email: str) -> str:
    try:
        return validate_email(email.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return email.strip().lower()


def live_for_form(ctx: AppContext, token: str, slug: str, email: str) -> bool:
    """Whether ``token`` (the one the browser kept from its last registration) is that of a
    registration of workshop ``slug`` by ``email`` that still waits or runs: the form sent
    again (back button, a second click) then leads to its status page instead of registering
    again."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        if registration is None or registration.confirm_nonce:
            return False
        if registration.state not in WAITING | {RegistrationState.active}:
            return False
        workshop = session.get(Workshop, registration.workshop_id)
        same_workshop = workshop is not None and workshop.slug.lower() == slug.strip().lower()
        return same_workshop and registration.email == _normalized(email)
