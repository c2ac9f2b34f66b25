"""Queuing emails: rows added inside the transaction that decides to send them, at most one per
dedupe key; the outbox worker (:mod:`.outbox`) delivers them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.db.models import Email, Registration
from wod.notify import Topic, note
from wod.services.mail.kinds import ADMIN_ALERT, EmailKind, kind_named

log = logging.getLogger(__name__)


def queue_email(
    session: Session,
    kind: EmailKind,
    registration: Registration | None,
    now: datetime,
    *,
    key: str | None = None,
    payload: dict[str, Any] | None = None,
    recipient: str | None = None,
) -> bool:
    """Queue one email; by default one per (registration, kind). Returns False when an email
    with the same dedupe key exists (queued by this or a concurrent transaction)."""
    kind_named(kind.name)  # an unregistered kind is refused here, not when sending
    if key is None:
        assert registration is not None
        key = f"{registration.id}:{kind.name}"
    if session.scalar(select(Email.id).where(Email.dedupe_key == key)) is not None:
        return False
    to = recipient or (registration.email if registration is not None else None)
    assert to is not None
    try:
        with session.begin_nested():
            session.add(
                Email(
                    registration_id=registration.id if registration is not None else None,
                    kind=kind.name,
                    recipient=to,
                    dedupe_key=key,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        log.info("email %s already queued by another transaction", key)
        return False
    note(session, Topic.work)
    return True


def alert_admins(
    session: Session, recipients: list[str], subject: str, text: str, key: str, now: datetime
) -> None:
    """Tell the admins (setting ``alerts.recipients``) that something needs them, once per key."""
    if not recipients:
        log.error("admin alert (no alerts.recipients set): %s", subject)
    for address in recipients:
        queue_email(
            session,
            ADMIN_ALERT,
            None,
            now,
            key=f"alert:{key}:{address}",
            payload={"subject": subject, "text": text},
            recipient=address,
        )
