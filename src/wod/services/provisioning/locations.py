"""Locations (JupyterHub hosts), their seats and their agents' tokens."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Location, Seat
from wod.domain.secrets import hash_token, new_token
from wod.errors import FieldProblem, InvalidInput, NotFound
from wod.notify import Topic, note
from wod.services.mail.queue import alert_admins

log = logging.getLogger(__name__)
TOKEN_PREFIX = "wodl"  # noqa: S105 - a prefix, not a secret
#: An agent's calls are noted at most this often (one write, not one per claim).
CONTACT_PRECISION = timedelta(seconds=10)


def ensure_location(
    session: Session,
    *,
    name: str,
    hub_public_url: str,
    hub_api_url: str,
    seat_min: int,
    seat_max: int,
    now: datetime,
) -> Location:
    """Create or update a location and create its missing seats (never removes a seat)."""
    if not 1 <= seat_min <= seat_max:
        raise InvalidInput([FieldProblem("seats", f"{seat_min}-{seat_max} is not a seat range")])
    location = session.scalar(select(Location).where(Location.name == name))
    if location is None:
        location = Location(name=name, created_at=now, enabled=True)
        session.add(location)
    location.hub_public_url = hub_public_url.rstrip("/")
    location.hub_api_url = hub_api_url.rstrip("/")
    location.seat_min, location.seat_max = seat_min, seat_max
    session.flush()
    sync_seats(session, location, now)
    return location


def sync_seats(session: Session, location: Location, now: datetime) -> int:
    """Create the seats of the location's range that do not exist yet; how many were made."""
    existing = set(session.scalars(select(Seat.number).where(Seat.location_id == location.id)))
    missing = [n for n in range(location.seat_min, location.seat_max + 1) if n not in existing]
    session.add_all(
        Seat(location_id=location.id, number=n, username=f"student{n}", updated_at=now)
        for n in missing
    )
    return len(missing)


def rotate_token(session: Session, location: Location) -> str:
    """A new agent token for the location; only its hash is stored. Returns the token."""
    token = new_token(TOKEN_PREFIX)
    location.token_hash = hash_token(token)
    session.flush()
    return token


@dataclass(frozen=True)
class LocationAdded:
    """A location as ``wod locations add`` left it, with its new agent token if one was made."""

    location: Location
    token: str | None


def add_location(
    ctx: AppContext,
    name: str,
    *,
    hub_url: str,
    seats: tuple[int, int],
    hub_api_url: str = "",
    rotate: bool = False,
) -> LocationAdded:
    """Create or update a location with its seats; a new location, or ``rotate``, gets a new
    agent token (the old one stops working)."""
    with ctx.db.write() as session:
        location = ensure_location(
            session,
            name=name,
            hub_public_url=hub_url,
            hub_api_url=hub_api_url or hub_url.rstrip("/") + "/hub/api",
            seat_min=seats[0],
            seat_max=seats[1],
            now=ctx.clock.now(),
        )
        token = rotate_token(session, location) if rotate or not location.token_hash else None
        return LocationAdded(location, token)


def new_location_token(ctx: AppContext, name: str) -> str:
    """Replace a location's agent token; the new token (shown once, stored hashed)."""
    with ctx.db.write() as session:
        location = session.scalar(select(Location).where(Location.name == name))
        if location is None:
            raise NotFound(f"no location named {name!r}")
        return rotate_token(session, location)


def location_for_token(ctx: AppContext, token: str) -> Location | None:
    """The enabled location whose agent token this is."""
    if not token.startswith(TOKEN_PREFIX + "_"):
        return None
    with ctx.db.read() as session:
        location = session.scalar(select(Location).where(Location.token_hash == hash_token(token)))
    return location if location is not None and location.enabled else None


class LocationState(StrEnum):
    """What an admin lets a location do."""

    enabled = "enabled"  # gives seats (unless its agent is silent)
    draining = "draining"  # gives no new seat; live ones run to their end, jobs still run
    disabled = "disabled"  # out of service: no new seat, its agent's token is refused


def set_location_state(ctx: AppContext, name: str, state: LocationState) -> Location:
    """Enable, drain or disable a location. The registrations waiting there for a seat move to
    other locations at the scheduler's next pass."""
    with ctx.db.write() as session:
        location = session.scalar(select(Location).where(Location.name == name))
        if location is None:
            raise NotFound(f"no location named {name!r}")
        location.enabled = state is not LocationState.disabled
        location.draining = state is LocationState.draining
        note(session, Topic.seats, Topic.work)
    log.warning("location %s is now %s", name, state.value)
    return location


def state_of(location: Location) -> LocationState:
    if not location.enabled:
        return LocationState.disabled
    return LocationState.draining if location.draining else LocationState.enabled


def list_locations(ctx: AppContext) -> list[Location]:
    with ctx.db.read() as session:
        return list(session.scalars(select(Location).order_by(Location.id)))


def agent_location(ctx: AppContext, token: str) -> Location | None:
    """The enabled location whose agent token this is, its call noted as its agent's last
    contact (at most every ``CONTACT_PRECISION``, at once when it was silent)."""
    location = location_for_token(ctx, token)
    if location is None:
        return None
    now = ctx.clock.now()
    last = location.last_contact_at
    if location.silent_since is not None or last is None or now - last >= CONTACT_PRECISION:
        _note_contact(ctx, location, now)
    return location


def _note_contact(ctx: AppContext, location: Location, now: datetime) -> None:
    with ctx.db.write() as session:
        row = session.get(Location, location.id)
        if row is None:
            return
        silent_since = row.silent_since
        row.last_contact_at, row.silent_since = now, None
        if silent_since is None:
            return
        log.warning("location %s: its agent calls again", row.name)
        alert_admins(
            session,
            ctx.settings.alerts.recipients,
            f"location {row.name} is back",
            f"The agent of {row.name} calls the api again (silent since "
            f"{silent_since:%Y-%m-%d %H:%M} UTC).",
            f"back:{row.id}:{silent_since.isoformat()}",
            now,
        )


def watch_silence(ctx: AppContext) -> int:
    """Tell the admins, once, of each enabled location whose agent has not called for
    ``locations.silent_after`` (a location whose agent never called is not watched);
    how many fell silent."""
    now = ctx.clock.now()
    horizon = now - ctx.settings.locations.silent_after
    silent = (
        Location.enabled,
        Location.silent_since.is_(None),
        Location.last_contact_at < horizon,
    )
    with ctx.db.read() as session:
        ids = list(session.scalars(select(Location.id).where(*silent)))
    told = 0
    for location_id in ids:
        with ctx.db.write() as session:
            taken = session.execute(  # only one scheduler tells the admins
                update(Location)
                .where(Location.id == location_id, *silent)
                .values(silent_since=now)
                .execution_options(synchronize_session=False)
            )
            if taken.rowcount != 1:  # type: ignore[attr-defined]
                continue
            row = session.get(Location, location_id)
            assert row is not None and row.last_contact_at is not None
            log.error("location %s: its agent is silent", row.name)
            alert_admins(
                session,
                ctx.settings.alerts.recipients,
                f"location {row.name} is silent",
                f"The agent of {row.name} has not called the api since "
                f"{row.last_contact_at:%Y-%m-%d %H:%M:%S} UTC. No new seat is given on it "
                "until it calls again, and the registrations waiting there move to the "
                "workshops' other locations. Look at its hub host (is `wod backend run` "
                "running? can it reach the api?).",
                f"silent:{row.id}:{now.isoformat()}",
                now,
            )
            told += 1
    return told
