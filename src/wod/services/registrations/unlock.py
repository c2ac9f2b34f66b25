"""The manage page's start button: the seat's start link through the hub's unlock link, so
that it also lifts a login lockout of the participant's own seat (:mod:`wod.domain.unlock`)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

from wod.context import AppContext
from wod.db.models import Location, Seat, Workshop
from wod.domain.states import RegistrationState
from wod.domain.unlock import unlock_token
from wod.hub.config import unlock_key
from wod.services import links
from wod.services.registrations.manage import registration_for_token


def unlock_start_url(ctx: AppContext, token: str) -> str | None:
    """Where the start button of manage token ``token`` leads while its workshop runs: the
    hub's ``/hub/wod-unlock/<seat>`` with a fresh unlock token, then the seat's start link;
    None for a token of no running registration."""
    with ctx.db.read() as session:
        registration = registration_for_token(session, token)
        if registration is None or registration.state is not RegistrationState.active:
            return None
        location = session.get(Location, registration.location_id)
        seat = session.get(Seat, registration.seat_id)
        workshop = session.get(Workshop, registration.workshop_id)
        assert location is not None and seat is not None and workshop is not None
        start = links.start_url(location, seat, workshop)
    signed = unlock_token(unlock_key(ctx.settings), seat.username, ctx.clock.now().timestamp())
    query = {"token": signed, **{k: v[0] for k, v in parse_qs(urlsplit(start).query).items()}}
    return f"{location.hub_public_url}/hub/wod-unlock/{seat.username}?{urlencode(query)}"
