"""What the api does when an agent reports abuse on a seat: the registration ends (reason
``abuse``, no badge), the seat is purged, the admins are told."""

from __future__ import annotations

from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Job, Location, Registration, Seat
from wod.domain.states import SEAT_HOLDING, JobState, RegistrationState
from wod.errors import NotFound
from wod.services.outbox import alert_admins
from wod.services.outcomes import purge_seat
from wod.services.transitions import move


def report_abuse(ctx: AppContext, location: Location, number: int, reason: str) -> Job:
    """End the seat's registration and queue its PURGE; the PURGE job."""
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
        held = ""
        if registration is not None:
            held = f" (registration {registration.id}, {registration.email})"
            if registration.state is RegistrationState.active:
                move(
                    session,
                    registration,
                    RegistrationState.ending,
                    ended_reason="abuse",
                    reminder_due_at=None,
                )
            if registration.state is RegistrationState.ending:
                move(
                    session,
                    registration,
                    RegistrationState.ended,
                    ended_at=now,
                    password_enc=None,
                    ended_reason="abuse",
                )
            else:
                move(
                    session,
                    registration,
                    RegistrationState.failed,
                    ended_at=now,
                    ended_reason="abuse",
                    password_enc=None,
                    provision_due_at=None,
                )
            for job in session.scalars(
                select(Job).where(
                    Job.registration_id == registration.id, Job.state == JobState.queued
                )
            ):
                move(session, job, JobState.failed, finished_at=now, error="cancelled: abuse")
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
