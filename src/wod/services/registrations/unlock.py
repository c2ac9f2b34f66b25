"""The manage page's start button: a fresh one-click start link of the seat, which logs the
participant in without the password and lifts a login lockout of their own seat
(:mod:`wod.domain.unlock`)."""

from __future__ import annotations

from wod.context import AppContext
from wod.db.models import Location, Seat, Workshop
from wod.domain.states import RegistrationState
from wod.services import links
from wod.services.registrations.manage import registration_for_token


def start_link_for_token(ctx: AppContext, token: str) -> str | None:
    """Where the start button of manage token ``token`` leads while its workshop runs: a new
    start link (or, when start links are off, the hub's login page with the user name filled
    in); None for a token of no running registration."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        if registration is None or registration.state is not RegistrationState.active:
            return None
        location = session.get(Location, registration.location_id)
        seat = session.get(Seat, registration.seat_id)
        workshop = session.get(Workshop, registration.workshop_id)
        assert location is not None and seat is not None and workshop is not None
        now = ctx.clock.now()
        link = links.start_link(ctx.settings, now, location, seat, workshop)
        return link or links.start_url(location, seat, workshop)
