"""What a seat's limits contained (systemd mode: the OOM killer in its unit, forks refused at
its tasks limit, its CPU quota) reaches the admins. The seat keeps running: a contained seat
harms no other, so its registration goes on (an abuse report ends it)."""

from __future__ import annotations

from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Location, Seat
from wod.errors import NotFound
from wod.services.mail.queue import alert_admins


def report_containment(ctx: AppContext, location: Location, number: int, events: list[str]) -> None:
    """Alert the admins of what a seat's limits contained on a location's hub host."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        seat = session.scalar(
            select(Seat).where(Seat.location_id == location.id, Seat.number == number)
        )
        if seat is None:
            raise NotFound(f"no seat {number} at this location")
        alert_admins(
            session,
            ctx.settings.alerts.recipients,
            f"limits reached by {seat.username} at {location.name}",
            f"The limits of {seat.username} at {location.name} contained:\n\n"
            + "\n".join(f"- {event}" for event in events)
            + "\n\nThe seat goes on; the other seats of the host were not affected.",
            f"contained:{seat.id}:{now.isoformat()}",
            now,
        )
