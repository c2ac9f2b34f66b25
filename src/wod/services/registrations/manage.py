"""A participant's own registration, reached with the personal manage token of the emails
(or an admin token): its status, ending it now, extending it once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Location, Registration, Seat, Workshop
from wod.domain.secrets import hash_token
from wod.domain.states import EndReason, RegistrationState
from wod.domain.wording import status_text
from wod.errors import InvalidState, NotFound
from wod.i18n import _
from wod.services import links
from wod.services.registrations.lifecycle import end_registration, extend_registration


@dataclass(frozen=True)
class RegistrationStatus:
    """What the manage page and ``GET /api/v1/registrations/{id}`` show."""

    id: int
    workshop: str
    workshop_name: str
    status: RegistrationState
    seat: str | None  # None: it never held one (unconfirmed, or ended before it was)
    ready_at: datetime | None
    ends_at: datetime | None
    completion: int | None
    hub_url: str | None
    can_extend: bool
    password: str | None


def registration_for_token(session: Session, token: str) -> Registration | None:
    return session.scalar(
        select(Registration).where(Registration.manage_token_hash == hash_token(token))
    )


def registration_id_for_token(ctx: AppContext, token: str) -> int | None:
    """The registration whose manage token this is, or None."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        return registration.id if registration is not None else None


def status_for_token(ctx: AppContext, token: str) -> RegistrationStatus | None:
    """What the manage page of this token shows, or None for a token of no registration."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        return status_of(ctx, session, registration) if registration is not None else None


def status_of(ctx: AppContext, session: Session, registration: Registration) -> RegistrationStatus:
    workshop = session.get(Workshop, registration.workshop_id)
    seat = session.get(Seat, registration.seat_id) if registration.seat_id else None
    location = session.get(Location, registration.location_id) if registration.location_id else None
    assert workshop is not None
    active = registration.state is RegistrationState.active and seat is not None
    password = None
    if active and registration.password_enc:
        password = ctx.secret_box.open(registration.password_enc)
    return RegistrationStatus(
        id=registration.id,
        workshop=workshop.slug,
        workshop_name=workshop.name,
        status=registration.state,
        seat=seat.username if seat is not None else None,
        ready_at=registration.ready_at,
        ends_at=registration.ends_at,
        completion=registration.completion,
        hub_url=(
            links.start_url(location, seat, workshop)
            if active and seat is not None and location is not None
            else None
        ),
        can_extend=active and workshop.extendable and not registration.extended,
        password=password,
    )


def _load(session: Session, registration_id: int) -> Registration:
    registration = session.get(Registration, registration_id)
    if registration is None:
        raise NotFound(f"No registration {registration_id}.")
    return registration


def get_status(ctx: AppContext, registration_id: int) -> RegistrationStatus:
    with ctx.db.read() as session:
        return status_of(ctx, session, _load(session, registration_id))


def end_now(ctx: AppContext, registration_id: int, *, by_admin: bool) -> RegistrationStatus:
    """End a running registration now (CLEANUP follows, then the final email)."""
    with ctx.db.write() as session:
        registration = _load(session, registration_id)
        if registration.state is not RegistrationState.active:
            raise InvalidState(
                _(
                    "Only a running workshop can be ended (this one is %(state)s).",
                    state=status_text(registration.state),
                )
            )
        reason = EndReason.ended_by_admin if by_admin else EndReason.ended_by_participant
        end_registration(ctx, session, registration, reason)
        return status_of(ctx, session, registration)


def extend(ctx: AppContext, registration_id: int) -> RegistrationStatus:
    """Give a running registration its one extension."""
    with ctx.db.write() as session:
        registration = _load(session, registration_id)
        extend_registration(ctx, session, registration)
        return status_of(ctx, session, registration)
