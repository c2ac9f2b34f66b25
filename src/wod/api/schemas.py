"""Request and answer bodies of the public contract (ARCHITECTURE §9)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from wod.domain.states import RegistrationState


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
    seats_left: int
    popular: bool
    beta: bool


class RegistrationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workshop: str = Field(max_length=100)
    email: str = Field(max_length=1000)
    name: str = Field(max_length=1000)
    company: str = Field(max_length=1000)
    accept_terms: bool
    language: Literal["en", "fr"] | None = Field(
        None,
        description="Language of the emails; default: the request's (Accept-Language).",
    )


class RegistrationCreated(BaseModel):
    id: int
    workshop: str
    status: RegistrationState
    created_at: datetime


class RegistrationPublic(BaseModel):
    id: int
    workshop: str
    status: RegistrationState
    seat: str
    ready_at: datetime | None
    ends_at: datetime | None
    completion: int | None
    hub_url: str | None
    can_extend: bool


class SeatOrder(BaseModel):
    number: int
    username: str


class WorkshopOrder(BaseModel):
    id: int | None = None
    slug: str
    seat_min: int
    seat_max: int
    reset: bool
    varpass: bool
    ldap: bool
    compile: list[str]
    monoappliance: bool
    multiappliance: bool


class JobOrder(BaseModel):
    """A job as the backend agent receives it."""

    id: int
    verb: Literal["CREATE", "CLEANUP", "RESET", "PURGE"]
    attempt: int
    seat: SeatOrder | None
    registration: int | None
    workshop: WorkshopOrder | None


class ExternalJobIn(BaseModel):
    """A verb the agent runs on an order it took itself (a mail order)."""

    model_config = ConfigDict(extra="forbid")

    verb: Literal["CREATE", "CLEANUP", "RESET", "PURGE"]
    seat: int = Field(ge=1)
    workshop: str | None = Field(None, max_length=100)
    source: str = Field("mail", max_length=20)


class LocationPublic(BaseModel):
    name: str
    seat_min: int
    seat_max: int
    hub_public_url: str
    hub_api_url: str


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problems: list[str] = Field(max_length=10_000)


class AbuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class JobReportIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ok: bool
    log: str = Field("", max_length=1_000_000)
    error: str | None = Field(None, max_length=10_000)
    password: str | None = Field(None, min_length=12, max_length=200)
    completion: int | None = Field(None, ge=0, le=100)


class JobReported(BaseModel):
    id: int
    state: str
