"""Queuing emails: rows added inside the transaction that decides to send them, at most one per
dedupe key; the outbox worker (:mod:`.outbox`) delivers them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from wod.db.models import Email, Registration
from wod.db.upsert import upsert
from wod.domain.states import EmailState
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
    due: datetime | None = None,
) -> bool:
    """Queue one email, sent from ``due`` (default ``now``); by default one per (registration,
    kind). Returns False when an email with the same dedupe key exists (queued by this or a
    concurrent transaction)."""
    kind_named(kind.name)  # an unregistered kind is refused here, not when sending
    if key is None:
        assert registration is not None
        key = f"{registration.id}:{kind.name}"
    to = recipient or (registration.email if registration is not None else None)
    assert to is not None
    values = {
        "registration_id": registration.id if registration is not None else None,
        "kind": kind.name,
        "recipient": to,
        "dedupe_key": key,
        "payload": payload,
        "state": EmailState.pending,
        "attempts": 0,
        "next_attempt_at": due or now,
        "created_at": now,
    }
    # one statement, whoever else queues the same key at the same moment
    inserted = session.execute(
        upsert(session, Email).values(values).on_conflict_do_nothing().returning(Email.id)
    ).first()
    if inserted is None:
        log.info("email %s already queued", key)
        return False
    note(session, Topic.mail)
    return True


def withdraw_unsent(session: Session, kind: EmailKind, registration: Registration) -> bool:
    """Withdraw the registration's email of ``kind`` before any attempt to send it; whether
    there was one (an email being sent, or sent, stays: one statement decides, whatever an
    outbox worker does at the same moment)."""
    withdrawn = session.execute(
        delete(Email).where(
            Email.registration_id == registration.id,
            Email.kind == kind.name,
            Email.state == EmailState.pending,
            Email.attempts == 0,
        )
    )
    return bool(getattr(withdrawn, "rowcount", 0))


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
