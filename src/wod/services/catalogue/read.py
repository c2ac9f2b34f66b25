"""The read side of workshops: what the catalogue shows, seats left included.

Seats left = min(capacity − live registrations, free seats in the range at its locations) −
the entries of its waiting list (they come first); derived from the database, never a stored
counter.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Location, Registration, Seat, WaitlistEntry, Workshop
from wod.domain.states import SEAT_HOLDING, WAITLIST_LIVE, SeatState

POPULAR_COUNT = 10


@dataclass(frozen=True)
class WorkshopView:
    workshop: Workshop
    seats_left: int
    popular: bool


def takes_new_seats(location: Location) -> bool:
    """Whether new seats are given on ``location``: enabled, not draining, its agent not
    silent."""
    return location.enabled and not location.draining and location.silent_since is None


def serving_locations(
    workshop: Workshop, locations: Sequence[Location], *, new_seats: bool = False
) -> list[Location]:
    """The locations a workshop may use, in order: primary, then alternates; all when unset.
    With ``new_seats``, only those that take new seats (:func:`takes_new_seats`)."""
    enabled = [loc for loc in locations if (takes_new_seats(loc) if new_seats else loc.enabled)]
    if workshop.location is None:
        return enabled
    by_name = {loc.name: loc for loc in enabled}
    names = [workshop.location, *workshop.alternate_locations]
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def serving_order(workshop: Workshop) -> tuple[list[Any], Any]:
    """:func:`serving_locations` with ``new_seats`` as SQL, for a query joined with
    ``location``: the conditions a location must meet, and the order to use them in."""
    where = [
        Location.enabled.is_(True),
        Location.draining.is_(False),
        Location.silent_since.is_(None),
    ]
    if workshop.location is None:
        return where, Location.id
    names = list(dict.fromkeys([workshop.location, *workshop.alternate_locations]))
    where.append(Location.name.in_(names))
    return where, case({name: rank for rank, name in enumerate(names)}, value=Location.name)


def seat_bounds_sql(workshop: Workshop) -> tuple[Any, Any]:
    """:func:`seat_bounds` as SQL, for a query joined with ``location``."""
    low = case((Location.seat_min > workshop.seat_min, Location.seat_min), else_=workshop.seat_min)
    high = case((Location.seat_max < workshop.seat_max, Location.seat_max), else_=workshop.seat_max)
    return low, high


def seat_bounds(workshop: Workshop, location: Location) -> tuple[int, int]:
    """The seat numbers a workshop may use at a location: its range within the location's."""
    return max(workshop.seat_min, location.seat_min), min(workshop.seat_max, location.seat_max)


def seats_left(session: Session, workshops: Sequence[Workshop]) -> dict[int, int]:
    """Seats left per workshop id to a public registration: :func:`open_seats` less the
    entries of its waiting list, at least 0."""
    return _seats_left(session, workshops, _held_counts(session, workshops))


def _seats_left(
    session: Session, workshops: Sequence[Workshop], held: dict[int, tuple[int, int]]
) -> dict[int, int]:
    open_ = _open_seats(session, workshops, held)
    return {w: max(0, left - held[w][1]) for w, left in open_.items()}


def _live(workshop_id: Any) -> Any:
    return (
        select(func.count())
        .select_from(Registration)
        .where(Registration.workshop_id == workshop_id, Registration.state.in_(SEAT_HOLDING))
        .scalar_subquery()
    )


def _waiting(workshop_id: Any) -> Any:
    return (
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.workshop_id == workshop_id, WaitlistEntry.state.in_(WAITLIST_LIVE))
        .scalar_subquery()
    )


def _held_counts(session: Session, workshops: Sequence[Workshop]) -> dict[int, tuple[int, int]]:
    """(live registrations, waiting-list entries) per workshop id, in one query."""
    rows = session.execute(
        select(Workshop.id, _live(Workshop.id), _waiting(Workshop.id)).where(
            Workshop.id.in_([w.id for w in workshops])
        )
    )
    return {w: (live, waiting) for w, live, waiting in rows}


def open_seats(session: Session, workshops: Sequence[Workshop]) -> dict[int, int]:
    """Seats not held by a registration per workshop id (its waiting list not counted;
    negative when capacity dropped below the live ones)."""
    return _open_seats(session, workshops, _held_counts(session, workshops))


def _open_seats(
    session: Session, workshops: Sequence[Workshop], held: dict[int, tuple[int, int]]
) -> dict[int, int]:
    """:func:`open_seats` with the workshops' live registrations known, in two queries
    whatever the number of workshops: the free seats of every (location, range) a workshop
    draws from are counted by the database in one row (one ``count(*) FILTER`` per range),
    never fetched seat by seat. The seats of a warm pool count as free: they are there for the
    next registrations (ranges of workshops never overlap, so a pool seat in a workshop's range
    is of that workshop's pool)."""
    locations = list(session.scalars(select(Location)))
    serving = {w.id: serving_locations(w, locations, new_seats=True) for w in workshops}
    ranges = tuple(
        dict.fromkeys((loc.id, *seat_bounds(w, loc)) for w in workshops for loc in serving[w.id])
    )
    free = (
        dict(zip(ranges, session.execute(_free_counts(ranges)).one(), strict=True))
        if ranges
        else {}
    )
    result = {}
    for w in workshops:
        in_range = sum(free[(loc.id, *seat_bounds(w, loc))] for loc in serving[w.id])
        result[w.id] = min(w.capacity - held[w.id][0], in_range)
    return result


@functools.lru_cache(maxsize=64)
def _free_counts(ranges: tuple[tuple[int, int, int], ...]) -> Select[*tuple[Any, ...]]:
    """The query counting the seats available in each (location id, low, high) range, built
    once per set of ranges (the catalogue asks for the same one on every read)."""
    counts = [
        func.count().filter(Seat.location_id == loc, Seat.number.between(low, high))
        for loc, low, high in ranges
    ]
    available = (SeatState.free, SeatState.warming, SeatState.warm)
    return select(*counts).where(Seat.state.in_(available))


def popular_ids(session: Session) -> set[int]:
    """The workshops most people registered for (distinct addresses that got a seat: an
    unconfirmed registration, or one that never confirmed, does not count)."""
    rows = session.execute(
        select(Registration.workshop_id)
        .where(Registration.seat_id.is_not(None))
        .group_by(Registration.workshop_id)
        .order_by(func.count(func.distinct(Registration.email)).desc())
        .limit(POPULAR_COUNT)
    )
    return {row[0] for row in rows}


def list_workshops(session: Session) -> list[WorkshopView]:
    """Active workshops in catalogue order (priority, then name)."""
    rows = session.execute(
        select(Workshop, _live(Workshop.id), _waiting(Workshop.id))
        .where(Workshop.active)
        .order_by(Workshop.priority, Workshop.name)
    ).all()
    workshops = [w for w, _, _ in rows]
    left = _seats_left(session, workshops, {w.id: (live, waiting) for w, live, waiting in rows})
    popular = popular_ids(session)
    return [WorkshopView(w, left[w.id], w.id in popular) for w in workshops]


def catalogue(ctx: AppContext) -> list[WorkshopView]:
    """Active workshops in catalogue order, with their seats left now."""
    with ctx.db.read() as session:
        return list_workshops(session)


def find_workshop(ctx: AppContext, slug: str) -> WorkshopView | None:
    """One active workshop, or None."""
    with ctx.db.read() as session:
        return get_workshop(session, slug)


def find_any_workshop(ctx: AppContext, slug: str) -> WorkshopView | None:
    """One workshop, active or not (its page says why it cannot be booked), or None."""
    with ctx.db.read() as session:
        return get_any_workshop(session, slug)


def workshop_named(ctx: AppContext, slug: str) -> Workshop | None:
    """The workshop row of ``slug``, active or not (its badge outlives it), or None."""
    with ctx.db.read() as session:
        return session.scalar(select(Workshop).where(Workshop.slug == slug))


def get_workshop(session: Session, slug: str) -> WorkshopView | None:
    """One active workshop, or None."""
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug, Workshop.active))
    if workshop is None:
        return None
    left = seats_left(session, [workshop])
    return WorkshopView(workshop, left[workshop.id], workshop.id in popular_ids(session))


def get_any_workshop(session: Session, slug: str) -> WorkshopView | None:
    """One workshop, active or not, or None."""
    workshop = session.scalar(select(Workshop).where(Workshop.slug == slug))
    if workshop is None:
        return None
    left = seats_left(session, [workshop]) if workshop.active else {workshop.id: 0}
    return WorkshopView(workshop, left[workshop.id], workshop.id in popular_ids(session))
