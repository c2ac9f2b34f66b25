"""Rate limits in the database (fixed windows), so that every api process counts together."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import case, literal
from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import RateCounter
from wod.db.upsert import upsert
from wod.errors import RateLimited

Limit = tuple[str, int, timedelta]  # key, attempts allowed, window


def hit(ctx: AppContext, key: str, limit: int, window: timedelta) -> None:
    """Count one attempt for ``key``; :class:`RateLimited` when the window's limit is passed
    (the refused attempt is not counted)."""
    hit_all(ctx, [(key, limit, window)])


def hit_all(ctx: AppContext, limits: list[Limit]) -> None:
    """Count one attempt for each key, in one transaction; refused as a whole when any key is
    over its limit (the transaction then rolls back: the refused attempt counts for none)."""
    with ctx.db.write() as session:
        now = ctx.clock.now()
        for key, limit, window in limits:
            _hit(session, now, key, limit, window)


def _hit(session: Session, now: datetime, key: str, limit: int, window: timedelta) -> None:
    """One statement per key: the counter made, restarted when its window is over, or counted
    one more; the row stays locked by this transaction until it ends, so concurrent hits of
    one key count one after the other."""
    table = RateCounter.__table__
    started = literal(now, table.c.window_start.type)  # stored as the column stores times
    over = table.c.window_start <= literal(now - window, table.c.window_start.type)
    insert = upsert(session, RateCounter).values(key=key, window_start=now, count=1)
    start, count = session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "window_start": case((over, started), else_=table.c.window_start),
                "count": case((over, 1), else_=table.c.count + 1),
            },
        ).returning(table.c.window_start, table.c.count)
    ).one()
    if count > limit:
        metrics.rate_limited(key)
        raise RateLimited(math.ceil((start + window - now).total_seconds()))
