"""Where the content stands: the revision in service with its layers, the last sync, and the
revision each location's agent holds (a location whose agent holds another one lags)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Location
from wod.services.content.revisions import current_revision
from wod.services.content.schedule import sync_state


@dataclass(frozen=True)
class LocationContent:
    name: str
    revision: str | None
    lags: bool


@dataclass(frozen=True)
class ContentStatus:
    revision: str | None
    applied_at: datetime | None
    layers: list[dict[str, Any]]
    last_attempt_at: datetime | None
    last_error: str | None
    locations: list[LocationContent]


def content_status(ctx: AppContext) -> ContentStatus:
    with ctx.db.read() as session:
        current = current_revision(session)
        rows = list(session.scalars(select(Location).order_by(Location.name)))
    digest = current.digest if current is not None else None
    state = sync_state(ctx)
    return ContentStatus(
        revision=digest,
        applied_at=current.applied_at if current is not None else None,
        layers=list(current.layers) if current is not None else [],
        last_attempt_at=state.last_attempt_at if state is not None else None,
        last_error=state.last_error if state is not None else None,
        locations=[
            LocationContent(
                loc.name,
                loc.content_revision,
                digest is not None and loc.enabled and loc.content_revision != digest,
            )
            for loc in rows
        ],
    )
