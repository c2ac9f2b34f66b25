"""Registering for a workshop: validation, then one transaction that reserves a seat, inserts
the registration, queues the CREATE job and the welcome email (:func:`hold_seat`; with
``registration.confirm_email``, that happens when the address confirms, :mod:`.confirm`).

Correctness under concurrency does not rest on the checks below but on the database: the seat
is taken by a conditional update (one winner), the workshop row is locked on PostgreSQL so the
capacity count is exact, and partial unique indexes forbid two live registrations on one seat
or for one email.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from disposable_email_domains import blocklist as disposable_domains
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod import i18n, metrics
from wod.context import AppContext
from wod.db.models import Email, Registration, Seat, WaitlistEntry, Workshop
from wod.domain.secrets import hash_token, manage_token, new_nonce
from wod.domain.states import (
    EMAIL_HOLDING,
    SEAT_HOLDING,
    WAITLIST_LIVE,
    SeatState,
    Verb,
    WaitlistState,
)
from wod.errors import (
    AlreadyRegistered,
    EmailRejected,
    FieldProblem,
    InvalidInput,
    RateLimited,
    Refusal,
    TermsNotAccepted,
    WorkshopFull,
    WorkshopNotFound,
)
from wod.i18n import _
from wod.services.content.revisions import current_revision_id
from wod.services.mail.kinds import ALREADY_REGISTERED, WELCOME
from wod.services.mail.queue import queue_email
from wod.services.provisioning.jobs import enqueue_job
from wod.services.provisioning.seats import reserve_seat
from wod.services.provisioning.warm import adopt_warming_seat, take_warm_seat
from wod.services.registrations import ratelimit, unconfirmed
from wod.services.registrations.address_cap import (
    address_lock,
    check_address_cap,
    client_key,
    live_from,
)
from wod.services.registrations.lifecycle import activate
from wod.settings import RegistrationSettings


@dataclass(frozen=True)
class RegistrationRequest:
    """What a participant submits, as typed (validated by :func:`validate_request`)."""

    workshop: str
    email: str
    name: str
    company: str
    accept_terms: bool
    language: str = "en"
    #: The participant's time zone, as the browser names it (empty: UTC; an unknown name is
    #: taken as UTC: the browser chose it, not the participant).
    time_zone: str = ""


def _check_text(problems: list[FieldProblem], field: str, value: str, limit: int) -> str:
    value = " ".join(unicodedata.normalize("NFC", value).split())
    hidden = invisible_characters(value)
    if hidden:
        codes = ", ".join(f"U+{ord(c):04X}" for c in dict.fromkeys(hidden))
        problems.append(
            FieldProblem(
                field, _("contains invisible or control characters (%(codes)s)", codes=codes)
            )
        )
    elif not value:
        problems.append(FieldProblem(field, _("is required")))
    elif len(value) > limit:
        problems.append(FieldProblem(field, _("is longer than %(limit)s characters", limit=limit)))
    return value


#: The joiners some scripts write between two letters (Persian, Indic scripts).
_JOINERS = {"\u200c", "\u200d"}


def _between_letters(value: str, i: int) -> bool:
    return 0 < i < len(value) - 1 and all(
        unicodedata.category(value[j])[0] in "LM" for j in (i - 1, i + 1)
    )


def invisible_characters(value: str) -> list[str]:
    """The characters of ``value`` nobody sees: controls (C0, DEL, C1), format characters
    (bidi controls, zero-width spaces, the byte order mark), line and paragraph separators,
    and private-use ones; a joiner between two letters is writing, not hiding."""
    found = []
    for i, char in enumerate(value):
        category = unicodedata.category(char)
        if category not in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp"):
            continue
        if not (char in _JOINERS and _between_letters(value, i)):
            found.append(char)
    return found


def _email_problem(exc: EmailNotValidError) -> str:
    """The validator's explanation in English; a plain one in other languages."""
    if i18n.current() == i18n.DEFAULT:
        return str(exc)
    return _("is not a valid email address")


def validate_request(
    request: RegistrationRequest, limits: RegistrationSettings
) -> RegistrationRequest:
    """The request with normalised values, or :class:`InvalidInput` listing every problem."""
    problems: list[FieldProblem] = []
    name = _check_text(problems, "name", request.name, limits.name_max)
    company = _check_text(problems, "company", request.company, limits.company_max)
    email = request.email.strip()
    if len(email) > limits.email_max:
        problems.append(
            FieldProblem("email", _("is longer than %(limit)s characters", limit=limits.email_max))
        )
    else:
        try:
            email = validate_email(email, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            problems.append(FieldProblem("email", _email_problem(exc)))
    if not request.accept_terms:
        if not problems:
            raise TermsNotAccepted()
        problems += TermsNotAccepted().problems  # every problem at once
    if problems:
        raise InvalidInput(problems)
    check_domain(email, limits)
    return RegistrationRequest(
        request.workshop.strip(),
        email,
        name,
        company,
        True,
        request.language,
        i18n.time_zone(request.time_zone) or "",
    )


def check_domain(email: str, limits: RegistrationSettings) -> None:
    """Refuse disposable-email domains (the maintained list of the disposable-email-domains
    project) and the domains of the ``deny_list`` setting, subdomains included."""
    domain = email.rpartition("@")[2].lower()
    parts = domain.split(".")
    suffixes = {".".join(parts[i:]) for i in range(len(parts) - 1)}
    denied = {d.lower().lstrip("@").strip() for d in limits.deny_list}
    if suffixes & denied or (limits.block_disposable and suffixes & disposable_domains):
        raise EmailRejected(
            [
                FieldProblem(
                    "email",
                    _("addresses at %(domain)s cannot be used; use your work email", domain=domain),
                )
            ],
            _(
                "Addresses at %(domain)s cannot be used to register; please use your work email.",
                domain=domain,
            ),
        )


@metrics.counted_registrations
def register(
    ctx: AppContext, request: RegistrationRequest, client: str | None = None
) -> Registration:
    """Register one participant: the new registration (``queued``) with its seat reserved.

    With ``registration.confirm_email`` it is ``unconfirmed`` instead, holds no seat and the
    only email is its confirmation link (:mod:`.confirm`); a second request of the same address
    for the same workshop meanwhile sends that link again and answers the same registration.

    ``client`` is the caller's network address, for the rate limits and the cap on its live
    registrations (:class:`~wod.errors.AddressLimitReached`). When the email address already
    has a live registration, its manage link is emailed again (only the mailbox owner can act
    on it) and :class:`AlreadyRegistered` is raised."""
    limits = ctx.settings.registration
    request = validate_request(request, limits)
    counted = [(f"email:{request.email}", limits.rate_per_email, limits.rate_window)]
    if client is not None:
        counted.append((f"ip:{client}", limits.rate_per_ip, limits.rate_window))
    for may_retry in (True, False):
        try:
            with ctx.db.write() as session:
                registration = _register(ctx, session, request, client)
                ratelimit.count(session, ctx.clock.now(), counted)  # last: see its doc
                return registration
        except RateLimited:
            raise  # nothing was done, and the refused attempt is not counted
        except IntegrityError as exc:
            if may_retry and "workshop_id" in str(exc.orig):
                continue  # a concurrent twin made it unconfirmed first: its link goes again
            if "email" not in str(exc.orig):
                _count_refused(ctx, counted)
                raise WorkshopFull() from exc
            failure: AlreadyRegistered = AlreadyRegistered()
            cause: Exception = exc
        except AlreadyRegistered as exc:
            failure, cause = exc, exc
        except Refusal:
            _count_refused(ctx, counted)
            raise
        _count_refused(ctx, counted)
        resend_manage_link(ctx, request.email)
        raise failure from cause
    raise AssertionError("the second attempt returns or raises")


def _count_refused(ctx: AppContext, counted: list[ratelimit.Limit]) -> None:
    """Count a refused registration, whose transaction rolled back with its count: refusals
    count like successes (so that probing which addresses are registered is rate limited
    too), and one over the limit answers :class:`RateLimited` instead."""
    ratelimit.hit_all(ctx, counted)


def resend_manage_link(ctx: AppContext, email: str) -> None:
    """Email the manage link of the address's live registration (at most once per
    ``already_registered_every``)."""
    now = ctx.clock.now()
    since = now - ctx.settings.registration.already_registered_every
    with ctx.db.write() as session:
        live = session.scalar(
            select(Registration).where(
                Registration.email == email, Registration.state.in_(EMAIL_HOLDING)
            )
        )
        if live is None:
            return
        recent = select(Email.id).where(
            Email.registration_id == live.id,
            Email.kind == ALREADY_REGISTERED.name,
            Email.created_at > since,
        )
        if session.scalar(recent) is None:
            queue_email(
                session,
                ALREADY_REGISTERED,
                live,
                now,
                key=f"{live.id}:already_registered:{now.timestamp():.6f}",
            )


def _register(
    ctx: AppContext, session: Session, request: RegistrationRequest, client: str | None
) -> Registration:
    now = ctx.clock.now()
    limits = ctx.settings.registration
    key = client_key(ctx.settings.secret_key.get_secret_value(), client) if client else None
    capped = key if key is not None and limits.live_per_address > 0 else None
    query = select(Workshop).where(Workshop.slug == request.workshop).with_for_update(of=Workshop)
    lock = address_lock(session, capped) if capped is not None else None
    found = session.execute(query if lock is None else query.add_columns(lock)).first()
    workshop = found[0] if found is not None else None
    if workshop is None or not workshop.active:
        slug = repr(request.workshop)
        raise WorkshopNotFound(_("No workshop %(slug)s is open for registration.", slug=slug))
    admission = check_admission(session, workshop, request.email, address=capped)
    if limits.confirm_email:
        pending = unconfirmed.unconfirmed_for(session, request.email, workshop.id)
        if pending is not None:  # it counts towards the cap already
            unconfirmed.send_confirmation_again(ctx, session, pending, now)
            return pending
    # after the capacity: a full workshop says so first
    check_address_cap(admission.from_address, limits.live_per_address)
    registration = new_registration(ctx, workshop, request, now, key)
    if limits.confirm_email:
        unconfirmed.ask_confirmation(ctx, session, registration, now)
    else:
        hold_seat(ctx, session, workshop, registration, now, admission.revision_id)
    return registration


def new_registration(
    ctx: AppContext,
    workshop: Workshop,
    request: RegistrationRequest,
    now: datetime,
    key: str | None = None,
) -> Registration:
    """A new registration of a validated ``request``, with its manage link (not added yet)."""
    nonce = new_nonce()
    return Registration(
        workshop_id=workshop.id,
        email=request.email,
        name=request.name,
        company=request.company,
        created_at=now,
        language=request.language,
        time_zone=request.time_zone or None,
        manage_nonce=nonce,
        manage_token_hash=hash_token(
            manage_token(ctx.settings.secret_key.get_secret_value(), nonce)
        ),
        client_key=key,
    )


@dataclass(frozen=True)
class Admission:
    """What a registration reads before it takes a seat, read in one round trip."""

    #: Live registrations from the client address (0 when not asked).
    from_address: int
    #: The content revision in service, which the seat will be rendered from.
    revision_id: int | None


def check_admission(
    session: Session,
    workshop: Workshop,
    email: str,
    held: tuple[WaitlistState, ...] = WAITLIST_LIVE,
    address: str | None = None,
) -> Admission:
    """The checks of a new registration for ``email``, in one round trip: :class:`AlreadyRegistered`
    when the address has a live registration (a friendly check: the partial unique index on live
    addresses is what guarantees it), then :class:`WorkshopFull` when the workshop's
    registrations holding seats, with its waiting-list entries in ``held`` (by default all on the
    list: nobody passes them), reach its ``capacity`` (exact on PostgreSQL, where the caller
    locked the workshop's row). With them, the live registrations of the client ``address`` (a
    :func:`~.address_cap.client_key`), for the caller's cap, and the content revision in
    service, for :func:`hold_seat`."""
    email_live = (
        select(Registration.id)
        .where(Registration.email == email, Registration.state.in_(EMAIL_HOLDING))
        .exists()
    )
    live = (
        select(func.count())
        .select_from(Registration)
        .where(Registration.workshop_id == workshop.id, Registration.state.in_(SEAT_HOLDING))
        .scalar_subquery()
    )
    waiting = (
        select(func.count())
        .select_from(WaitlistEntry)
        .where(WaitlistEntry.workshop_id == workshop.id, WaitlistEntry.state.in_(held))
        .scalar_subquery()
    )
    from_address = live_from(address) if address is not None else literal(0)
    taken, seats_held, from_there, revision_id = session.execute(
        select(email_live, live + waiting, from_address, current_revision_id())
    ).one()
    if taken:
        raise AlreadyRegistered()
    if (seats_held or 0) >= workshop.capacity:
        raise WorkshopFull()
    return Admission(int(from_there or 0), revision_id)


def hold_seat(
    ctx: AppContext,
    session: Session,
    workshop: Workshop,
    registration: Registration,
    now: datetime,
    revision_id: int | None,
) -> None:
    """Give ``registration`` (``queued``, new or just confirmed) a seat rendered from the
    content revision ``revision_id`` (the one in service, as :func:`check_admission` read it);
    :class:`WorkshopFull` when none is left. The one path by which a registration comes to hold
    a seat:

    - a warm seat of the workshop's pool: the registration is active at once, its credentials
      email queued (there is nothing to wait for, so no welcome email);
    - else a free seat, reserved, with its CREATE job and the welcome email queued;
    - else a pool seat still being built: its CREATE becomes the registration's."""
    registration.provision_due_at = now + ctx.settings.registration.provision_timeout
    taken = take_warm_seat(session, workshop, revision_id, now) if workshop.warm else None
    if taken is not None:
        seat, sealed_password = taken
        _place(session, registration, seat, revision_id)
        activate(ctx, session, registration, workshop, seat, sealed_password, now)
        return
    free = reserve_seat(session, workshop, now, SeatState.reserved)
    if free is None:
        adopted = adopt_warming_seat(session, workshop, now) if workshop.warm else None
        if adopted is None:
            raise WorkshopFull()
        building, job, built_from = adopted
        _place(session, registration, building, built_from)
        job.registration_id = registration.id
        queue_welcome(ctx, session, registration, now)
        return
    _place(session, registration, free, revision_id)
    enqueue_job(
        session,
        Verb.CREATE,
        free,
        now,
        registration=registration,
        workshop=workshop,
        attempts=ctx.settings.scheduler.job_attempts,
    )
    queue_welcome(ctx, session, registration, now)


def queue_welcome(
    ctx: AppContext, session: Session, registration: Registration, now: datetime
) -> None:
    """The welcome email, held ``outbox.combine_within``: a seat ready meanwhile sends it
    with the credentials, as one email (:func:`~.lifecycle.activate`)."""
    due = now + ctx.settings.outbox.combine_within
    queue_email(session, WELCOME, registration, now, due=due)


def _place(
    session: Session, registration: Registration, seat: Seat, revision_id: int | None
) -> None:
    registration.location_id, registration.seat_id = seat.location_id, seat.id
    registration.content_revision_id = revision_id
    session.add(registration)
    session.flush()
