"""The outbox worker: queued emails (:mod:`.queue`) delivered with retries and exponential
backoff.

Emails are rendered when they are sent, from the registration as it is then: no body, and no
seat password, is ever stored in the outbox. Emails of one registration go out in order. A row
whose kind is not registered (:mod:`.kinds`) fails at once: retrying cannot help it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, aliased

from wod import i18n, metrics
from wod.context import AppContext
from wod.db.models import Email
from wod.db.session import unavailable
from wod.db.transitions import move
from wod.domain.states import EmailState, check_transition
from wod.errors import InvalidState, MailError
from wod.mail.render import (
    RenderedEmail,
    build_message,
    new_message_id,
    render_email,
    template_dirs,
)
from wod.services.mail.kinds import EmailKind, kind_named
from wod.services.mail.variables import email_language, email_variables, registered_at

log = logging.getLogger(__name__)


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
    """Take one email for sending, in one conditional update: a pending one, or one whose
    worker died (its lease ran out); None when another worker took it first."""
    check_transition(EmailState.pending, EmailState.sending)
    takeable = or_(
        Email.state == EmailState.pending,
        and_(
            Email.state == EmailState.sending,
            or_(Email.lease_until.is_(None), Email.lease_until < now),
        ),
    )
    with ctx.db.write() as session:
        # the id is chosen before the first attempt and kept: when a relay took an email but
        # its answer was lost, the next attempt carries the same Message-ID, and relays and
        # mail clients that see it twice keep one
        message_id = func.coalesce(Email.message_id, new_message_id(ctx.settings.branding.sender))
        return session.scalars(
            update(Email)
            .where(Email.id == email_id, takeable)
            .values(
                state=EmailState.sending,
                lease_until=now + timedelta(seconds=ctx.settings.outbox.send_lease),
                message_id=message_id,
            )
            .returning(Email),
            execution_options={"populate_existing": True, "synchronize_session": False},
        ).first()


def send_due(ctx: AppContext, limit: int = 50) -> int:
    """Send the emails that are due; returns how many were sent. One pass is one batch: the
    mailer's connection serves it and is closed at its end."""
    try:
        return _send_batch(ctx, limit)
    finally:
        ctx.mailer.close()


def _send_batch(ctx: AppContext, limit: int) -> int:
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


def render_kind(ctx: AppContext, kind: EmailKind, variables: Mapping[str, Any]) -> RenderedEmail:
    """An email of ``kind`` from its variables, in the current language; the content layers'
    templates win over the kind's own, which win over the package's."""
    dirs = template_dirs(ctx.settings.content.paths) + kind.template_dirs()
    return render_email(kind.name, variables, dirs)


def _deliver(ctx: AppContext, email: Email) -> int:
    settings = ctx.settings
    try:
        kind = kind_named(email.kind)
    except MailError as exc:
        _give_up(ctx, email, str(exc))
        return 0
    try:
        with ctx.db.read() as session:
            language = email_language(session, email)
            registered = registered_at(session)
            with i18n.use(language):
                variables = email_variables(ctx, session, email, kind)
        with i18n.use(language):
            rendered = render_kind(ctx, kind, variables)
        message = build_message(
            rendered,
            sender=settings.branding.sender,
            sender_name=settings.branding.wod_name,
            recipient=email.recipient,
            message_id=email.message_id,
        )
        ctx.mailer.send(message)
    except MailError as exc:
        _retry(ctx, email, str(exc))
        return 0
    except Exception as exc:  # a rendering bug must not leave the email leased forever
        log.exception("email %s could not be built", email.id)
        _retry(ctx, email, f"could not be built: {exc}")
        return 0
    for pause in _pauses(ctx.settings.outbox.send_lease):
        try:
            _record_sent(ctx, email, rendered.subject, registered)
            break
        except DBAPIError as exc:
            # The relay has the email: forgetting it had would send it again once its lease
            # ran out. While the database cannot answer, and within the lease, try again.
            if pause is None or not unavailable(exc):
                raise
            log.warning("email %s sent, not yet recorded (database unavailable)", email.id)
            time.sleep(pause)
    log.info("email %s sent: %s to registration %s", email.id, email.kind, email.registration_id)
    return 1


def _pauses(within: float) -> Iterator[float | None]:
    """Growing pauses whose sum stays under ``within`` seconds, then None (the last try)."""
    spent, pause = 0.0, 0.25
    while spent + pause < within / 2:
        yield pause
        spent, pause = spent + pause, min(pause * 2, 5.0)
    yield None


def _record_sent(ctx: AppContext, email: Email, subject: str, registered: datetime | None) -> None:
    """Record the email ``email`` (as leased) sent, in one conditional update; ``registered``
    is when its registration was made or confirmed, for the provisioning time metric."""
    check_transition(EmailState.sending, EmailState.sent)
    with ctx.db.write() as session:  # counted once it committed: a retried write counts once
        recorded = session.execute(
            update(Email)
            .where(Email.id == email.id, Email.state == EmailState.sending)
            .values(
                state=EmailState.sent,
                subject=subject,
                sent_at=ctx.clock.now(),
                attempts=Email.attempts + 1,
                last_error=None,
                lease_until=None,
            )
        )
        if recorded.rowcount != 1:  # type: ignore[attr-defined]
            state, attempts = session.execute(
                select(Email.state, Email.attempts).where(Email.id == email.id)
            ).one()
            if state is EmailState.sent and attempts > email.attempts:
                return  # an earlier try committed, its answer was lost with the connection
            raise InvalidState(f"Email {email.id} is no longer sending")
    first = email.sent_at is None  # sent again by an admin: not a provision to time
    metrics.email_sent(email.kind, registered if first else None, ctx.clock.now())


def _give_up(ctx: AppContext, email: Email, error: str) -> None:
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        move(session, row, EmailState.failed, attempts=row.attempts + 1, last_error=error)
        metrics.email_failed(row.kind, given_up=True)
    log.error("email %s given up at once: %s", email.id, error)


def _retry(ctx: AppContext, email: Email, error: str) -> None:
    outbox = ctx.settings.outbox
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        attempts = row.attempts + 1
        metrics.email_failed(row.kind, given_up=attempts >= outbox.attempts)
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
