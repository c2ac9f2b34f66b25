"""Registration, seat and job states, and the one table of allowed transitions.

Every state change goes through :func:`check_transition`; the services apply it as a
conditional ``UPDATE … WHERE state IN (…)`` so concurrent processes cannot both win.
``docs/explanation/lifecycle.md`` draws these machines from :data:`TRANSITIONS`.
"""

from __future__ import annotations

from enum import StrEnum

from wod.errors import IllegalTransition


class RegistrationState(StrEnum):
    unconfirmed = "unconfirmed"  # waiting for its address to confirm; holds no seat
    queued = "queued"  # seat reserved, CREATE job queued
    provisioning = "provisioning"  # the backend is running CREATE
    active = "active"  # seat ready, the clock runs
    ending = "ending"  # CLEANUP queued or running
    ended = "ended"  # terminal
    failed = "failed"  # terminal: never became active


class SeatState(StrEnum):
    free = "free"
    reserved = "reserved"  # held by a registration, CREATE pending
    ready = "ready"  # CREATE done, participant working
    cleaning = "cleaning"  # CLEANUP or PURGE pending
    resetting = "resetting"  # RESET pending
    broken = "broken"  # a job on it failed for good; an admin PURGE repairs it
    warming = "warming"  # CREATE for a workshop's warm pool, no registration yet
    warm = "warm"  # rendered, password set, server started: the next registration takes it


class JobState(StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class EmailState(StrEnum):
    pending = "pending"
    sending = "sending"  # leased by one outbox worker
    sent = "sent"
    failed = "failed"  # gave up after its attempts


class WaitlistState(StrEnum):
    """A waiting-list entry of a full workshop (:mod:`wod.services.registrations.waitlist`)."""

    waiting = "waiting"  # in line
    offered = "offered"  # a seat is held for it; its claim link works until offer_due_at
    claimed = "claimed"  # its claim link made a registration
    expired = "expired"  # its claim link was not used in time: the seat went to the next
    left = "left"  # taken off the list (its address got a seat of the workshop otherwise)


#: The entries that are on the list: one per address and workshop.
WAITLIST_LIVE = (WaitlistState.waiting, WaitlistState.offered)


class EndReason(StrEnum):
    """Why a registration ended (``ended_reason``)."""

    expired = "expired"  # its time was up
    ended_by_participant = "ended_by_participant"  # "end now" on the manage page or api
    ended_by_admin = "ended_by_admin"  # an admin ended it (console or admin token)
    purged_by_admin = "purged_by_admin"  # an admin stopped it and erased the person's data
    abuse = "abuse"  # the agent's watchdog caught its seat abusing the host
    provision_timeout = "provision_timeout"  # the seat was not ready in time
    provision_failed = "provision_failed"  # the CREATE job failed for good
    confirm_timeout = "confirm_timeout"  # its address did not confirm in time
    workshop_full = "workshop_full"  # confirmed when no seat was left
    idle = "idle"  # its seat saw no activity for the workshop's idle_timeout, nor a keep click


#: Reasons of registrations that ended before their time, by someone's decision.
ENDED_EARLY = (EndReason.ended_by_participant, EndReason.ended_by_admin)


class Verb(StrEnum):
    CREATE = "CREATE"
    CLEANUP = "CLEANUP"
    RESET = "RESET"
    PURGE = "PURGE"


#: Registrations that hold their seat.
SEAT_HOLDING = (
    RegistrationState.queued,
    RegistrationState.provisioning,
    RegistrationState.active,
    RegistrationState.ending,
)
#: Registrations that block another registration with the same email.
EMAIL_HOLDING = (
    RegistrationState.queued,
    RegistrationState.provisioning,
    RegistrationState.active,
)
#: Registrations that count towards the cap on live registrations per client address: those
#: that hold or wait for a seat, and those waiting for their address to confirm (each one made
#: an email go out, which is what the cap bounds; it keeps counting once it is confirmed).
ADDRESS_HOLDING = (RegistrationState.unconfirmed, *SEAT_HOLDING)

_R = RegistrationState
_S = SeatState
_J = JobState

TRANSITIONS: dict[type[StrEnum], dict[StrEnum, frozenset[StrEnum]]] = {
    RegistrationState: {
        # unconfirmed -> queued: confirmed, a seat reserved; -> failed: not confirmed in time,
        # or no seat left when it was
        _R.unconfirmed: frozenset({_R.queued, _R.failed}),
        # queued -> active: it took a warm seat (nothing to wait for)
        _R.queued: frozenset({_R.provisioning, _R.active, _R.failed}),
        _R.provisioning: frozenset({_R.active, _R.failed}),
        _R.active: frozenset({_R.ending}),
        _R.ending: frozenset({_R.ended}),
        _R.ended: frozenset(),
        _R.failed: frozenset(),
    },
    SeatState: {
        _S.free: frozenset({_S.reserved, _S.warming, _S.cleaning, _S.broken}),
        # reserved -> free: the registration moved to another location before its CREATE ran
        _S.reserved: frozenset({_S.ready, _S.free, _S.cleaning, _S.broken}),
        _S.ready: frozenset({_S.cleaning, _S.broken}),
        _S.cleaning: frozenset({_S.free, _S.resetting, _S.broken}),
        _S.resetting: frozenset({_S.free, _S.cleaning, _S.broken}),
        _S.broken: frozenset({_S.cleaning}),
        # warming -> reserved: a registration takes it while it is built; -> cleaning: built
        # for content or a pool that no longer holds, or its CREATE failed; warm -> cleaning:
        # dropped from the pool (content changed, pool smaller, workshop closed)
        _S.warming: frozenset({_S.warm, _S.reserved, _S.cleaning, _S.broken}),
        _S.warm: frozenset({_S.ready, _S.cleaning, _S.broken}),
    },
    JobState: {
        # queued -> done: the late report of an attempt whose lease ran out completes the job
        # that waits for its retry
        _J.queued: frozenset({_J.running, _J.done, _J.failed}),
        _J.running: frozenset({_J.done, _J.queued, _J.failed}),
        _J.done: frozenset(),
        _J.failed: frozenset(),
    },
    WaitlistState: {
        WaitlistState.waiting: frozenset({WaitlistState.offered, WaitlistState.left}),
        WaitlistState.offered: frozenset(
            {WaitlistState.claimed, WaitlistState.expired, WaitlistState.left}
        ),
        WaitlistState.claimed: frozenset(),
        WaitlistState.expired: frozenset(),
        WaitlistState.left: frozenset(),
    },
    EmailState: {
        EmailState.pending: frozenset({EmailState.sending}),
        EmailState.sending: frozenset({EmailState.sent, EmailState.pending, EmailState.failed}),
        EmailState.sent: frozenset({EmailState.pending}),
        EmailState.failed: frozenset({EmailState.pending}),
    },
}


#: Where a row's life starts, when not at the table's first state (the docs draw them).
INITIAL: dict[type[StrEnum], tuple[StrEnum, ...]] = {
    RegistrationState: (_R.queued, _R.unconfirmed),
}


def allowed(old: StrEnum, new: StrEnum) -> bool:
    """Whether the table allows ``old → new`` (both of the same enum)."""
    table = TRANSITIONS[type(old)]
    return type(new) is type(old) and new in table[old]


def check_transition(old: StrEnum, new: StrEnum) -> None:
    """Raise :class:`IllegalTransition` unless the table allows ``old → new``."""
    if not allowed(old, new):
        raise IllegalTransition(f"{type(old).__name__}: {old.value} → {new.value} is not allowed")


def sources_of(new: StrEnum) -> tuple[StrEnum, ...]:
    """Every state from which ``new`` may be reached, for conditional updates."""
    table = TRANSITIONS[type(new)]
    return tuple(old for old, targets in table.items() if new in targets)
