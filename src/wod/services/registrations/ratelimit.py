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
    """Count one attempt for each key, in a transaction of its own; refused as a whole when
    any key is over its limit (the transaction then rolls back: the refused attempt counts for
    none)."""
    with ctx.db.write() as session:
        count(session, ctx.clock.now(), limits)


def count(session: Session, now: datetime, limits: list[Limit]) -> None:
    """:func:`hit_all` inside the caller's transaction, in one statement per window (the limits
    of one request share theirs): each counter made, restarted when its window is over, or
    counted one more. The rows stay locked by the transaction until it ends, so concurrent hits
    of one key count one after the other; a caller that does more work in its transaction
    counts last, so that it holds the locks only until its commit. Keys are counted in one
    order, so two callers sharing two keys cannot deadlock."""
    by_window: dict[timedelta, dict[str, int]] = {}
    for key, limit, window in limits:
        by_window.setdefault(window, {})[key] = limit
    for window, keys in sorted(by_window.items()):
        for key, start, counted in _count(session, now, sorted(keys), window):
            if counted > keys[key]:
                metrics.rate_limited(key)
                raise RateLimited(math.ceil((start + window - now).total_seconds()))


def _count(
    session: Session, now: datetime, keys: list[str], window: timedelta
) -> list[tuple[str, datetime, int]]:
    table = RateCounter.__table__
    started = literal(now, table.c.window_start.type)  # stored as the column stores times
    over = table.c.window_start <= literal(now - window, table.c.window_start.type)
    insert = upsert(session, RateCounter).values(
        [{"key": key, "window_start": now, "count": 1} for key in keys]
    )
    rows = session.execute(
        insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "window_start": case((over, started), else_=table.c.window_start),
                "count": case((over, 1), else_=table.c.count + 1),
            },
        ).returning(table.c.key, table.c.window_start, table.c.count)
    )
    return [(key, start, counted) for key, start, counted in rows]
