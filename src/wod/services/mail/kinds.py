"""The kinds of email, in one table that the queue, the outbox, the resend rule, the generated
docs and the tests all read.

A kind is its templates — ``<name>.subject.j2``, ``<name>.txt.j2`` and ``<name>.html.j2``, in
the package's ``wod/mail/templates``, in a folder the row names, or overridden in a content
layer's ``templates/email/`` — plus one row of :data:`KINDS` (:func:`register_kind`): who reads
it, while when it may be sent again, and the variables it needs beyond those every email has
(:func:`wod.services.mail.variables.email_variables`). Nothing else names kinds: the outbox
renders any registered kind, and refuses at once, without retrying, a row whose kind is not
registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wod import i18n
from wod.domain.levels import level
from wod.errors import MailError
from wod.i18n import _
from wod.services import links

if TYPE_CHECKING:
    from wod.context import AppContext
    from wod.db.models import Email, Registration


class Audience(StrEnum):
    participant = "participant"  # about one registration, to its address
    admins = "admins"  # to the addresses of ``alerts.recipients``


class Liveness(StrEnum):
    """While when an email still says something true (an admin's resend is refused after)."""

    always = "always"
    seat_held = "seat_held"  # its registration holds its seat
    active = "active"  # its registration is active (the password works only then)
    unconfirmed = "unconfirmed"  # its registration waits for its address to confirm


#: Extra variables of a kind, built when it is sent: ``(ctx, email, registration) → values``.
Extra = Callable[["AppContext", "Email", "Registration | None"], dict[str, Any]]


@dataclass(frozen=True)
class EmailKind:
    """One row of the table of kinds."""

    name: str
    description: str
    audience: Audience = Audience.participant
    liveness: Liveness = Liveness.always
    #: The variables :attr:`variables` adds, named for the docs.
    variable_names: tuple[str, ...] = ()
    variables: Extra | None = field(default=None, compare=False)
    #: A folder holding this kind's templates (a plug-in's); None: the package's own.
    templates: Path | None = None
    #: A payload such an email carries (the tests render every kind with it).
    example_payload: Mapping[str, Any] | None = field(default=None, compare=False)

    def template_dirs(self) -> tuple[Path, ...]:
        return (self.templates,) if self.templates is not None else ()


KINDS: dict[str, EmailKind] = {}


def register_kind(kind: EmailKind) -> EmailKind:
    """Add a kind to the table; the same name twice is refused unless it is the same row."""
    existing = KINDS.get(kind.name)
    if existing is not None and existing != kind:
        raise ValueError(f"an email kind named {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def unregister_kind(name: str) -> None:
    """Remove a kind (a test's, or a plug-in unloaded)."""
    KINDS.pop(name, None)


def kind_named(name: str) -> EmailKind:
    """The registered kind called ``name``, or :class:`MailError` naming the known ones."""
    kind = KINDS.get(name)
    if kind is None:
        known = ", ".join(sorted(KINDS))
        raise MailError(f"unknown email kind {name!r} (registered: {known})")
    return kind


# --------------------------------------------------------------------- the built-in kinds


def _credentials(
    ctx: AppContext, email: Email, registration: Registration | None
) -> dict[str, Any]:
    sealed = registration.password_enc if registration is not None else None
    password = ctx.secret_box.open(sealed) if sealed else None
    return {
        "password": password or _("(no longer available)"),
        "welcome": bool((email.payload or {}).get("welcome")),
    }


def _level(ctx: AppContext, email: Email, registration: Registration | None) -> dict[str, Any]:
    payload = email.payload or {}
    current = level(int(payload.get("level", 0)))
    if current is None:
        raise MailError(f"level badge email without a known level: {payload}")
    following = level(current.number + 1)
    page = links.level_badge_page(ctx.settings, current.number)
    return {
        "level": {
            "name": current.name,
            "count": payload.get("count", current.count),
            "image_url": links.level_badge_image(ctx.settings, current.number),
            "page_url": page,
            "share_url": links.share_url(page),
            "next_name": following.name if following else None,
            "next_count": following.count if following else None,
        }
    }


def _confirmation(
    ctx: AppContext, email: Email, registration: Registration | None
) -> dict[str, Any]:
    nonce = registration.confirm_nonce if registration is not None else None
    if registration is None or not nonce:
        raise MailError(f"confirmation email {email.id} of a registration without a link")
    due = registration.confirm_due_at
    return {
        "confirm_url": links.confirm_url(ctx.settings, nonce),
        "confirm_until": i18n.when(due, zone=registration.time_zone) if due is not None else "",
    }


def _waitlist(ctx: AppContext, email: Email, registration: Registration | None) -> dict[str, Any]:
    payload = email.payload or {}
    if "workshop" not in payload:
        raise MailError(f"waiting-list email {email.id} without its workshop")
    values: dict[str, Any] = {
        "waitlist": {
            "name": payload.get("name", ""),
            "workshop_name": payload.get("workshop_name", ""),
            "position": payload.get("position"),
        },
        "workshop_url": ctx.settings.absolute_url(f"/workshops/{payload['workshop']}"),
    }
    if "nonce" in payload:
        due = datetime.fromisoformat(str(payload["due_at"]))
        values["claim_url"] = links.claim_url(ctx.settings, str(payload["nonce"]))
        values["claim_until"] = i18n.when(due)
    return values


def _idle(ctx: AppContext, email: Email, registration: Registration | None) -> dict[str, Any]:
    payload = email.payload or {}
    nonce, freed_at = payload.get("nonce"), payload.get("freed_at")
    if not isinstance(nonce, str) or not isinstance(freed_at, str):
        raise MailError(f"idle warning email {email.id} without its keep link: {payload}")
    return {
        "idle": {
            "keep_url": links.keep_url(ctx.settings, nonce),
            "freed_at": i18n.when(
                datetime.fromisoformat(freed_at),
                zone=registration.time_zone if registration is not None else None,
            ),
            "grace_minutes": payload.get("grace_minutes", 10),
            "idle_minutes": payload.get("idle_minutes", 0),
        }
    }


def _alert(ctx: AppContext, email: Email, registration: Registration | None) -> dict[str, Any]:
    return {"alert": email.payload or {}}


WELCOME = register_kind(
    EmailKind(
        "welcome",
        "At registration: the seat is being prepared, the manage link.",
        liveness=Liveness.seat_held,
    )
)
CREDENTIALS = register_kind(
    EmailKind(
        "credentials",
        "When the seat is ready: user name, password and the link that opens the workshop; "
        "with the welcome's words too when the seat was ready within `outbox.combine_within` "
        "of registering (then no welcome email).",
        liveness=Liveness.active,
        variable_names=("password", "welcome"),
        variables=_credentials,
    )
)
REMINDER = register_kind(
    EmailKind(
        "reminder",
        "Before the end (`registration.reminder_before`): the time left, extend if allowed.",
        liveness=Liveness.seat_held,
    )
)
FINAL = register_kind(
    EmailKind(
        "final",
        "After the cleanup: completion, the workshop badge when earned, survey and share links.",
    )
)
APOLOGY = register_kind(
    EmailKind("apology", "When the seat could not be prepared: the participant may register again.")
)
LEVEL_BADGE = register_kind(
    EmailKind(
        "level_badge",
        "When an address reaches a badge level (3, 5, 7, 10, 15 workshops completed).",
        variable_names=("level",),
        variables=_level,
        example_payload={"level": 2, "count": 5},
    )
)
ALREADY_REGISTERED = register_kind(
    EmailKind(
        "already_registered",
        "When an address with a live registration registers again: its manage link.",
        liveness=Liveness.seat_held,
    )
)
CONFIRM = register_kind(
    EmailKind(
        "confirm",
        "At registration with `registration.confirm_email`: the link that confirms it (no seat "
        "is held before); the only email an unconfirmed registration gets.",
        liveness=Liveness.unconfirmed,
        variable_names=("confirm_url", "confirm_until"),
        variables=_confirmation,
    )
)
_WAITLIST_EXAMPLE = {"name": "Ada", "workshop": "WKSHP-Example", "workshop_name": "Example"}
WAITLIST_JOINED = register_kind(
    EmailKind(
        "waitlist_joined",
        "When an address joins a full workshop's waiting list: its position in line.",
        variable_names=("waitlist", "workshop_url"),
        variables=_waitlist,
        example_payload=_WAITLIST_EXAMPLE | {"position": 3},
    )
)
WAITLIST_OFFER = register_kind(
    EmailKind(
        "waitlist_offer",
        "When a seat frees for the first in line: the link that claims it, valid "
        "`waitlist.claim_minutes` (the seat is held meanwhile).",
        variable_names=("waitlist", "workshop_url", "claim_url", "claim_until"),
        variables=_waitlist,
        example_payload=_WAITLIST_EXAMPLE
        | {"nonce": "0" * 32, "due_at": "2026-01-01T12:30:00+00:00"},
    )
)
IDLE_WARNING = register_kind(
    EmailKind(
        "idle_warning",
        "When a seat saw no activity for its workshop's `idle_timeout`: it is freed after "
        "`idle.grace` unless the participant clicks its link (Keep my seat) or works again; "
        "once per idle period.",
        liveness=Liveness.active,
        variable_names=("idle",),
        variables=_idle,
        example_payload={
            "nonce": "0" * 32,
            "freed_at": "2026-11-28T09:10:00+00:00",
            "grace_minutes": 10,
            "idle_minutes": 45,
        },
    )
)
ADMIN_ALERT = register_kind(
    EmailKind(
        "admin_alert",
        "To `alerts.recipients` when something needs an admin (a broken seat, a failed job).",
        audience=Audience.admins,
        variable_names=("alert",),
        variables=_alert,
        example_payload={"subject": "seat student3 at local is broken", "text": "details"},
    )
)
