"""Request and answer bodies of the participants' routes (ARCHITECTURE §9); what the agents
send and receive is in :mod:`wod.wire`."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict, JsonValue

from wod.domain.states import RegistrationState, WaitlistState
from wod.settings import RegistrationSettings
from wod.wire import NO_NUL, VerbName


class WorkshopPublic(BaseModel):
    slug: str
    name: str
    description: str
    categories: list[str]
    duration_hours: int
    presenter: str
    role: str
    avatar_url: str | None
    replay_url: str | None
    badge_url: str
    cover_url: str = Field(description="`workshopImg`, or the cover the portal draws.")
    learn: list[str] = Field(description="What a participant will learn (wod.yml `learn`).")
    prerequisites: list[str] = Field(description="wod.yml `prerequisites`.")
    outline: list[str] = Field(description="The lab notebooks' titles, in order.")
    seats_left: int
    popular: bool
    beta: bool


def _limit(setting: str, **schema: JsonValue) -> JsonDict:
    """What the document says of a text field that the registration service checks against
    ``registration.<setting>``: that setting's default. The service checks the configured
    limit (after collapsing runs of white space); the model itself only refuses the absurd."""
    default: int = RegistrationSettings.model_fields[setting].default
    return {"maxLength": default, **schema}


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workshop: str = Field(
        max_length=100,
        pattern=NO_NUL,
        description="Slug of an active workshop; surrounding spaces are ignored.",
    )
    email: str = Field(
        max_length=1000,
        description="A valid address (syntax only); at most `registration.email_max` characters.",
        json_schema_extra=_limit("email_max", format="email"),
    )
    name: str = Field(
        max_length=1000,
        description="Runs of white space are collapsed; at most `registration.name_max` "
        "characters, no control or invisible characters.",
        json_schema_extra=_limit("name_max", minLength=1),
    )
    company: str = Field(
        max_length=1000,
        description="As `name`; at most `registration.company_max` characters.",
        json_schema_extra=_limit("company_max", minLength=1),
    )
    accept_terms: bool = Field(
        description="Must be true (false is refused with `terms_not_accepted`).",
        json_schema_extra={"const": True},
    )
    language: Literal["en", "fr"] | None = Field(
        None,
        description="Language of the emails; default: the request's (Accept-Language).",
    )


_same = RegistrationCreate.model_fields


class WaitlistJoin(BaseModel):
    """Joining a full workshop's waiting list: the fields of a registration but the slug,
    which is in the path."""

    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, _same["email"]]
    name: Annotated[str, _same["name"]]
    company: Annotated[str, _same["company"]]
    accept_terms: Annotated[bool, _same["accept_terms"]]
    language: Annotated[Literal["en", "fr"] | None, _same["language"]] = None


class WaitlistPlacePublic(BaseModel):
    workshop: str
    status: WaitlistState = Field(description="`waiting`, or `offered` once a seat is held.")
    position: int = Field(description="1 for the next in line; 0 once offered.")
    already: bool = Field(description="The address was on the list already: nothing changed.")


class RegistrationCreated(BaseModel):
    id: int
    workshop: str
    status: RegistrationState
    created_at: datetime


class PurgeQueued(BaseModel):
    """The PURGE job queued (or already waiting) for a seat."""

    job: int
    verb: VerbName


class RegistrationPublic(BaseModel):
    id: int
    workshop: str
    status: RegistrationState
    seat: str | None = Field(
        description="The seat's user name; null for a registration that never held one "
        "(`unconfirmed`, or ended before it was confirmed)."
    )
    ready_at: datetime | None
    ends_at: datetime | None
    completion: int | None
    hub_url: str | None
    can_extend: bool


class SeatStatusPublic(BaseModel):
    """What a seat's JupyterLab extension shows: the server's clock, the end, the badge rule."""

    now: datetime = Field(description="The server's clock: the lab counts down from it.")
    status: RegistrationState
    workshop: str
    workshop_name: str
    ends_at: datetime | None
    seconds_left: int = Field(description="Seconds from `now` to `ends_at` (0 once past).")
    can_extend: bool
    extend_by_minutes: int
    badge_min_completion: int = Field(description="Completion (%) that earns the badge.")
    timesup_url: str | None = Field(
        description="The portal's \"Time's up\" page the lab shows once the seat ended."
    )
    language: str
    texts: dict[str, str] = Field(description="The lab's words in the registration's language.")
