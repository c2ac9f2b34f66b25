"""What the api does when an agent reports abuse on a seat: the registration ends (reason
``abuse``, no badge), the seat is purged, the admins are told."""

from __future__ import annotations

from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat
from wod.domain.states import SEAT_HOLDING, EndReason
from wod.errors import NotFound
from wod.services.mail.queue import alert_admins
from wod.services.provisioning.seats import cleaning_job, purge_seat
from wod.services.registrations.lifecycle import stop_registration


def report_abuse(ctx: AppContext, location: Location, number: int, reason: str) -> Job:
    """Stop the seat's registration and purge the seat; the seat's PURGE job (or the running
    CLEANUP or RESET that cleans it)."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        seat = session.scalar(
            select(Seat).where(Seat.location_id == location.id, Seat.number == number)
        )
        if seat is None:
            raise NotFound(f"no seat {number} at this location")
        registration = session.scalar(
            select(Registration).where(
                Registration.seat_id == seat.id, Registration.state.in_(SEAT_HOLDING)
            )
        )
        held, job = "", None
        if registration is not None:
            held = f" (registration {registration.id}, {registration.email})"
            job = stop_registration(ctx, session, registration, EndReason.abuse, now)
        if job is None:  # a CLEANUP or RESET that runs already cleans the seat
            running = cleaning_job(session, seat)
            job = session.get(Job, running) if running is not None else None
        if job is None:
            job = purge_seat(session, seat, now, ctx.settings.scheduler.job_attempts)
        alert_admins(
            session,
            ctx.settings.alerts.recipients,
            f"abuse on {seat.username} at {location.name}",
            f"The agent of {location.name} killed the processes of {seat.username}{held}:\n"
            f"{reason}\n\nThe registration was ended and the seat is being purged.",
            f"abuse:{seat.id}:{now.isoformat()}",
            now,
        )
        return job
