"""The one exception tree of wod.

Two branches: :class:`Refusal` for expected answers to a request that cannot be granted
(workshop full, already registered, bad input), and :class:`Failure` for things that broke
(hub unreachable, template error, hook failed). Each class's docstring is its default message.
HTTP statuses and exit codes are assigned only at the edges (``wod.web.problems``, the CLI).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from wod.i18n import gettext


class WodError(Exception):
    """Something went wrong in wod."""

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message()
        super().__init__(self.message)

    @classmethod
    def default_message(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0]


# --------------------------------------------------------------------------- refusals


class Refusal(WodError):
    """The request cannot be granted."""

    #: Stable machine-readable code, the ``code`` of the problem+json answer.
    code: ClassVar[str] = "refused"

    @classmethod
    def default_message(cls) -> str:
        """In the language of the request: participants read refusals."""
        return gettext(super().default_message())


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one input field."""

    field: str
    message: str


class InvalidInput(Refusal):
    """The input is not valid."""

    code = "invalid_input"

    def __init__(self, problems: list[FieldProblem], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or "; ".join(f"{p.field}: {p.message}" for p in problems) or None)


class TermsNotAccepted(InvalidInput):
    """The terms and conditions must be accepted."""

    code = "terms_not_accepted"

    def __init__(self) -> None:
        super().__init__(
            [FieldProblem("accept_terms", gettext("the terms and conditions must be accepted"))],
            gettext("The terms and conditions must be accepted."),
        )


class EmailRejected(InvalidInput):
    """This email address cannot be used to register."""

    code = "email_rejected"


class WorkshopNotFound(Refusal):
    """No such workshop is open for registration."""

    code = "workshop_not_found"


class WorkshopFull(Refusal):
    """Every seat of this workshop is taken; try again later or pick another workshop."""

    code = "workshop_full"


class AlreadyRegistered(Refusal):
    """This email address already has a workshop running."""

    code = "already_registered"


class RateLimited(Refusal):
    """Too many attempts; try again later."""

    code = "rate_limited"

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        self.retry_after = max(1, retry_after)
        super().__init__(
            message
            or gettext("Too many attempts; try again in %(seconds)s s.", seconds=self.retry_after)
        )


class Forbidden(Refusal):
    """These credentials do not allow this action."""

    code = "forbidden"


class InvalidState(Refusal):
    """The object is not in a state that allows this action."""

    code = "invalid_state"


class AddressLimitReached(InvalidState):
    """This network address already has as many registrations running as one address may.

    A conflict with the registrations the address holds (409), not a rate (429): no waiting
    time lifts it, the end of one of them does (``registration.live_per_address``)."""

    code = "address_limit_reached"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(
            gettext(
                "This network address already has %(limit)s registrations running, the most one "
                "address may have at once; another can be made as soon as one of them ends.",
                limit=limit,
            )
        )


class ConfirmationExpired(InvalidState):
    """This confirmation link has expired: register again to get a new one."""

    code = "confirmation_expired"


class AlreadyConfirmed(InvalidState):
    """This registration is already confirmed: a confirmation link works only once."""

    code = "already_confirmed"


class SeatsFree(InvalidState):
    """This workshop has free seats: register instead of joining its waiting list."""

    code = "seats_free"


class WaitlistFull(InvalidState):
    """The waiting list of this workshop is full; pick another workshop or try again later."""

    code = "waitlist_full"


class WaitlistClosed(InvalidState):
    """This workshop has no waiting list."""

    code = "waitlist_closed"


class ClaimExpired(InvalidState):
    """This claim link has expired: the seat went to the next in line."""

    code = "claim_expired"


class AlreadyClaimed(InvalidState):
    """This seat was already claimed: a claim link works only once."""

    code = "already_claimed"


class SeatAlreadyFreed(InvalidState):
    """This session has already ended: its seat can no longer be kept, and nothing was changed."""

    code = "seat_already_freed"


class NotAuthenticated(Refusal):
    """Credentials are missing or wrong."""

    code = "not_authenticated"


class NotFound(Refusal):
    """No such object."""

    code = "not_found"


class ContentNotFound(NotFound):
    """The api holds no such content revision or workshop."""

    code = "content_not_found"


# --------------------------------------------------------------------------- failures


class Failure(WodError):
    """Something broke."""


class ConfigError(Failure):
    """The configuration is not valid."""


class IllegalTransition(Failure):
    """A state change that the transition table forbids."""


@dataclass(frozen=True)
class ContentProblem:
    """One problem found in workshop content: ``file: field: message``."""

    file: str
    field: str
    message: str
    line: int | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        kind = "warning: " if self.warning else ""
        return f"{where}: {self.field}: {kind}{self.message}"


class ContentError(Failure):
    """The workshop content is not valid."""

    def __init__(self, problems: list[ContentProblem], message: str | None = None) -> None:
        self.problems = problems
        super().__init__(message or "\n".join(str(p) for p in problems) or None)


class TemplateError(ContentError):
    """A workshop file could not be rendered for a seat."""


class ContentSyncError(Failure):
    """The content layers could not be synced; nothing changed."""


class HubError(Failure):
    """The JupyterHub could not do what was asked."""


class HubUnavailable(HubError):
    """The JupyterHub did not answer (refused connection, timeout, 502/503/504): it may be
    restarting; the job is tried again without counting the attempt (ARCHITECTURE §5)."""


class MailError(Failure):
    """An email could not be sent."""


class ApiClientError(Failure):
    """The wod api answered with an error or could not be reached."""

    def __init__(self, message: str | None = None, status: int | None = None) -> None:
        self.status = status  # None: the api could not be reached
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """Worth trying again: the api was unreachable or failed (not a refusal)."""
        return self.status is None or self.status >= 500


class HookScriptError(Failure):
    """A hook script failed."""


class VerbError(Failure):
    """A backend verb failed."""
