"""Unconfirmed registrations (``registration.confirm_email``): made with no seat, no job and one
email, the link that confirms them (:mod:`.confirm`); that link sent again when the address asks
for the same workshop once more.

The link carries a token derived, like the manage token, from a random nonce of the
registration and the secret key (:func:`~wod.domain.secrets.confirm_token`): only the nonce and
the token's hash are stored, so the outbox can render the link when it sends the email and the
database alone cannot give it. It works once: confirming moves the registration out of
``unconfirmed`` by a conditional update.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.domain.secrets import confirm_token, hash_token, new_nonce
from wod.domain.states import RegistrationState
from wod.services.mail.kinds import CONFIRM
from wod.services.mail.queue import queue_email


def ask_confirmation(
    ctx: AppContext, session: Session, registration: Registration, now: datetime
) -> None:
    """Insert ``registration`` (new) as ``unconfirmed`` with its confirmation link, due to
    expire after ``registration.confirm_within``, and queue the email carrying the link."""
    nonce = new_nonce()
    registration.state = RegistrationState.unconfirmed
    registration.confirm_nonce = nonce
    registration.confirm_token_hash = hash_token(
        confirm_token(ctx.settings.secret_key.get_secret_value(), nonce)
    )
    registration.confirm_due_at = now + ctx.settings.registration.confirm_within
    session.add(registration)
    session.flush()
    _queue(session, registration, now)


def unconfirmed_for(session: Session, email: str, workshop_id: int) -> Registration | None:
    """The unconfirmed registration of ``email`` for the workshop, if there is one (a partial
    unique index keeps it to one)."""
    return session.scalar(
        select(Registration).where(
            Registration.email == email,
            Registration.workshop_id == workshop_id,
            Registration.state == RegistrationState.unconfirmed,
        )
    )


def send_confirmation_again(
    ctx: AppContext, session: Session, registration: Registration, now: datetime
) -> bool:
    """Queue the confirmation email of an unconfirmed registration again, with the same link,
    and give it ``registration.confirm_within`` from now — at most once per
    ``registration.already_registered_every`` (a stranger could make an address receive it
    over and over). Whether an email was queued."""
    limits = ctx.settings.registration
    recent = select(Email.id).where(
        Email.registration_id == registration.id,
        Email.kind == CONFIRM.name,
        Email.created_at > now - limits.already_registered_every,
    )
    if session.scalar(recent) is not None:
        return False
    moved = session.execute(  # only while still unconfirmed: a confirmation may have won
        update(Registration)
        .where(
            Registration.id == registration.id,
            Registration.state == RegistrationState.unconfirmed,
        )
        .values(confirm_due_at=now + limits.confirm_within)
        .execution_options(synchronize_session="evaluate")
    )
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    _queue(session, registration, now)
    return True


def _queue(session: Session, registration: Registration, now: datetime) -> None:
    # one key per sending: the first and each one sent again are distinct emails
    key = f"{registration.id}:{CONFIRM.name}:{now.timestamp():.6f}"
    queue_email(session, CONFIRM, registration, now, key=key)
