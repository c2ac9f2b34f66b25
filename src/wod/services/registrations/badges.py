"""Badges: the workshop badge of a good completion, and the level badges of repeat
participants (ARCHITECTURE §4), each level awarded once with its own email."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.db.models import BadgeAward, Registration
from wod.domain.levels import LEVELS, Level
from wod.domain.states import RegistrationState
from wod.services.mail.kinds import LEVEL_BADGE
from wod.services.mail.queue import queue_email
from wod.settings import Settings

#: The domain of the addresses that anonymised registrations and badges keep.
ANONYMISED_DOMAIN = "anonymised.invalid"


def email_pseudonym(secret_key: str, email: str) -> str:
    """What an anonymised registration and its badges keep instead of ``email``: a keyed hash
    (HMAC-SHA256 with the secret key), so that a returning participant's earlier workshops
    still count towards the levels, while the address can neither be read back nor tested
    without the key."""
    digest = hmac.new(secret_key.encode(), f"badge-email:{email}".encode(), hashlib.sha256)
    return f"{digest.hexdigest()}@{ANONYMISED_DOMAIN}"


def completed_workshops(
    session: Session, email: str, min_completion: int, pseudonym: str | None = None
) -> int:
    """Distinct workshops this address completed: ended with enough completion (those of its
    anonymised registrations too, given its ``pseudonym``)."""
    addresses = [email] if pseudonym is None else [email, pseudonym]
    return (
        session.scalar(
            select(func.count(func.distinct(Registration.workshop_id))).where(
                Registration.email.in_(addresses),
                Registration.state == RegistrationState.ended,
                Registration.completion >= min_completion,
            )
        )
        or 0
    )


def award_levels(
    session: Session, registration: Registration, settings: Settings, now: datetime
) -> list[Level]:
    """Award every level the address has reached and not yet received; one email each."""
    pseudonym = email_pseudonym(settings.secret_key.get_secret_value(), registration.email)
    count = completed_workshops(
        session, registration.email, settings.registration.badge_min_completion, pseudonym
    )
    known = (registration.email, pseudonym)  # badges of anonymised registrations count too
    awarded = set(session.scalars(select(BadgeAward.level).where(BadgeAward.email.in_(known))))
    new = []
    for lv in LEVELS:
        if lv.count > count or lv.number in awarded:
            continue
        try:
            with session.begin_nested():
                session.add(
                    BadgeAward(
                        email=registration.email,
                        level=lv.number,
                        registration_id=registration.id,
                        awarded_at=now,
                    )
                )
        except IntegrityError:  # awarded by a concurrent transaction
            continue
        queue_email(
            session,
            LEVEL_BADGE,
            registration,
            now,
            key=f"level:{registration.email}:{lv.number}",
            payload={"level": lv.number, "count": count},
        )
        new.append(lv)
    return new
