"""An admin's second try at an email.

**Resending an email** puts the *same* outbox row back to ``pending`` (``sent → pending`` or
``failed → pending`` in the transition table), with its attempts counted from zero: the
one-email-per-(registration, kind) dedupe key is untouched, and the outbox sends it again,
rendered from the registration as it is now. An email still waiting to be sent, or of a purged
registration, is not resent; neither is a welcome, credentials, reminder or "already registered"
email once its registration is no longer live, nor a confirmation email once its registration is
no longer unconfirmed (what it says no longer holds): the rule of each kind is its row's
``liveness`` in :mod:`wod.services.mail.kinds`.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.db.transitions import move
from wod.domain.states import SEAT_HOLDING, EmailState, RegistrationState
from wod.errors import InvalidState, MailError, NotFound
from wod.services.mail.kinds import Liveness, kind_named


def resend_email(ctx: AppContext, email_id: int) -> Email:
    """Send an email again: the same outbox row back to ``pending`` (see the module)."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        email = session.get(Email, email_id)
        if email is None:
            raise NotFound(f"No email {email_id}.")
        check_resendable(session, email)
        move(
            session,
            email,
            EmailState.pending,
            attempts=0,
            next_attempt_at=now,
            last_error=None,
            lease_until=None,
            message_id=None,  # a new sending: mail clients must not drop it as a duplicate
        )
        return email


def check_resendable(session: Session, email: Email) -> None:
    """:class:`InvalidState` saying why ``email`` is not resent, if it is not."""
    if email.state not in (EmailState.sent, EmailState.failed):
        raise InvalidState(f"Email {email.id} is {email.state.value}: it is not sent yet.")
    if email.registration_id is None:
        return
    registration = session.get(Registration, email.registration_id)
    if registration is None:
        raise InvalidState(f"Email {email.id}: its registration is gone.")
    if registration.erased_at is not None:
        raise InvalidState(f"Registration {registration.id} was purged: its emails are not resent.")
    try:
        liveness = kind_named(email.kind).liveness
    except MailError as exc:
        raise InvalidState(exc.message) from exc
    live = {
        Liveness.always: True,
        Liveness.seat_held: registration.state in SEAT_HOLDING,
        Liveness.active: registration.state is RegistrationState.active,
        Liveness.unconfirmed: registration.state is RegistrationState.unconfirmed,
    }[liveness]
    if not live:
        raise InvalidState(
            f"The {email.kind} email is not resent: registration {registration.id} is "
            f"{registration.state.value}, so what it says no longer holds."
        )
