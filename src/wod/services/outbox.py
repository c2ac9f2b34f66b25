"""The email outbox: rows queued inside the transaction that decides to send them, delivered by
a worker with retries and exponential backoff, at most once per dedupe key.

Emails are rendered when they are sent, from the registration as it is then: no body, and no
seat password, is ever stored in the outbox. Emails of one registration go out in order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from wod.content.variables import content_folder_name
from wod.context import AppContext
from wod.db.models import Email, Location, Registration, Seat, Workshop
from wod.domain.states import EmailState
from wod.errors import InvalidState, MailError
from wod.mail.render import build_message, render_email
from wod.services.transitions import move

log = logging.getLogger(__name__)
SEND_LEASE = timedelta(minutes=2)


def queue_email(session: Session, kind: str, registration: Registration, now: datetime) -> None:
    """Queue one email of ``kind`` for the registration, unless it was already queued (the
    unique dedupe key decides, also against a concurrent transaction)."""
    key = f"{registration.id}:{kind}"
    if session.scalar(select(Email.id).where(Email.dedupe_key == key)) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                Email(
                    registration_id=registration.id,
                    kind=kind,
                    recipient=registration.email,
                    dedupe_key=key,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        log.info("email %s already queued by another transaction", key)


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    earlier = aliased(Email)
    blocked = exists().where(
        and_(
            earlier.registration_id == Email.registration_id,
            earlier.id < Email.id,
            earlier.state.in_((EmailState.pending, EmailState.sending)),
        )
    )
    stale = and_(Email.state == EmailState.sending, Email.lease_until < now)
    pending = and_(Email.state == EmailState.pending, Email.next_attempt_at <= now)
    query = select(Email.id).where(pending | stale).where(~blocked).order_by(Email.id).limit(limit)
    return list(session.scalars(query))


def _lease(ctx: AppContext, email_id: int, now: datetime) -> Email | None:
    """Take one email for sending; None when another worker took it first."""
    try:
        with ctx.db.write() as session:
            email = session.get(Email, email_id)
            if email is None:
                return None
            if email.state is EmailState.sending:
                if email.lease_until is not None and email.lease_until >= now:
                    return None
                move(session, email, EmailState.pending)  # its worker died: take it over
            if email.state is not EmailState.pending:
                return None
            move(session, email, EmailState.sending, lease_until=now + SEND_LEASE)
            return email
    except InvalidState:  # another worker changed it between our read and our update
        return None


def send_due(ctx: AppContext, limit: int = 50) -> int:
    """Send the emails that are due; returns how many were sent."""
    sent = 0
    while sent < limit:  # again after a batch: sending one email may unblock the next
        now = ctx.clock.now()
        with ctx.db.read() as session:
            due = _due(session, now, limit - sent)
        batch = 0
        for email_id in due:
            email = _lease(ctx, email_id, now)
            if email is not None:
                batch += _deliver(ctx, email)
        sent += batch
        if batch == 0:
            break
    return sent


def _deliver(ctx: AppContext, email: Email) -> int:
    assert ctx.mailer is not None
    settings = ctx.settings
    try:
        with ctx.db.read() as session:
            variables = email_variables(ctx, session, email)
        rendered = render_email(email.kind, variables)
        message = build_message(
            rendered,
            sender=settings.branding.sender,
            sender_name=settings.branding.wod_name,
            recipient=email.recipient,
        )
        ctx.mailer.send(message)
    except MailError as exc:
        _retry(ctx, email, str(exc))
        return 0
    except Exception as exc:  # a rendering bug must not leave the email leased forever
        log.exception("email %s could not be built", email.id)
        _retry(ctx, email, f"could not be built: {exc}")
        return 0
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        move(
            session,
            row,
            EmailState.sent,
            subject=rendered.subject,
            sent_at=ctx.clock.now(),
            attempts=row.attempts + 1,
            last_error=None,
            lease_until=None,
        )
    log.info("email %s sent: %s to registration %s", email.id, email.kind, email.registration_id)
    return 1


def _retry(ctx: AppContext, email: Email, error: str) -> None:
    outbox = ctx.settings.outbox
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        attempts = row.attempts + 1
        if attempts >= outbox.attempts:
            move(session, row, EmailState.failed, attempts=attempts, last_error=error)
            log.error("email %s given up after %s attempts: %s", row.id, attempts, error)
            return
        delay = timedelta(seconds=outbox.backoff * 2 ** (attempts - 1))
        move(
            session,
            row,
            EmailState.pending,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + delay,
            lease_until=None,
        )
        log.warning(
            "email %s not sent (attempt %s), retry in %s: %s", row.id, attempts, delay, error
        )


def email_variables(ctx: AppContext, session: Session, email: Email) -> dict[str, Any]:
    """What the templates of one email see, read from the database when it is sent."""
    settings = ctx.settings
    registration = session.get(Registration, email.registration_id)
    if registration is None:
        raise MailError(f"email {email.id}: registration {email.registration_id} is gone")
    workshop = session.get(Workshop, registration.workshop_id)
    seat = session.get(Seat, registration.seat_id)
    location = session.get(Location, registration.location_id)
    assert workshop is not None and seat is not None and location is not None
    password = None
    if email.kind == "credentials" and registration.password_enc:
        password = ctx.secret_box.open(registration.password_enc)
    folder = content_folder_name(workshop.slug)
    start = f"/user/{seat.username}/lab/tree/{folder}/0-ReadMeFirst.ipynb"
    return {
        "branding": settings.branding,
        "logo_url": settings.absolute_url(settings.branding.logo_url),
        "language": registration.language,
        "registration": registration,
        "workshop": workshop,
        "username": seat.username,
        "password": password or "(no longer available)",
        "start_url": f"{location.hub_public_url}/hub/login?next={start}",
        "ends_at": registration.ends_at.strftime("%H:%M UTC on %d %b %Y")
        if registration.ends_at
        else "",
        "completion": registration.completion if registration.completion is not None else 0,
        "portal_url": settings.api.public_url,
    }
