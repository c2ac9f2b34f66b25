"""The waiting list of a full workshop (``waitlist.*``): joining it (:func:`join_waitlist`),
the scheduler's offers when a seat frees and their expiry (:func:`expire_offers`,
:func:`offer_free_seats`); the claim of an offer through its emailed link is :mod:`.claim`.

A workshop's seats are freed by many paths (a registration ended, failed, purged, moved; a
seat cleaned; a capacity raised), so no path is hooked: each scheduler pass counts what is open
— :func:`~wod.services.catalogue.read.open_seats`, capacity and free seats less the live
registrations — and offers what its outstanding offers do not hold already to the first in
line (by ``id``). Everyone on the list comes before a public registration: the capacity check
of :func:`~.register.register` and the catalogue's seats left count every entry on the list
(waiting or offered), and a workshop is full to the portal as long as anyone waits.

An offer holds its seat for ``waitlist.claim_minutes`` (:mod:`.claim` takes it, once); one not
claimed in time becomes ``expired`` and its seat goes to the next in line in the same pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import Email, Registration, WaitlistEntry, Workshop
from wod.db.transitions import move
from wod.domain.secrets import claim_token, hash_token, new_nonce
from wod.domain.states import SEAT_HOLDING, WAITLIST_LIVE, WaitlistState
from wod.errors import (
    AlreadyRegistered,
    InvalidState,
    SeatsFree,
    WaitlistClosed,
    WaitlistFull,
    WorkshopNotFound,
)
from wod.i18n import _
from wod.services.catalogue.read import open_seats, seats_left
from wod.services.mail.kinds import WAITLIST_JOINED, WAITLIST_OFFER
from wod.services.mail.queue import queue_email
from wod.services.registrations import ratelimit
from wod.services.registrations.register import (
    RegistrationRequest,
    validate_request,
)

_W = WaitlistState


@dataclass(frozen=True)
class WaitlistPlace:
    """An address's place on a workshop's waiting list."""

    entry_id: int
    workshop: str
    state: WaitlistState
    #: 1 for the next in line; 0 once offered.
    position: int
    #: The address was on the list already (joining again changes nothing).
    already: bool


# ------------------------------------------------------------------------------ joining


def join_waitlist(
    ctx: AppContext, request: RegistrationRequest, client: str | None = None
) -> WaitlistPlace:
    """Put an address on a full workshop's waiting list, validated as a registration is, and
    email it its position; the same address again answers its place and changes nothing.

    Refusals: :class:`~wod.errors.WaitlistClosed` (``waitlist.enabled`` off),
    :class:`~wod.errors.SeatsFree` (register instead), :class:`~wod.errors.WaitlistFull`
    (``waitlist.max_entries``), :class:`~wod.errors.AlreadyRegistered` (the address holds a
    seat of this workshop), and those of the registration's validation and rate limits."""
    if not ctx.settings.waitlist.enabled:
        raise WaitlistClosed()
    limits = ctx.settings.registration
    request = validate_request(request, limits)
    counted = [(f"waitlist-email:{request.email}", limits.rate_per_email, limits.rate_window)]
    if client is not None:
        counted.append((f"waitlist-ip:{client}", limits.rate_per_ip, limits.rate_window))
    ratelimit.hit_all(ctx, counted)
    for may_retry in (True, False):
        try:
            with ctx.db.write() as session:
                return _join(ctx, session, request)
        except IntegrityError:
            if not may_retry:
                raise
            continue  # a concurrent twin joined first: the retry answers its place
    raise AssertionError("the second attempt returns or raises")


def _join(ctx: AppContext, session: Session, request: RegistrationRequest) -> WaitlistPlace:
    now = ctx.clock.now()
    workshop = session.scalar(
        select(Workshop).where(Workshop.slug == request.workshop).with_for_update()
    )
    if workshop is None or not workshop.active:
        slug = repr(request.workshop)
        raise WorkshopNotFound(_("No workshop %(slug)s is open for registration.", slug=slug))
    entry = session.scalar(
        select(WaitlistEntry).where(
            WaitlistEntry.workshop_id == workshop.id,
            WaitlistEntry.email == request.email,
            WaitlistEntry.state.in_(WAITLIST_LIVE),
        )
    )
    if entry is not None:
        return _place(session, entry, workshop, already=True)
    _check_may_join(ctx, session, workshop, request.email)
    entry = WaitlistEntry(
        workshop_id=workshop.id,
        email=request.email,
        name=request.name,
        company=request.company,
        language=request.language,
        created_at=now,
    )
    session.add(entry)
    session.flush()
    place = _place(session, entry, workshop, already=False)
    queue_email(
        session,
        WAITLIST_JOINED,
        None,
        now,
        key=f"waitlist:{entry.id}:joined",
        recipient=entry.email,
        payload=_payload(entry, workshop) | {"position": place.position},
    )
    return place


def _check_may_join(ctx: AppContext, session: Session, workshop: Workshop, email: str) -> None:
    holding = select(Registration.id).where(
        Registration.workshop_id == workshop.id,
        Registration.email == email,
        Registration.state.in_(SEAT_HOLDING),
    )
    if session.scalar(holding) is not None:
        raise AlreadyRegistered(_("This address already holds a seat of this workshop."))
    if seats_left(session, [workshop])[workshop.id] > 0:
        raise SeatsFree(_("Seats are free: register for the workshop instead."))
    if _count(session, workshop.id, WAITLIST_LIVE) >= ctx.settings.waitlist.max_entries:
        raise WaitlistFull()


def _count(session: Session, workshop_id: int, states: tuple[WaitlistState, ...]) -> int:
    count = session.scalar(
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.workshop_id == workshop_id, WaitlistEntry.state.in_(states))
    )
    return count or 0


def _place(
    session: Session, entry: WaitlistEntry, workshop: Workshop, *, already: bool
) -> WaitlistPlace:
    position = 0
    if entry.state is _W.waiting:
        ahead = select(func.count()).where(
            WaitlistEntry.workshop_id == entry.workshop_id,
            WaitlistEntry.state == _W.waiting,
            WaitlistEntry.id <= entry.id,
        )
        position = session.scalar(ahead) or 1
    return WaitlistPlace(entry.id, workshop.slug, entry.state, position, already)


def _payload(entry: WaitlistEntry, workshop: Workshop) -> dict[str, Any]:
    """What the waiting-list emails say (they have no registration to read it from)."""
    return {
        "name": entry.name,
        "workshop": workshop.slug,
        "workshop_name": workshop.name,
        "language": entry.language,
    }


def waiting_counts(ctx: AppContext) -> dict[int, int]:
    """The entries on the list (waiting or offered) per workshop id, for the admin views."""
    with ctx.db.read() as session:
        rows = session.execute(
            select(WaitlistEntry.workshop_id, func.count())
            .where(WaitlistEntry.state.in_(WAITLIST_LIVE))
            .group_by(WaitlistEntry.workshop_id)
        ).all()
        return {int(workshop_id): int(count) for workshop_id, count in rows}


# ------------------------------------------------------------------ the scheduler's passes


def expire_offers(ctx: AppContext) -> int:
    """Offers whose claim link ran out: ``expired`` (the next pass of
    :func:`offer_free_seats` gives their seat to the next in line); how many."""
    now = ctx.clock.now()
    due = (
        select(WaitlistEntry.id)
        .where(WaitlistEntry.state == _W.offered, WaitlistEntry.offer_due_at <= now)
        .order_by(WaitlistEntry.offer_due_at)
        .limit(ctx.settings.scheduler.batch)
    )
    with ctx.db.read() as session:
        ids = list(session.scalars(due))
    done = 0
    for entry_id in ids:
        try:
            with ctx.db.write() as session:
                entry = session.get(WaitlistEntry, entry_id)
                if entry is None or entry.state is not _W.offered:
                    continue  # claimed, or another scheduler got there first
                move(session, entry, _W.expired, ended_at=now, offer_due_at=None)
                done += 1
        except InvalidState:
            continue
    return done


def offer_free_seats(ctx: AppContext) -> int:
    """For each workshop with addresses waiting, offer the seats that are open and not held
    by an outstanding offer to the first in line (an email with a claim link valid
    ``waitlist.claim_minutes``); how many offers were made."""
    with ctx.db.read() as session:
        workshop_ids = list(
            session.scalars(
                select(WaitlistEntry.workshop_id)
                .where(WaitlistEntry.state == _W.waiting)
                .distinct()
                .limit(ctx.settings.scheduler.batch)
            )
        )
    done = 0
    for workshop_id in workshop_ids:
        try:
            with ctx.db.write() as session:
                done += _offer(ctx, session, workshop_id)
        except InvalidState:  # another scheduler offered meanwhile
            continue
    return done


def _offer(ctx: AppContext, session: Session, workshop_id: int) -> int:
    now = ctx.clock.now()
    workshop = session.scalar(select(Workshop).where(Workshop.id == workshop_id).with_for_update())
    if workshop is None or not workshop.active:
        return 0
    _leave_seated(session, workshop, now)
    offered = _count(session, workshop.id, (_W.offered,))
    free = open_seats(session, [workshop])[workshop.id] - offered
    if free <= 0:
        return 0
    first = session.scalars(
        select(WaitlistEntry)
        .where(WaitlistEntry.workshop_id == workshop.id, WaitlistEntry.state == _W.waiting)
        .order_by(WaitlistEntry.id)
        .limit(free)
    ).all()
    secret = ctx.settings.secret_key.get_secret_value()
    due = now + timedelta(minutes=ctx.settings.waitlist.claim_minutes)
    for entry in first:
        nonce = new_nonce()
        move(
            session,
            entry,
            _W.offered,
            offer_nonce=nonce,
            offer_token_hash=hash_token(claim_token(secret, nonce)),
            offered_at=now,
            offer_due_at=due,
        )
        queue_email(
            session,
            WAITLIST_OFFER,
            None,
            now,
            key=f"waitlist:{entry.id}:offer",
            recipient=entry.email,
            payload=_payload(entry, workshop) | {"nonce": nonce, "due_at": due.isoformat()},
        )
    return len(first)


def _leave_seated(session: Session, workshop: Workshop, now: datetime) -> None:
    """Take off the list the addresses that got a seat of the workshop meanwhile (registered
    when seats were open to the public): an offer would hold a seat they cannot claim."""
    seated = select(Registration.email).where(
        Registration.workshop_id == workshop.id, Registration.state.in_(SEAT_HOLDING)
    )
    session.execute(
        update(WaitlistEntry)  # waiting -> left, as the table allows (a conditional update)
        .where(
            WaitlistEntry.workshop_id == workshop.id,
            WaitlistEntry.state == _W.waiting,
            WaitlistEntry.email.in_(seated),
        )
        .values(state=_W.left, ended_at=now)
        .execution_options(synchronize_session=False)
    )


# ------------------------------------------------------------------------------- erasure


def forget_ended(ctx: AppContext) -> int:
    """The retention of the list: delete the entries that left it (claimed, expired, left)
    more than ``retention.days`` ago; their emails go with the admin alerts'
    (:mod:`wod.services.admin.retention`). How many were deleted."""
    cutoff = ctx.clock.now() - timedelta(days=ctx.settings.retention.days)
    old = WaitlistEntry.ended_at <= cutoff
    with ctx.db.read() as session:  # most passes find none: no write lock for nothing
        if session.scalar(select(WaitlistEntry.id).where(old).limit(1)) is None:
            return 0
    with ctx.db.write() as session:
        result = session.execute(delete(WaitlistEntry).where(old))
        return int(result.rowcount)  # type: ignore[attr-defined]


def erase_entries(session: Session, email: str) -> None:
    """Delete the waiting-list entries of an address and their emails (an admin's purge)."""
    session.execute(
        delete(Email).where(
            Email.registration_id.is_(None),
            Email.recipient == email,
            Email.kind.in_((WAITLIST_JOINED.name, WAITLIST_OFFER.name)),
        )
    )
    session.execute(delete(WaitlistEntry).where(WaitlistEntry.email == email))
