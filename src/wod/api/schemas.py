"""Request and answer bodies of the participants' routes (ARCHITECTURE §9); what the agents
send and receive is in :mod:`wod.wire`."""

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
