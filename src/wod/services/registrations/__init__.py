"""Registrations: registering (:mod:`.register`), confirming by email when asked to
(:mod:`.unconfirmed`, :mod:`.confirm`), a full workshop's waiting list (:mod:`.waitlist`,
:mod:`.claim`), the participant's own actions
(:mod:`.manage`), how a registration moves and stops (:mod:`.lifecycle`), what a job's outcome
means for it (:mod:`.outcomes`), the scheduler's timers (:mod:`.timers`), an admin's purge
(:mod:`.erasure`), abuse reported by an agent (:mod:`.abuse`), badges (:mod:`.badges`) and the
rate limits (:mod:`.ratelimit`).

Convention of every service package: a public function takes the context and owns its
transaction; the helpers that take a session are called by the other services inside theirs,
never by an edge.
"""

from wod.services.registrations.abuse import report_abuse
from wod.services.registrations.confirm import (
    Confirmation,
    confirm_registration,
    confirmation_for_token,
)
from wod.services.registrations.erasure import PurgeOutcome, purge_registration
from wod.services.registrations.manage import (
    RegistrationStatus,
    end_now,
    extend,
    get_status,
    registration_id_for_token,
    status_for_token,
)
from wod.services.registrations.outcomes import report_job
from wod.services.registrations.register import RegistrationRequest, register

__all__ = [
    "Confirmation",
    "PurgeOutcome",
    "RegistrationRequest",
    "RegistrationStatus",
    "confirm_registration",
    "confirmation_for_token",
    "end_now",
    "extend",
    "get_status",
    "purge_registration",
    "register",
    "registration_id_for_token",
    "report_abuse",
    "report_job",
    "status_for_token",
]
