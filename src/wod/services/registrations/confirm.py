"""Confirming an unconfirmed registration (``registration.confirm_email``) through the link of
its confirmation email: what the link's page shows (:func:`confirmation_for_token`), then the
act (:func:`confirm_registration`), which holds a seat exactly as a registration made without
the step does (:func:`~.register.hold_seat`).

A link that no longer confirms anything is refused with the reason: unknown (mistyped, or its
registration was erased) :class:`~wod.errors.NotFound`; out of time
:class:`~wod.errors.ConfirmationExpired`; used :class:`~wod.errors.AlreadyConfirmed`. Reading
the link changes nothing (mail scanners open links): only the act does, once — the registration
leaves ``unconfirmed`` by a conditional update.

When no seat is left at that moment, the registration ends (``failed``, ``workshop_full``) and
:class:`~wod.errors.WorkshopFull` says so. When the address has a live registration meanwhile,
:class:`~wod.errors.AlreadyRegistered` (its manage link is emailed again, as at registration)
and the registration stays unconfirmed: the link works again once that workshop is over, until
it expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Registration, Workshop
from wod.db.transitions import move
from wod.domain.secrets import hash_token
from wod.domain.states import EndReason, RegistrationState
from wod.errors import (
    AlreadyConfirmed,
    AlreadyRegistered,
    ConfirmationExpired,
    InvalidState,
    NotFound,
    WorkshopFull,
    WorkshopNotFound,
)
from wod.i18n import _
from wod.services.registrations.lifecycle import drop_unconfirmed
from wod.services.registrations.register import (
    check_admission,
    hold_seat,
    resend_manage_link,
)


@dataclass(frozen=True)
class Confirmation:
    """What the confirmation page shows of the registration its link would confirm."""

    registration_id: int
    workshop: str
    workshop_name: str
    email: str
    due_at: datetime


def _for_token(session: Session, token: str) -> Registration:
    registration = session.scalar(
        select(Registration).where(Registration.confirm_token_hash == hash_token(token))
    )
    if registration is None:
        raise NotFound(
            _(
                "This confirmation link is not valid: check that you opened it whole, or "
                "register again."
            )
        )
    return registration


def check_open(registration: Registration, now: datetime) -> None:
    """Raise the refusal that says why the link of ``registration`` no longer confirms it."""
    if registration.state is RegistrationState.unconfirmed:
        due = registration.confirm_due_at
        if due is None or now >= due:  # the timer has not ended it yet: it is over all the same
            raise ConfirmationExpired()
        return
    if registration.ended_reason == EndReason.confirm_timeout:
        raise ConfirmationExpired()
    if registration.ended_reason == EndReason.workshop_full:
        raise AlreadyConfirmed(
            _(
                "This registration was confirmed when every seat was taken: it was cancelled "
                "and holds no seat. Pick another workshop, or register again later."
            )
        )
    raise AlreadyConfirmed()


def confirmation_for_token(ctx: AppContext, token: str) -> Confirmation:
    """What the link ``token`` would confirm; the refusal that says why not when it cannot
    (see the module). Reads only."""
    with ctx.db.read() as session:
        registration = _for_token(session, token)
        check_open(registration, ctx.clock.now())
        workshop = session.get(Workshop, registration.workshop_id)
        assert workshop is not None and registration.confirm_due_at is not None
        return Confirmation(
            registration.id,
            workshop.slug,
            workshop.name,
            registration.email,
            registration.confirm_due_at,
        )


def confirm_registration(ctx: AppContext, token: str) -> Registration:
    """Confirm the registration of the link ``token``: it becomes ``queued`` with its seat
    reserved, its CREATE job and welcome email queued, in one transaction. Refusals: see the
    module."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        found = _for_token(session, token)
        check_open(found, now)
        registration_id, workshop_id, email = found.id, found.workshop_id, found.email
    try:
        with ctx.db.write() as session:
            return _confirm(ctx, session, registration_id, workshop_id, now)
    except WorkshopFull as exc:
        _drop_full(ctx, registration_id, now)
        raise _full() from exc
    except IntegrityError as exc:
        if "email" not in str(exc.orig):  # a concurrent registration took the last seat
            _drop_full(ctx, registration_id, now)
            raise _full() from exc
        failure: AlreadyRegistered = AlreadyRegistered()
        cause: Exception = exc
    except AlreadyRegistered as exc:
        failure, cause = exc, exc
    resend_manage_link(ctx, email)
    raise failure from cause


def _confirm(
    ctx: AppContext, session: Session, registration_id: int, workshop_id: int, now: datetime
) -> Registration:
    # the workshop first (locked on PostgreSQL, for an exact count), then the registration as
    # it is once the lock is held: a second click waiting for the first sees it confirmed
    workshop = session.scalar(select(Workshop).where(Workshop.id == workshop_id).with_for_update())
    registration = session.get(Registration, registration_id, populate_existing=True)
    if registration is None:
        raise NotFound(_("This confirmation link is not valid: register again."))
    check_open(registration, now)
    if workshop is None or not workshop.active:
        raise WorkshopNotFound(_("This workshop is no longer open for registration."))
    admission = check_admission(session, workshop, registration.email)
    move(session, registration, RegistrationState.queued, confirm_due_at=None, confirmed_at=now)
    hold_seat(ctx, session, workshop, registration, now, admission.revision_id)
    return registration


def _full() -> WorkshopFull:
    return WorkshopFull(
        _(
            "Every seat of this workshop was taken before you confirmed: your registration is "
            "cancelled and holds no seat. Pick another workshop, or register again later."
        )
    )


def _drop_full(ctx: AppContext, registration_id: int, now: datetime) -> None:
    with ctx.db.write() as session:
        registration = session.get(Registration, registration_id)
        if registration is None or registration.state is not RegistrationState.unconfirmed:
            return
        try:
            drop_unconfirmed(session, registration, EndReason.workshop_full, now)
        except InvalidState:  # the timer ended it meanwhile
            return
