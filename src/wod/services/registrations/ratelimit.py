"""Rate limits in the database (fixed windows), so that every api process counts together."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod import metrics
from wod.context import AppContext
from wod.db.models import RateCounter
from wod.errors import RateLimited

Limit = tuple[str, int, timedelta]  # key, attempts allowed, window


def hit(ctx: AppContext, key: str, limit: int, window: timedelta) -> None:
    """Count one attempt for ``key``; :class:`RateLimited` when the window's limit is passed
    (the refused attempt is not counted)."""
    hit_all(ctx, [(key, limit, window)])


def hit_all(ctx: AppContext, limits: list[Limit]) -> None:
    """Count one attempt for each key, in one transaction; refused as a whole when any key is
    over its limit."""
    for _ in range(3):  # a concurrent first hit of the same key may win the insert
        try:
            with ctx.db.write() as session:
                now = ctx.clock.now()
                for key, limit, window in limits:
                    _hit(session, now, key, limit, window)
            return
        except IntegrityError:
            continue
    raise RateLimited(int(max(w for _, _, w in limits).total_seconds()))


def _hit(session: Session, now: datetime, key: str, limit: int, window: timedelta) -> None:
    counter = session.get(RateCounter, key, with_for_update=True)
    if counter is None:
        session.add(RateCounter(key=key, window_start=now, count=1))
        session.flush()
        return
    if now >= counter.window_start + window:
        counter.window_start, counter.count = now, 1
        return
    if counter.count >= limit:
        metrics.rate_limited(key)
        wait = (counter.window_start + window - now).total_seconds()
        raise RateLimited(math.ceil(wait))
    counter.count += 1
