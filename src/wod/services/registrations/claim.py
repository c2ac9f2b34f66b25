"""Claiming the seat a waiting-list offer holds (:mod:`.waitlist`) through the link of its
email: what the link's page shows (:func:`offer_for_token`), then the act
(:func:`claim_offer`), which makes the registration exactly as a registration without the list
is made (:func:`~.register.hold_seat`).

A link that no longer claims anything is refused with the reason and changes nothing: unknown
(mistyped, or erased with the person's data) :class:`~wod.errors.NotFound`; out of time
:class:`~wod.errors.ClaimExpired`; used :class:`~wod.errors.AlreadyClaimed`. Reading the link
changes nothing (mail scanners open links): only the act does, once — in one transaction that
locks the workshop's row (on SQLite the write transaction is exclusive), the entry leaves
``offered`` by a conditional update, so that of parallel claims one wins and the others read
:class:`~wod.errors.AlreadyClaimed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Registration, WaitlistEntry, Workshop
from wod.db.transitions import move
from wod.domain.secrets import hash_token
from wod.domain.states import WaitlistState
from wod.errors import (
    AlreadyClaimed,
    AlreadyRegistered,
    ClaimExpired,
    InvalidState,
    NotFound,
    WorkshopFull,
    WorkshopNotFound,
)
from wod.i18n import _
from wod.services.registrations.register import (
    RegistrationRequest,
    check_admission,
    hold_seat,
    new_registration,
)

_W = WaitlistState


@dataclass(frozen=True)
class Offer:
    """What the claim page shows of the offer its link would claim."""

    entry_id: int
    workshop: str
    workshop_name: str
    email: str
    due_at: datetime


def _for_token(session: Session, token: str) -> WaitlistEntry:
    entry = session.scalar(
        select(WaitlistEntry).where(WaitlistEntry.offer_token_hash == hash_token(token))
    )
    if entry is None:
        raise NotFound(
            _(
                "This claim link is not valid: check that you opened it whole. It may also "
                "have been erased with your data."
            )
        )
    return entry


def check_claimable(entry: WaitlistEntry, now: datetime) -> None:
    """Raise the refusal that says why the claim link of ``entry`` no longer claims a seat."""
    if entry.state is _W.offered:
        if entry.offer_due_at is None or now >= entry.offer_due_at:  # the timer is not by yet
            raise ClaimExpired()
        return
    if entry.state is _W.claimed:
        raise AlreadyClaimed()
    if entry.state is _W.expired:
        raise ClaimExpired()
    raise ClaimExpired(_("This offer was withdrawn: the workshop is no longer open."))


def offer_for_token(ctx: AppContext, token: str) -> Offer:
    """What the claim link ``token`` would claim; the refusal that says why not when it
    cannot (:func:`check_claimable`, or :class:`~wod.errors.NotFound`). Reads only."""
    with ctx.db.read() as session:
        entry = _for_token(session, token)
        check_claimable(entry, ctx.clock.now())
        workshop = session.get(Workshop, entry.workshop_id)
        assert workshop is not None and entry.offer_due_at is not None
        return Offer(entry.id, workshop.slug, workshop.name, entry.email, entry.offer_due_at)


def claim_offer(ctx: AppContext, token: str) -> Registration:
    """Claim the seat the offer of ``token`` holds: the entry becomes ``claimed`` and its
    registration is made and holds the seat (its CREATE job and welcome email queued), once,
    in one transaction. A refusal changes nothing: an unknown, used or expired link
    (:func:`check_claimable`); :class:`~wod.errors.AlreadyRegistered` when the address has a
    workshop running (the offer stays, until it expires); :class:`~wod.errors.WorkshopFull`
    when no seat could be reserved after all."""
    now = ctx.clock.now()
    with ctx.db.read() as session:
        entry = _for_token(session, token)
        check_claimable(entry, now)
        entry_id, workshop_id = entry.id, entry.workshop_id
    try:
        with ctx.db.write() as session:
            return _claim(ctx, session, entry_id, workshop_id, now)
    except IntegrityError as exc:
        if "email" in str(exc.orig):
            raise AlreadyRegistered() from exc
        raise WorkshopFull() from exc
    except InvalidState as exc:
        if isinstance(exc, AlreadyClaimed | ClaimExpired):
            raise
        raise AlreadyClaimed() from exc  # a concurrent claim moved the entry first


def _claim(
    ctx: AppContext, session: Session, entry_id: int, workshop_id: int, now: datetime
) -> Registration:
    # the workshop first (locked on PostgreSQL), then the entry as it is once the lock is held:
    # a claim that waited for another one sees the entry claimed
    workshop = session.scalar(select(Workshop).where(Workshop.id == workshop_id).with_for_update())
    entry = session.get(WaitlistEntry, entry_id, populate_existing=True)
    if entry is None:
        raise NotFound(_("This claim link is not valid."))
    check_claimable(entry, now)
    if workshop is None or not workshop.active:
        raise WorkshopNotFound(_("This workshop is no longer open for registration."))
    move(session, entry, _W.claimed, ended_at=now, offer_due_at=None)
    # the other offers keep their seats
    admission = check_admission(session, workshop, entry.email, held=(_W.offered,))
    request = RegistrationRequest(
        workshop.slug, entry.email, entry.name, entry.company, True, entry.language
    )
    registration = new_registration(ctx, workshop, request, now)
    hold_seat(ctx, session, workshop, registration, now, admission.revision_id)
    entry.registration_id = registration.id
    return registration
