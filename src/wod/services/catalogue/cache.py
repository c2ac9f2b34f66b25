"""The catalogue shared by the requests of one api process: a snapshot of the workshops with
their seats left, rebuilt at most every ``api.catalogue_ttl`` seconds and at once after a
commit that changed seats (:attr:`wod.notify.Topic.seats`), so a burst of readers costs one
set of queries and the figures are never older than the ttl.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from wod.db.session import Database
from wod.services.catalogue.read import WorkshopView, list_workshops

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
        """Rebuild at the next read (after a commit changed the seats left)."""
        self._snapshot = None
