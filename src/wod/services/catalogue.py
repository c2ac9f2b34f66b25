"""The read side of workshops: what the catalogue shows, seats left included.

Seats left = min(capacity − live registrations, free seats in the range at its locations);
derived from the database, never a stored counter. The catalogue page and
``GET /api/v1/workshops`` read a :class:`CatalogueCache`: a snapshot rebuilt at most every
``catalogue_ttl`` seconds (and at once after a registration in this process), so a burst of
readers costs one set of queries, and the figures are never older than the ttl.
"""

from __future__ import annotations

import bisect
import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wod.db.models import Location, Registration, Seat, Workshop
from wod.db.session import Database
from wod.domain.states import SEAT_HOLDING, SeatState

POPULAR_COUNT = 10


@dataclass(frozen=True)
class WorkshopView:
    workshop: Workshop
    seats_left: int
    popular: bool


def serving_locations(workshop: Workshop, locations: Sequence[Location]) -> list[Location]:
    """The locations a workshop may use, in order: primary, then alternates; all when unset."""
    enabled = [loc for loc in locations if loc.enabled]
    if workshop.location is None:
        return enabled
    by_name = {loc.name: loc for loc in enabled}
    names = [workshop.location, *workshop.alternate_locations]
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def seat_bounds(workshop: Workshop, location: Location) -> tuple[int, int]:
    """The seat numbers a workshop may use at a location: its range within the location's."""
    return max(workshop.seat_min, location.seat_min), min(workshop.seat_max, location.seat_max)


def seats_left(session: Session, workshops: Sequence[Workshop]) -> dict[int, int]:
    """Seats left per workshop id, in three queries whatever the number of workshops."""
    locations = list(session.scalars(select(Location)))
    free: dict[int, list[int]] = defaultdict(list)
    rows = session.execute(
        select(Seat.location_id, Seat.number).where(Seat.state == SeatState.free)
    )
    for location_id, number in rows:
        free[location_id].append(number)
    for numbers in free.values():
        numbers.sort()
    live = dict(
        session.execute(
            select(Registration.workshop_id, func.count())
            .where(Registration.state.in_(SEAT_HOLDING))
            .group_by(Registration.workshop_id)
        ).all()
    )
    result = {}
    for w in workshops:
        in_range = 0
        for loc in serving_locations(w, locations):
            low, high = seat_bounds(w, loc)
            numbers = free[loc.id]
            in_range += max(
                0, bisect.bisect_right(numbers, high) - bisect.bisect_left(numbers, low)
            )
        result[w.id] = max(0, min(w.capacity - live.get(w.id, 0), in_range))
    return result


def popular_ids(session: Session) -> set[int]:
    """The workshops most people registered for (distinct addresses)."""
    rows = session.execute(
        select(Registration.workshop_id)
        .group_by(Registration.workshop_id)
        .order_by(func.count(func.distinct(Registration.email)).desc())
        .limit(POPULAR_COUNT)
    )
    return {row[0] for row in rows}


def list_workshops(session: Session) -> list[WorkshopView]:
    """Active workshops in catalogue order (priority, then name)."""
    workshops = list(
        session.scalars(
            select(Workshop).where(Workshop.active).order_by(Workshop.priority, Workshop.name)
        )
    )
    left = seats_left(session, workshops)
    popular = popular_ids(session)
    return [WorkshopView(w, left[w.id], w.id in popular) for w in workshops]


def get_workshop(session: Session, slug: str) -> WorkshopView | None:
    """One active workshop, or None."""
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug, Workshop.active))
    if workshop is None:
        return None
    left = seats_left(session, [workshop])
    return WorkshopView(workshop, left[workshop.id], workshop.id in popular_ids(session))


def get_any_workshop(session: Session, slug: str) -> WorkshopView | None:
    """One workshop, active or not (its page says why it cannot be booked), or None."""
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return None
    left = seats_left(session, [workshop]) if workshop.active else {workshop.id: 0}
    return WorkshopView(workshop, left[workshop.id], workshop.id in popular_ids(session))


# --------------------------------------------------------------------------- snapshot

LATEST_COUNT = 6


@dataclass(frozen=True)
class Snapshot:
    """The catalogue at one moment: views, tabs, and the api answer already serialised."""

    views: list[WorkshopView]
    latest: frozenset[str]
    categories: list[str]
    taken_at: float
    api_body: bytes
    #: Pages rendered from this snapshot, by whatever key the portal uses.
    pages: dict[Any, bytes] = field(default_factory=dict)

    def find(self, slug: str) -> WorkshopView | None:
        return next((v for v in self.views if v.workshop.slug == slug), None)


def take_snapshot(
    session: Session, public: Callable[[WorkshopView], dict[str, Any]], now: float
) -> Snapshot:
    views = list_workshops(session)
    for view in views:  # detached from the session: read-only from here on
        session.expunge(view.workshop)
    newest = sorted(views, key=lambda v: v.workshop.created_at, reverse=True)[:LATEST_COUNT]
    categories = sorted({c for v in views for c in v.workshop.categories}, key=str.casefold)
    body = json.dumps([public(v) for v in views], separators=(",", ":")).encode()
    return Snapshot(
        views, frozenset(v.workshop.slug for v in newest), categories, now, body, pages={}
    )


class CatalogueCache:
    """A snapshot shared by the requests of one process, rebuilt when older than ``ttl``.

    One request rebuilds it while the others keep reading the previous one (a reader never
    waits for another's queries, except the very first). With ``ttl`` 0 nothing is shared:
    every request reads the database."""

    def __init__(
        self,
        db: Database,
        public: Callable[[WorkshopView], dict[str, Any]],
        ttl: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db, self._public, self._ttl, self._monotonic = db, public, ttl, monotonic
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()

    def fresh(self) -> Snapshot | None:
        """The snapshot if it is recent enough, without touching the database (for the event
        loop: a request that gets None calls :meth:`get` in a worker thread)."""
        snapshot = self._snapshot
        if snapshot is not None and self._monotonic() - snapshot.taken_at < self._ttl:
            return snapshot
        return None

    def get(self) -> Snapshot:
        if self._ttl <= 0:
            with self._db.read() as session:
                return take_snapshot(session, self._public, self._monotonic())
        snapshot = self._snapshot
        now = self._monotonic()
        if snapshot is not None and now - snapshot.taken_at < self._ttl:
            return snapshot
        if snapshot is not None and not self._lock.acquire(blocking=False):
            return snapshot  # another request is rebuilding it
        if snapshot is None:
            self._lock.acquire()
        try:
            current = self._snapshot
            if current is not None and current is not snapshot:
                return current  # rebuilt while this one waited
            with self._db.read() as session:
                self._snapshot = take_snapshot(session, self._public, self._monotonic())
            return self._snapshot
        finally:
            self._lock.release()

    def invalidate(self) -> None:
        """Rebuild at the next read (after a registration changed the seats left)."""
        self._snapshot = None
