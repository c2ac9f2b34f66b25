"""What the admin console lists: filtered, paged registrations, seats, jobs, emails and
workshops. Reads only; the details of one job or email are in :mod:`.details`, the actions live
with their services (registrations, provisioning, mail, catalogue)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVarTuple

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import aliased

from wod.context import AppContext
from wod.db.models import Email, Job, Location, Registration, Seat, Workshop
from wod.domain.states import (
    SEAT_HOLDING,
    EmailState,
    JobState,
    RegistrationState,
    SeatState,
    Verb,
)
from wod.services.admin.paging import Page, contains, paged
from wod.services.registrations.waitlist import waiting_counts

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True)
class Choices:
    """The values the filters offer."""

    workshops: list[str]
    locations: list[str]
    email_kinds: list[str]


def choices(ctx: AppContext) -> Choices:
    with ctx.db.read() as session:
        return Choices(
            workshops=list(session.scalars(select(Workshop.slug).order_by(Workshop.slug))),
            locations=list(session.scalars(select(Location.name).order_by(Location.name))),
            email_kinds=list(session.scalars(select(Email.kind).distinct().order_by(Email.kind))),
        )


# --------------------------------------------------------------------- registrations


@dataclass(frozen=True)
class RegistrationFilter:
    workshop: str | None = None
    state: RegistrationState | None = None
    location: str | None = None
    text: str | None = None  # part of the address or the name


@dataclass(frozen=True)
class RegistrationRow:
    registration: Registration
    workshop: str
    location: str | None  # None: it never held a seat (unconfirmed, or ended before)
    seat: str | None
    extendable: bool

    @property
    def can_end(self) -> bool:
        return self.registration.state is RegistrationState.active

    @property
    def can_extend(self) -> bool:
        return self.can_end and self.extendable and not self.registration.extended

    @property
    def can_purge(self) -> bool:
        return self.registration.erased_at is None


def filtered(query: Select[*Ts], where: RegistrationFilter) -> Select[*Ts]:
    """``query`` (of registrations joined with their workshop and location) narrowed to what
    ``where`` keeps: the list's filters, shared by its CSV export."""
    if where.workshop:
        query = query.where(Workshop.slug == where.workshop)
    if where.state is not None:
        query = query.where(Registration.state == where.state)
    if where.location:
        query = query.where(Location.name == where.location)
    if where.text and where.text.strip():
        pattern = contains(where.text.strip())
        query = query.where(
            or_(
                Registration.email.ilike(pattern, escape="\\"),
                Registration.name.ilike(pattern, escape="\\"),
            )
        )
    return query


def registrations(
    ctx: AppContext, where: RegistrationFilter, number: int = 1, size: int = 50
) -> Page[RegistrationRow]:
    """Registrations, newest first."""
    query = (
        select(Registration, Workshop.slug, Location.name, Seat.username, Workshop.extendable)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .outerjoin(Location, Location.id == Registration.location_id)  # none: no seat yet
        .outerjoin(Seat, Seat.id == Registration.seat_id)
        .order_by(Registration.id.desc())
    )
    query = filtered(query, where)
    with ctx.db.read() as session:
        rows, total = paged(session, query, number, size)
    return Page([RegistrationRow(*row) for row in rows], max(1, number), size, total)


# --------------------------------------------------------------------- seats


@dataclass(frozen=True)
class SeatRow:
    location: str
    seat: Seat
    holder: Registration | None
    workshop: str | None

    @property
    def can_purge(self) -> bool:
        return self.holder is None


def seats(
    ctx: AppContext,
    location: str | None = None,
    state: SeatState | None = None,
    number: int = 1,
    size: int = 100,
) -> Page[SeatRow]:
    """Seats in location then number order, each with the live registration holding it."""
    holder = aliased(Registration)
    query = (
        select(Location.name, Seat, holder, Workshop.slug)
        .join(Location, Location.id == Seat.location_id)
        .outerjoin(holder, (holder.seat_id == Seat.id) & holder.state.in_(SEAT_HOLDING))
        .outerjoin(Workshop, Workshop.id == holder.workshop_id)
        .order_by(Location.name, Seat.number)
    )
    if location:
        query = query.where(Location.name == location)
    if state is not None:
        query = query.where(Seat.state == state)
    with ctx.db.read() as session:
        rows, total = paged(session, query, number, size)
    return Page([SeatRow(*row) for row in rows], max(1, number), size, total)


# --------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobRow:
    job: Job
    location: str
    seat: str | None
    workshop: str | None


def job_query() -> Select[Job, str, str | None, str | None]:
    return (
        select(Job, Location.name, Seat.username, Workshop.slug)
        .join(Location, Location.id == Job.location_id)
        .outerjoin(Seat, Seat.id == Job.seat_id)
        .outerjoin(Workshop, Workshop.id == Job.workshop_id)
    )


def jobs(
    ctx: AppContext,
    state: JobState | None = None,
    verb: Verb | None = None,
    location: str | None = None,
    number: int = 1,
    size: int = 50,
) -> Page[JobRow]:
    """Jobs, newest first."""
    query = job_query().order_by(Job.id.desc())
    if state is not None:
        query = query.where(Job.state == state)
    if verb is not None:
        query = query.where(Job.verb == verb)
    if location:
        query = query.where(Location.name == location)
    with ctx.db.read() as session:
        rows, total = paged(session, query, number, size)
    return Page([JobRow(*row) for row in rows], max(1, number), size, total)


# --------------------------------------------------------------------- emails


def emails(
    ctx: AppContext,
    state: EmailState | None = None,
    kind: str | None = None,
    recipient: str | None = None,
    number: int = 1,
    size: int = 50,
) -> Page[Email]:
    """The outbox, newest first."""
    query = select(Email).order_by(Email.id.desc())
    if state is not None:
        query = query.where(Email.state == state)
    if kind:
        query = query.where(Email.kind == kind)
    if recipient and recipient.strip():
        query = query.where(Email.recipient.ilike(contains(recipient.strip()), escape="\\"))
    with ctx.db.read() as session:
        rows, total = paged(session, query, number, size)
    return Page([row[0] for row in rows], max(1, number), size, total)


# --------------------------------------------------------------------- workshops


@dataclass(frozen=True)
class WorkshopRow:
    workshop: Workshop
    live: int
    #: Entries on its waiting list (waiting, or offered a seat).
    waiting: int = 0


def workshops(ctx: AppContext) -> list[WorkshopRow]:
    """Every workshop in the database, active first, with its live registrations and its
    waiting list's entries."""
    live = (
        select(Registration.workshop_id, func.count().label("live"))
        .where(Registration.state.in_(SEAT_HOLDING))
        .group_by(Registration.workshop_id)
        .subquery()
    )
    query = (
        select(Workshop, func.coalesce(live.c.live, 0))
        .outerjoin(live, live.c.workshop_id == Workshop.id)
        .order_by(Workshop.active.desc(), Workshop.slug)
    )
    waiting = waiting_counts(ctx)
    with ctx.db.read() as session:
        rows = session.execute(query).all()
    return [WorkshopRow(w, n, waiting.get(w.id, 0)) for w, n in rows]
