"""What the admin console reads: filtered, paged lists of registrations, seats, jobs, emails
and workshops, and the details of one job or email. Reads only; the actions live with their
services (:mod:`wod.services.manage`, :mod:`~wod.services.erasure`, :mod:`~wod.services.seats`,
:mod:`~wod.services.retry`, :mod:`~wod.services.importer`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, aliased

from wod import i18n
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
from wod.errors import InvalidState, NotFound, WodError
from wod.mail.render import render_email, template_dirs
from wod.services.outbox import email_language, email_variables
from wod.services.retry import check_resendable, retryable_seat

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list, numbered from 1."""

    rows: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def _paged(
    session: Session, query: Select[*tuple[Any, ...]], number: int, size: int
) -> tuple[list[Any], int]:
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    number = max(1, number)
    rows = list(session.execute(query.limit(size).offset((number - 1) * size)).all())
    return rows, total


def _contains(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


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
    location: str
    seat: str
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


def registrations(
    ctx: AppContext, where: RegistrationFilter, number: int = 1, size: int = 50
) -> Page[RegistrationRow]:
    """Registrations, newest first."""
    query = (
        select(Registration, Workshop.slug, Location.name, Seat.username, Workshop.extendable)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .join(Location, Location.id == Registration.location_id)
        .join(Seat, Seat.id == Registration.seat_id)
        .order_by(Registration.id.desc())
    )
    if where.workshop:
        query = query.where(Workshop.slug == where.workshop)
    if where.state is not None:
        query = query.where(Registration.state == where.state)
    if where.location:
        query = query.where(Location.name == where.location)
    if where.text and where.text.strip():
        pattern = _contains(where.text.strip())
        query = query.where(
            or_(
                Registration.email.ilike(pattern, escape="\\"),
                Registration.name.ilike(pattern, escape="\\"),
            )
        )
    with ctx.db.read() as session:
        rows, total = _paged(session, query, number, size)
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
        rows, total = _paged(session, query, number, size)
    return Page([SeatRow(*row) for row in rows], max(1, number), size, total)


# --------------------------------------------------------------------- jobs


@dataclass(frozen=True)
class JobRow:
    job: Job
    location: str
    seat: str | None
    workshop: str | None


@dataclass(frozen=True)
class JobDetail:
    row: JobRow
    retry_refusal: str | None  # why it cannot be retried; None: it can

    @property
    def can_retry(self) -> bool:
        return self.retry_refusal is None


def _job_query() -> Select[Job, str, str | None, str | None]:
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
    query = _job_query().order_by(Job.id.desc())
    if state is not None:
        query = query.where(Job.state == state)
    if verb is not None:
        query = query.where(Job.verb == verb)
    if location:
        query = query.where(Location.name == location)
    with ctx.db.read() as session:
        rows, total = _paged(session, query, number, size)
    return Page([JobRow(*row) for row in rows], max(1, number), size, total)


def job_detail(ctx: AppContext, job_id: int) -> JobDetail:
    with ctx.db.read() as session:
        row = session.execute(_job_query().where(Job.id == job_id)).first()
        if row is None:
            raise NotFound(f"No job {job_id}.")
        job_row = JobRow(*row)
        try:
            retryable_seat(session, job_row.job)
            refusal = None
        except InvalidState as exc:
            refusal = exc.message
    return JobDetail(job_row, refusal)


# --------------------------------------------------------------------- emails


@dataclass(frozen=True)
class EmailDetail:
    email: Email
    subject: str | None
    text: str | None
    render_error: str | None
    resend_refusal: str | None  # why it cannot be resent; None: it can

    @property
    def can_resend(self) -> bool:
        return self.resend_refusal is None


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
        query = query.where(Email.recipient.ilike(_contains(recipient.strip()), escape="\\"))
    with ctx.db.read() as session:
        rows, total = _paged(session, query, number, size)
    return Page([row[0] for row in rows], max(1, number), size, total)


HIDDEN = "(hidden)"


def email_detail(ctx: AppContext, email_id: int) -> EmailDetail:
    """An email with its text as the outbox would render it now; the seat password and the
    manage link are hidden (the console shows them to no one)."""
    with ctx.db.read() as session:
        email = session.get(Email, email_id)
        if email is None:
            raise NotFound(f"No email {email_id}.")
        try:
            check_resendable(session, email)
            refusal = None
        except InvalidState as exc:
            refusal = exc.message
        language = email_language(session, email)
        try:
            with i18n.use(language):
                variables = email_variables(ctx, session, email)
        except WodError as exc:
            return EmailDetail(email, email.subject, None, exc.message, refusal)
    variables["password"] = HIDDEN
    if variables.get("manage_url"):
        variables["manage_url"] = ctx.settings.absolute_url(f"/manage/{HIDDEN}")
    try:
        with i18n.use(language):  # as the participant received it, not the admin's language
            rendered = render_email(
                email.kind, variables, template_dirs(ctx.settings.content.paths)
            )
    except Exception as exc:  # a template error is shown, not raised: the page still works
        return EmailDetail(email, email.subject, None, f"cannot be rendered: {exc}", refusal)
    return EmailDetail(email, email.subject or rendered.subject, rendered.text, None, refusal)


# --------------------------------------------------------------------- workshops


@dataclass(frozen=True)
class WorkshopRow:
    workshop: Workshop
    live: int


def workshops(ctx: AppContext) -> list[WorkshopRow]:
    """Every workshop in the database, active first, with its live registrations."""
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
    with ctx.db.read() as session:
        return [WorkshopRow(w, n) for w, n in session.execute(query).all()]
