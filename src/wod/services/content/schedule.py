"""Syncs run by the scheduler: when asked for (the webhook, ``wod content sync --later``) or
every ``content.sync_interval``, by one api process at a time (a lease on the one
:class:`~wod.db.models.ContentSync` row). A failed sync changes nothing and tells the admins once
per error and day; every api process then serves the revision in service (:func:`converge`)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import ContentSync
from wod.errors import ContentError, ContentSyncError
from wod.notify import Topic, note
from wod.services.content.revisions import converge
from wod.services.content.sync import sync_content
from wod.services.mail.queue import alert_admins

log = logging.getLogger(__name__)
LEASE = timedelta(minutes=15)
ROW = 1


def _row(session: Session) -> ContentSync:
    row = session.get(ContentSync, ROW)
    if row is None:
        row = ContentSync(id=ROW)
        session.add(row)
        session.flush()
    return row


def request_sync(ctx: AppContext) -> None:
    """Ask the scheduler to sync at its next pass."""
    with ctx.db.write() as session:
        _row(session).requested_at = ctx.clock.now()
        note(session, Topic.work)


def _due(row: ContentSync, now: datetime, interval: timedelta) -> bool:
    if row.lease_until is not None and row.lease_until > now:
        return False  # another process syncs
    if row.requested_at is not None:
        return True
    return interval > timedelta(0) and (
        row.last_attempt_at is None or now - row.last_attempt_at >= interval
    )


def _take(ctx: AppContext, now: datetime) -> bool:
    """The lease of the next sync, when one is due and nobody holds it (most passes find none
    due: they only read)."""
    with ctx.db.read() as session:
        seen = session.get(ContentSync, ROW)
        if seen is not None and not _due(seen, now, ctx.settings.content.sync_interval):
            return False
    with ctx.db.write() as session:
        row = _row(session)
        if not _due(row, now, ctx.settings.content.sync_interval):
            return False
        free = or_(ContentSync.lease_until.is_(None), ContentSync.lease_until <= now)
        taken = session.execute(
            update(ContentSync)
            .where(ContentSync.id == ROW, free)
            .values(lease_until=now + LEASE, requested_at=None, last_attempt_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def sync_due(ctx: AppContext) -> int:
    """One scheduler pass: run the sync that is due, if any (applied as ``content.auto_apply``
    says), then serve the revision in service on this host; 1 when a sync ran."""
    now = ctx.clock.now()
    ran = 0
    if ctx.settings.content.layers and _take(ctx, now):
        ran = 1
        error = _sync(ctx)
        with ctx.db.write() as session:
            row = _row(session)
            row.lease_until, row.last_error = None, error
            if error is not None:
                _alert(ctx, session, error, now)
    converge(ctx)
    return ran


def _sync(ctx: AppContext) -> str | None:
    try:
        outcome = sync_content(ctx)
    except (ContentSyncError, ContentError) as exc:
        log.error("content sync failed: %s", exc.message)
        return exc.message
    if outcome.refused:
        return f"content sync not applied: {'; '.join(outcome.refused)}"
    log.info("content sync: revision %s%s", outcome.digest[:12], " (applied)" * outcome.applied)
    return None


def _alert(ctx: AppContext, session: Session, error: str, now: datetime) -> None:
    digest = hashlib.sha256(error.encode()).hexdigest()[:16]
    alert_admins(
        session,
        ctx.settings.alerts.recipients,
        "the content sync failed",
        f"{error}\n\nNothing changed: the revision in service stays. Run `wod content sync` on "
        "the api host to see the whole report.",
        f"content:{now.date().isoformat()}:{digest}",
        now,
    )


def sync_state(ctx: AppContext) -> ContentSync | None:
    with ctx.db.read() as session:
        return session.scalar(select(ContentSync).where(ContentSync.id == ROW))
