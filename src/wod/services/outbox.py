"""The email outbox: rows queued inside the transaction that decides to send them, delivered by
a worker with retries and exponential backoff, at most once per dedupe key.

Emails are rendered when they are sent, from the registration as it is then: no body, and no
seat password, is ever stored in the outbox. Emails of one registration go out in order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from wod import i18n
from wod.branding import readable_on_white
from wod.context import AppContext
from wod.db.models import Email, Location, Registration, Seat, Workshop
from wod.domain.levels import badge_earned, level
from wod.domain.states import SEAT_HOLDING, EmailState, RegistrationState
from wod.errors import InvalidState, MailError
from wod.i18n import N_, _, ngettext
from wod.mail.render import build_message, render_email, template_dirs
from wod.services import links
from wod.services.transitions import move

log = logging.getLogger(__name__)
SEND_LEASE = timedelta(minutes=2)


def queue_email(
    session: Session,
    kind: str,
    registration: Registration | None,
    now: datetime,
    *,
    key: str | None = None,
    payload: dict[str, Any] | None = None,
    recipient: str | None = None,
) -> bool:
    """Queue one email; by default one per (registration, kind). Returns False when an email
    with the same dedupe key exists (queued by this or a concurrent transaction)."""
    if key is None:
        assert registration is not None
        key = f"{registration.id}:{kind}"
    if session.scalar(select(Email.id).where(Email.dedupe_key == key)) is not None:
        return False
    to = recipient or (registration.email if registration is not None else None)
    assert to is not None
    try:
        with session.begin_nested():
            session.add(
                Email(
                    registration_id=registration.id if registration is not None else None,
                    kind=kind,
                    recipient=to,
                    dedupe_key=key,
                    payload=payload,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    except IntegrityError:
        log.info("email %s already queued by another transaction", key)
        return False
    return True


def alert_admins(
    session: Session, recipients: list[str], subject: str, text: str, key: str, now: datetime
) -> None:
    """Tell the admins (setting ``alerts.recipients``) that something needs them, once per key."""
    if not recipients:
        log.error("admin alert (no alerts.recipients set): %s", subject)
    for address in recipients:
        queue_email(
            session,
            "admin_alert",
            None,
            now,
            key=f"alert:{key}:{address}",
            payload={"subject": subject, "text": text},
            recipient=address,
        )


def _due(session: Session, now: datetime, limit: int) -> list[int]:
    earlier = aliased(Email)
    blocked = exists().where(
        and_(
            earlier.registration_id == Email.registration_id,
            earlier.id < Email.id,
            earlier.state.in_((EmailState.pending, EmailState.sending)),
        )
    )
    stale = and_(Email.state == EmailState.sending, Email.lease_until < now)
    pending = and_(Email.state == EmailState.pending, Email.next_attempt_at <= now)
    query = select(Email.id).where(pending | stale).where(~blocked).order_by(Email.id).limit(limit)
    return list(session.scalars(query))


def _lease(ctx: AppContext, email_id: int, now: datetime) -> Email | None:
    """Take one email for sending; None when another worker took it first."""
    try:
        with ctx.db.write() as session:
            email = session.get(Email, email_id)
            if email is None:
                return None
            if email.state is EmailState.sending:
                if email.lease_until is not None and email.lease_until >= now:
                    return None
                move(session, email, EmailState.pending)  # its worker died: take it over
            if email.state is not EmailState.pending:
                return None
            move(session, email, EmailState.sending, lease_until=now + SEND_LEASE)
            return email
    except InvalidState:  # another worker changed it between our read and our update
        return None


def send_due(ctx: AppContext, limit: int = 50) -> int:
    """Send the emails that are due; returns how many were sent."""
    sent = 0
    while sent < limit:  # again after a batch: sending one email may unblock the next
        now = ctx.clock.now()
        with ctx.db.read() as session:
            due = _due(session, now, limit - sent)
        batch = 0
        for email_id in due:
            email = _lease(ctx, email_id, now)
            if email is not None:
                batch += _deliver(ctx, email)
        sent += batch
        if batch == 0:
            break
    return sent


def _deliver(ctx: AppContext, email: Email) -> int:
    assert ctx.mailer is not None
    settings = ctx.settings
    try:
        with ctx.db.read() as session:
            language = email_language(session, email)
            with i18n.use(language):
                variables = email_variables(ctx, session, email)
        with i18n.use(language):
            rendered = render_email(email.kind, variables, template_dirs(settings.content.paths))
        message = build_message(
            rendered,
            sender=settings.branding.sender,
            sender_name=settings.branding.wod_name,
            recipient=email.recipient,
        )
        ctx.mailer.send(message)
    except MailError as exc:
        _retry(ctx, email, str(exc))
        return 0
    except Exception as exc:  # a rendering bug must not leave the email leased forever
        log.exception("email %s could not be built", email.id)
        _retry(ctx, email, f"could not be built: {exc}")
        return 0
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        move(
            session,
            row,
            EmailState.sent,
            subject=rendered.subject,
            sent_at=ctx.clock.now(),
            attempts=row.attempts + 1,
            last_error=None,
            lease_until=None,
        )
    log.info("email %s sent: %s to registration %s", email.id, email.kind, email.registration_id)
    return 1


def _retry(ctx: AppContext, email: Email, error: str) -> None:
    outbox = ctx.settings.outbox
    now = ctx.clock.now()
    with ctx.db.write() as session:
        row = session.get(Email, email.id)
        assert row is not None
        attempts = row.attempts + 1
        if attempts >= outbox.attempts:
            move(session, row, EmailState.failed, attempts=attempts, last_error=error)
            log.error("email %s given up after %s attempts: %s", row.id, attempts, error)
            return
        delay = timedelta(seconds=outbox.backoff * 2 ** (attempts - 1))
        move(
            session,
            row,
            EmailState.pending,
            attempts=attempts,
            last_error=error,
            next_attempt_at=now + delay,
            lease_until=None,
        )
        log.warning(
            "email %s not sent (attempt %s), retry in %s: %s", row.id, attempts, delay, error
        )


def _time_left(delta: timedelta) -> str:
    minutes = max(0, round(delta.total_seconds() / 60))
    if minutes < 60:
        return ngettext("%(num)s minute", "%(num)s minutes", minutes)
    hours, rest = divmod(minutes, 60)
    if rest:
        padded = f"{rest:02d}"
        return _("%(hours)s h %(minutes)s min", hours=hours, minutes=padded)
    return ngettext("%(num)s hour", "%(num)s hours", hours)


def _when(moment: datetime | None) -> str:
    return i18n.when(moment) if moment else ""


def email_language(session: Session, email: Email) -> str:
    """The language of the registration the email is about (alerts: the default)."""
    if email.registration_id is None:
        return i18n.DEFAULT
    language = session.scalar(
        select(Registration.language).where(Registration.id == email.registration_id)
    )
    return language or i18n.DEFAULT


STATUS_TEXT = {
    RegistrationState.queued: N_("your seat is being prepared"),
    RegistrationState.provisioning: N_("your seat is being prepared"),
    RegistrationState.active: N_("running"),
    RegistrationState.ending: N_("ending: the seat is being cleaned"),
    RegistrationState.ended: N_("ended"),
    RegistrationState.failed: N_("cancelled: we could not prepare the seat"),
}


def status_text(state: RegistrationState) -> str:
    """A registration's state as participants read it, in the current language."""
    return _(STATUS_TEXT[state])


def email_variables(ctx: AppContext, session: Session, email: Email) -> dict[str, Any]:
    """What the templates of one email see, read from the database when it is sent."""
    settings = ctx.settings
    common: dict[str, Any] = {
        "branding": settings.branding,
        "logo_url": settings.absolute_url(settings.branding.logo_url),
        "portal_url": settings.api.public_url,
        "manage_url": None,
        "live": False,
        "can_extend": False,
        "language": i18n.current(),
        "heading_color": readable_on_white(settings.branding.primary_color),
        "button_color": readable_on_white(settings.branding.primary_color),
    }
    if email.registration_id is None:  # admin alert
        return {**common, "alert": email.payload or {}}
    registration = session.get(Registration, email.registration_id)
    if registration is None:
        raise MailError(f"email {email.id}: registration {email.registration_id} is gone")
    workshop = session.get(Workshop, registration.workshop_id)
    seat = session.get(Seat, registration.seat_id)
    location = session.get(Location, registration.location_id)
    assert workshop is not None and seat is not None and location is not None
    password = None
    if email.kind == "credentials" and registration.password_enc:
        password = ctx.secret_box.open(registration.password_enc)
    now = ctx.clock.now()
    extend = settings.registration.extend_by
    badge_page = links.workshop_badge_page(settings, workshop)
    variables = {
        **common,
        "registration": {
            "id": registration.id,
            "name": registration.name,
            "email": registration.email,
            "company": registration.company,
        },
        "workshop": workshop,
        "duration": ngettext("%(num)s hour", "%(num)s hours", workshop.duration_hours),
        "username": seat.username,
        "password": password or _("(no longer available)"),
        "start_url": links.start_url(location, seat, workshop),
        "workshop_url": links.workshop_url(settings, workshop),
        "manage_url": (  # empty for rows that still await the backfill: no dead link
            links.manage_url(settings, registration.manage_nonce)
            if registration.manage_nonce
            else None
        ),
        "live": registration.state in SEAT_HOLDING,
        "can_extend": (
            workshop.extendable and not registration.extended and registration.state in SEAT_HOLDING
        ),
        "ended_early": registration.ended_reason in ("ended_by_participant", "ended_by_admin"),
        "extend_minutes": round(extend.total_seconds() / 60),
        "ends_at": _when(registration.ends_at),
        "time_left": _time_left(registration.ends_at - now) if registration.ends_at else "",
        "status_text": status_text(registration.state),
        "completion": registration.completion,
        "badge": {
            "earned": badge_earned(
                registration.completion, settings.registration.badge_min_completion
            ),
            "min_completion": settings.registration.badge_min_completion,
            "image_url": links.workshop_badge_image(settings, workshop),
            "page_url": badge_page,
            "share_url": links.share_url(badge_page),
        },
    }
    if email.kind == "level_badge":
        variables["level"] = _level_variables(settings, email.payload or {})
    return variables


def _level_variables(settings: Any, payload: dict[str, Any]) -> dict[str, Any]:
    current = level(int(payload.get("level", 0)))
    if current is None:
        raise MailError(f"level badge email without a known level: {payload}")
    following = level(current.number + 1)
    page = links.level_badge_page(settings, current.number)
    return {
        "name": current.name,
        "count": payload.get("count", current.count),
        "image_url": links.level_badge_image(settings, current.number),
        "page_url": page,
        "share_url": links.share_url(page),
        "next_name": following.name if following else None,
        "next_count": following.count if following else None,
    }
