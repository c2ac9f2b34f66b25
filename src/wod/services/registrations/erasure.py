"""An admin's purge of a registration: stop it now and erase the person's data.

What a purge does, in one transaction:

1. A live registration stops at once (:func:`~.lifecycle.stop_registration`, reason
   ``purged_by_admin``): ``active`` and ``ending`` become ``ended``, ``queued`` and
   ``provisioning`` become ``failed``. No CLEANUP runs for it, so no completion is recorded, no
   badge is awarded and no final or apology email goes out. Its queued jobs are cancelled and
   its seat is purged (a PURGE job; the seat is ``cleaning`` until the agent ran it) — except
   when a CLEANUP or RESET of the seat is already running: that job cleans the seat itself.
   An ``unconfirmed`` one, which holds no seat, becomes ``failed``.
2. Every registration purged (live or over) loses its personal data: name and company become
   empty, the address becomes ``erased-<id>@erased.invalid``, the manage and confirmation
   links stop working, the sealed seat password is dropped. Its emails that were not sent are
   deleted; the others keep their kind, state and dates with the erased address. The level
   badges this registration triggered are deleted (they record the address). ``erased_at`` is
   set. The address's waiting-list entries and their emails are deleted.

What stays: the workshop, seat, dates, state, outcome and completion, so the dashboard's
registrations, outcomes and completion still count it; its badge levels no longer do (they
were the person's). A registration is purged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, update
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import BadgeAward, Email, Registration
from wod.domain.states import SEAT_HOLDING, EmailState, EndReason, RegistrationState
from wod.errors import InvalidState, NotFound
from wod.services.registrations.lifecycle import drop_unconfirmed, stop_registration
from wod.services.registrations.waitlist import erase_entries


@dataclass(frozen=True)
class PurgeOutcome:
    """What a purge did: whether the registration was live, and the seat's PURGE job."""

    registration_id: int
    stopped: bool
    purge_job_id: int | None

    def describe(self) -> str:
        text = f"Registration {self.registration_id} "
        text += "stopped and erased" if self.stopped else "erased"
        if self.purge_job_id is not None:
            text += f"; its seat is being purged (job {self.purge_job_id})"
        return text + "."


def erased_address(registration_id: int) -> str:
    return f"erased-{registration_id}@erased.invalid"


def purge_registration(ctx: AppContext, registration_id: int) -> PurgeOutcome:
    """Stop a registration if it is live, and erase its personal data (see the module)."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        registration = session.get(Registration, registration_id, with_for_update=True)
        if registration is None:
            raise NotFound(f"No registration {registration_id}.")
        if registration.erased_at is not None:
            raise InvalidState(f"Registration {registration_id} was already purged.")
        stopped = registration.state in (*SEAT_HOLDING, RegistrationState.unconfirmed)
        job = None
        reason = EndReason.purged_by_admin
        if registration.state is RegistrationState.unconfirmed:  # no seat, no job
            drop_unconfirmed(session, registration, reason, now)
        elif stopped:
            job = stop_registration(ctx, session, registration, reason, now)
        _erase(session, registration, now)
        return PurgeOutcome(registration.id, stopped, job.id if job else None)


def _erase(session: Session, registration: Registration, now: datetime) -> None:
    address = erased_address(registration.id)
    erase_entries(session, registration.email)  # before the address goes: they hold it
    registration.name = ""
    registration.company = ""
    registration.time_zone = None
    registration.email = address
    registration.manage_token_hash = None
    registration.manage_nonce = ""
    registration.confirm_token_hash = None
    registration.confirm_nonce = None
    registration.password_enc = None
    registration.erased_at = now
    session.execute(
        delete(Email).where(
            Email.registration_id == registration.id, Email.state == EmailState.pending
        )
    )
    session.execute(
        update(Email)
        .where(Email.registration_id == registration.id)
        .values(recipient=address, payload=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(BadgeAward).where(BadgeAward.registration_id == registration.id))
