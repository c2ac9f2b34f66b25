"""How participants read the platform's states, in the current language (pages and emails)."""

from __future__ import annotations

from wod.domain.states import RegistrationState
from wod.i18n import N_, _

STATUS_TEXT = {
    RegistrationState.unconfirmed: N_("waiting for you to confirm it from your mailbox"),
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
