"""Retention: personal data are kept only as long as they should be (``retention.days``).

A registration that is over (``ended`` or ``failed``) keeps the person's data for
``retention.days`` after it ended; then the scheduler's timer (:func:`anonymise_due`, one pass
of :func:`wod.scheduler.loop.run_pass`) anonymises it, each registration in its own short
transaction, so that several schedulers never act on one row twice:

- the registration: name and company become empty, the manage link (and the confirmation
  link, if it had one) stops working, the sealed seat password (if any were left) is
  dropped, and the address is replaced by its keyed hash
  (:func:`~wod.services.registrations.badges.email_pseudonym`: HMAC-SHA256 with
  ``secret_key``), so that a returning participant's earlier workshops and badges still count
  towards the levels; ``anonymised_at`` is set;
- its level badges keep that same keyed hash instead of the address;
- its emails: the ones not sent yet are deleted; the others keep their kind, state and dates,
  with the placeholder address ``anonymised-<id>@anonymised.invalid`` instead of the recipient
  (in their dedupe key and last error too) and no payload.

The same delay applies to what else holds someone's data: the admin alert emails (deleted) and
the client addresses of the audit log (forgotten; the export events of the log lose their
detail, which may name the person searched for). The rate limits' counters, which hold client
addresses and registering addresses, already go after two of their windows
(:func:`wod.services.registrations.timers.forget_rate_counters`).

What stays: the workshop, seat, location, dates, state, outcome, completion and language, so
that every figure of the dashboard is unchanged — the companies excepted, counted together as
anonymised. A registration an admin purged was erased already: it is only marked.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, case, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import AuditEvent, BadgeAward, Email, Registration
from wod.domain.states import EmailState, RegistrationState
from wod.services.admin import audit
from wod.services.registrations.badges import ANONYMISED_DOMAIN, email_pseudonym

log = logging.getLogger(__name__)
OVER = (RegistrationState.ended, RegistrationState.failed)


def anonymised_address(registration_id: int) -> str:
    """The recipient an anonymised registration's emails keep."""
    return f"anonymised-{registration_id}@{ANONYMISED_DOMAIN}"


def horizon(ctx: AppContext) -> datetime:
    """What ended (or was written) before this moment is due."""
    return ctx.clock.now() - timedelta(days=ctx.settings.retention.days)


def anonymise_due(ctx: AppContext) -> int:
    """The retention timer: anonymise the registrations over for ``retention.days`` (at most
    ``scheduler.batch`` a pass), delete the admin alert emails and forget the audit log's
    addresses of that age; how many registrations were anonymised. Each pass that did
    something is itself recorded in the audit log."""
    cutoff = horizon(ctx)
    with ctx.db.read() as session:  # most passes find nothing: no write lock for nothing
        ids = list(
            session.scalars(
                select(Registration.id)
                .where(Registration.anonymised_at.is_(None), Registration.ended_at <= cutoff)
                .order_by(Registration.ended_at)
                .limit(ctx.settings.scheduler.batch)
            )
        )
        alerts = session.scalar(select(Email.id).where(_old_alert(cutoff)).limit(1))
        addresses = session.scalar(select(AuditEvent.id).where(_old_address(cutoff)).limit(1))
    done = sum(_anonymise_one(ctx, rid, cutoff) for rid in ids)
    dropped = _delete_alerts(ctx, cutoff) if alerts is not None else 0
    forgotten = _forget_addresses(ctx, cutoff) if addresses is not None else 0
    if done or dropped or forgotten:
        detail = (
            f"{done} registration(s) anonymised, {dropped} admin alert email(s) deleted, "
            f"{forgotten} audit address(es) forgotten (older than "
            f"{ctx.settings.retention.days} days)"
        )
        log.info("retention: %s", detail)
        audit.record(ctx, audit.SCHEDULER, audit.Action.retention_anonymise, detail=detail)
    return done


def _anonymise_one(ctx: AppContext, registration_id: int, cutoff: datetime) -> bool:
    try:
        return _anonymise(ctx, registration_id, cutoff)
    except IntegrityError:  # never expected: one row must not stop the others, nor the pass
        log.exception("retention: registration %s could not be anonymised", registration_id)
        return False


def _anonymise(ctx: AppContext, registration_id: int, cutoff: datetime) -> bool:
    with ctx.db.write() as session:
        registration = session.get(Registration, registration_id, with_for_update=True)
        if registration is None or registration.anonymised_at is not None:
            return False  # another scheduler got there first
        if registration.state not in OVER or registration.ended_at is None:
            return False
        if registration.ended_at > cutoff:
            return False
        if registration.erased_at is None:  # a purge erased it already
            secret = ctx.settings.secret_key.get_secret_value()
            _strip(session, registration, email_pseudonym(secret, registration.email))
        registration.anonymised_at = ctx.clock.now()
        return True


def _strip(session: Session, registration: Registration, pseudonym: str) -> None:
    original = registration.email
    placeholder = anonymised_address(registration.id)
    registration.email = pseudonym
    registration.name = ""
    registration.company = ""
    registration.time_zone = None
    registration.manage_token_hash = None
    registration.manage_nonce = ""
    registration.confirm_token_hash = None
    registration.confirm_nonce = None
    registration.password_enc = None
    registration.client_key = None  # the keyed hash of the client's address
    session.execute(
        delete(Email).where(
            Email.registration_id == registration.id, Email.state == EmailState.pending
        )
    )
    found = re.compile(re.escape(original), re.IGNORECASE)
    for email in session.scalars(select(Email).where(Email.registration_id == registration.id)):
        email.recipient = placeholder
        email.payload = None
        email.dedupe_key = found.sub(placeholder, email.dedupe_key)
        if email.last_error:
            email.last_error = found.sub(placeholder, email.last_error)
    _move_badges(session, registration.id, original, pseudonym)


def _move_badges(session: Session, registration_id: int, original: str, pseudonym: str) -> None:
    """The level badges of the registration (or of its address, from before badges named
    their registration) under the keyed hash; one award per hash and level."""
    mine = or_(
        BadgeAward.registration_id == registration_id,
        and_(BadgeAward.registration_id.is_(None), BadgeAward.email == original),
    )
    held = set(session.scalars(select(BadgeAward.level).where(BadgeAward.email == pseudonym)))
    for award in session.scalars(select(BadgeAward).where(mine, BadgeAward.email == original)):
        if award.level in held:  # reached under both already: one award is the truth
            session.delete(award)
        else:
            award.email = pseudonym
            held.add(award.level)


def _old_alert(cutoff: datetime) -> ColumnElement[bool]:
    return and_(
        Email.registration_id.is_(None),
        Email.created_at <= cutoff,
        Email.state != EmailState.sending,
    )


def _delete_alerts(ctx: AppContext, cutoff: datetime) -> int:
    with ctx.db.write() as session:
        result = session.execute(delete(Email).where(_old_alert(cutoff)))
        return int(result.rowcount)  # type: ignore[attr-defined]


def _old_address(cutoff: datetime) -> ColumnElement[bool]:
    return and_(AuditEvent.address.is_not(None), AuditEvent.at <= cutoff)


def _forget_addresses(ctx: AppContext, cutoff: datetime) -> int:
    export = AuditEvent.action.in_([audit.Action.export_registrations, audit.Action.export_audit])
    with ctx.db.write() as session:
        result = session.execute(
            update(AuditEvent)
            .where(_old_address(cutoff))
            .values(address=None, detail=case((export, ""), else_=AuditEvent.detail))
            .execution_options(synchronize_session=False)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]


# --------------------------------------------------------------------- the policy, shown


@dataclass(frozen=True)
class RetentionPolicy:
    """What the console shows of the policy."""

    days: int
    anonymised: int  # registrations anonymised so far
    waiting: int  # registrations over that still hold personal data
    next_due: datetime | None  # when the next of them is anonymised


def policy(session: Session, days: int) -> RetentionPolicy:
    """The policy and where it stands, read inside the caller's transaction."""
    pending = and_(
        Registration.anonymised_at.is_(None),
        Registration.ended_at.is_not(None),
        Registration.erased_at.is_(None),
    )
    waiting, oldest = session.execute(
        select(func.count(), func.min(Registration.ended_at)).where(pending)
    ).one()
    anonymised = session.scalar(select(func.count()).where(Registration.anonymised_at.is_not(None)))
    next_due = oldest + timedelta(days=days) if oldest is not None else None
    return RetentionPolicy(days, anonymised or 0, waiting or 0, next_due)
