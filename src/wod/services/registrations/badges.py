"""Badges: the workshop badge of a good completion, and the level badges of repeat
participants (ARCHITECTURE §4), each level awarded once with its own email."""

from __future__ import annotations

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


def completed_workshops(session: Session, email: str, min_completion: int) -> int:
    """Distinct workshops this address completed: ended with enough completion."""
    return (
        session.scalar(
            select(func.count(func.distinct(Registration.workshop_id))).where(
                Registration.email == email,
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
    count = completed_workshops(
        session, registration.email, settings.registration.badge_min_completion
    )
    awarded = set(
        session.scalars(select(BadgeAward.level).where(BadgeAward.email == registration.email))
    )
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
