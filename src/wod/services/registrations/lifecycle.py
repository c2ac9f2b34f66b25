"""How a registration moves once it exists (ARCHITECTURE §4): ended at its time or on request
(a CLEANUP follows), extended once, stopped at once when it must not go on, finished when its
seat was cleaned, or dropped before it held a seat (unconfirmed). Every change goes through
the transition table (:func:`~wod.db.transitions.move`).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Job, Registration, Seat, Workshop
from wod.db.transitions import move
from wod.domain.states import EndReason, JobState, RegistrationState, SeatState, Verb
from wod.errors import InvalidState
from wod.i18n import _
from wod.services.mail.kinds import APOLOGY, CREDENTIALS, FINAL, WELCOME
from wod.services.mail.queue import queue_email, withdraw_unsent
from wod.services.provisioning.jobs import enqueue_job
from wod.services.provisioning.seats import cleaning_job, purge_seat
from wod.settings import Settings


def reminder_lead(settings: Settings, workshop: Workshop) -> timedelta:
    """How long before the end the reminder goes (shorter for workshops of an hour or less)."""
    reg = settings.registration
    return reg.reminder_before_short if workshop.duration_hours <= 1 else reg.reminder_before


def activate(
    ctx: AppContext,
    session: Session,
    registration: Registration,
    workshop: Workshop,
    seat: Seat,
    sealed_password: str,
    now: datetime,
) -> None:
    """The registration's seat is ready (its CREATE is done, or it was a warm seat): the
    registration becomes active with the seat's password, its clock starts, its credentials
    email is queued (with the welcome, when that one was not sent yet)."""
    ends_at = now + timedelta(hours=workshop.duration_hours)
    move(
        session,
        registration,
        RegistrationState.active,
        ready_at=now,
        ends_at=ends_at,
        password_enc=sealed_password,
        provision_due_at=None,
        reminder_due_at=max(now, ends_at - reminder_lead(ctx.settings, workshop)),
    )
    if seat.state is not SeatState.ready:
        move(session, seat, SeatState.ready, updated_at=now)
    # ready while the welcome email still waits (outbox.combine_within): one email says both
    combined = bool(ctx.settings.outbox.combine_within) and withdraw_unsent(
        session, WELCOME, registration
    )
    queue_email(
        session, CREDENTIALS, registration, now, payload={"welcome": True} if combined else None
    )


def end_registration(
    ctx: AppContext, session: Session, registration: Registration, reason: EndReason
) -> None:
    """Move an active registration to ``ending`` and queue the CLEANUP of its seat."""
    now = ctx.clock.now()
    move(session, registration, RegistrationState.ending, ended_reason=reason, reminder_due_at=None)
    seat = session.get(Seat, registration.seat_id)
    assert seat is not None
    move(session, seat, SeatState.cleaning, updated_at=now)
    seat.lab_token_hash = None  # the seat's lab token dies with the registration
    enqueue_job(
        session,
        Verb.CLEANUP,
        seat,
        now,
        registration=registration,
        workshop=session.get(Workshop, registration.workshop_id),
        attempts=ctx.settings.scheduler.job_attempts,
    )


def extend_registration(ctx: AppContext, session: Session, registration: Registration) -> None:
    """The one extension by ``extend_by`` of an active registration, if its workshop allows."""
    workshop = session.get(Workshop, registration.workshop_id)
    assert workshop is not None
    if registration.state is not RegistrationState.active or registration.ends_at is None:
        raise InvalidState(_("Only a running workshop can be extended."))
    if not workshop.extendable:
        raise InvalidState(_("This workshop cannot be extended."))
    if registration.extended:
        raise InvalidState(_("This registration was already extended once."))
    ends_at = registration.ends_at + ctx.settings.registration.extend_by
    reminder = registration.reminder_due_at
    if reminder is not None:  # not sent yet: it moves with the end
        reminder = max(ctx.clock.now(), ends_at - reminder_lead(ctx.settings, workshop))
    result = session.execute(
        update(Registration)
        .where(
            Registration.id == registration.id,
            Registration.extended.is_(False),
            Registration.state == RegistrationState.active,
        )
        .values(ends_at=ends_at, extended=True, reminder_due_at=reminder)
        .execution_options(synchronize_session="evaluate")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(_("This registration was already extended once."))


def stop_registration(
    ctx: AppContext,
    session: Session,
    registration: Registration,
    reason: EndReason,
    now: datetime,
    *,
    apology: bool = False,
) -> Job | None:
    """Stop a live registration at once, for ``reason``.

    Through the transition table, ``active`` and ``ending`` become ``ended`` and ``queued`` and
    ``provisioning`` become ``failed``, with ``reason`` and the sealed seat password dropped. No
    CLEANUP runs for it, so no completion is recorded, no badge awarded and no final email sent.
    Its queued jobs are cancelled and its seat purged — unless a CLEANUP or RESET of the seat
    already runs: that job cleans the seat itself, and a PURGE queued behind it could find the
    seat handed to someone else. With ``apology`` the participant is told that the seat could
    not be prepared. Returns the seat's PURGE job, if one was queued."""
    over = {"ended_at": now, "ended_reason": reason, "password_enc": None}
    if registration.state is RegistrationState.active:
        move(session, registration, RegistrationState.ending, reminder_due_at=None)
    if registration.state is RegistrationState.ending:
        move(session, registration, RegistrationState.ended, reminder_due_at=None, **over)
    else:
        move(session, registration, RegistrationState.failed, provision_due_at=None, **over)
    for job in session.scalars(
        select(Job).where(Job.registration_id == registration.id, Job.state == JobState.queued)
    ):
        move(session, job, JobState.failed, finished_at=now, error=f"cancelled: {reason}")
    if apology:
        queue_email(session, APOLOGY, registration, now)
    seat = session.get(Seat, registration.seat_id)
    assert seat is not None
    if cleaning_job(session, seat) is not None:
        return None
    return purge_seat(session, seat, now, ctx.settings.scheduler.job_attempts)


def drop_unconfirmed(
    session: Session, registration: Registration, reason: EndReason, now: datetime
) -> None:
    """End an unconfirmed registration, which holds no seat and has no job: ``failed`` with
    ``reason``, no email. Its confirmation link then says it can no longer be used."""
    move(
        session,
        registration,
        RegistrationState.failed,
        ended_at=now,
        ended_reason=reason,
        confirm_due_at=None,
    )


def finish_registration(
    session: Session, registration: Registration, now: datetime, completion: int | None
) -> None:
    """An ``ending`` registration whose seat was cleaned (or could not be): ``ended`` with its
    completion, and the final email."""
    move(
        session,
        registration,
        RegistrationState.ended,
        ended_at=now,
        completion=completion,
        password_enc=None,
        reminder_due_at=None,
    )
    queue_email(session, FINAL, registration, now)
