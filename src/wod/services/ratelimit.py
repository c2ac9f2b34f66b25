"""Rate limits in the database (fixed windows), so that every api process counts together."""

from __future__ import annotations

import math
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from wod.context import AppContext
from wod.db.models import RateCounter
from wod.errors import RateLimited


def hit(ctx: AppContext, key: str, limit: int, window: timedelta) -> None:
    """Count one attempt for ``key``; :class:`RateLimited` when the window's limit is passed
    (the refused attempt is not counted)."""
    for _ in range(3):  # a concurrent first hit of the same key may win the insert
        try:
            _hit(ctx, key, limit, window)
            return
        except IntegrityError:
            continue
    raise RateLimited(int(window.total_seconds()))


def _hit(ctx: AppContext, key: str, limit: int, window: timedelta) -> None:
    now = ctx.clock.now()
    with ctx.db.write() as session:
        counter = session.get(RateCounter, key, with_for_update=True)
        if counter is None:
            session.add(RateCounter(key=key, window_start=now, count=1))
            session.flush()
            return
        if now >= counter.window_start + window:
            counter.window_start, counter.count = now, 1
            return
        if counter.count >= limit:
            wait = (counter.window_start + window - now).total_seconds()
            raise RateLimited(math.ceil(wait))
        counter.count += 1
