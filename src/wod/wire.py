"""What crosses the wire between the api and the backend agents, and the dashboard's figures:
one set of pydantic models that the services build, the api serves and validates, and the
agent reads — so that mypy checks both sides of every field (ARCHITECTURE §9)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from wod.domain.limits import ID_MAX

VerbName = Literal["CREATE", "CLEANUP", "RESET", "PURGE"]
LOG_LIMIT = 1_000_000
ERROR_LIMIT = 10_000
#: A name or an identifier the api looks up or keeps: never a NUL, which PostgreSQL's text
#: cannot hold (the query would fail instead of finding nothing).
NO_NUL = r"^[^\x00]*$"
#: A content revision: the sha256 of its layers.
REVISION = r"^[0-9a-f]{64}$"


class SeatOrder(BaseModel):
    number: int
    username: str


class WorkshopOrder(BaseModel):
    """What the agent needs to know of a workshop to run a verb on one of its seats."""

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


class ContentRef(BaseModel):
    """The content revision a job runs with, and the digest of its workshop's bundle."""

    revision: str = Field(pattern=REVISION)
    bundle: str = Field(pattern=r"^[0-9a-f]{64}$")


class JobOrder(BaseModel):
    """A job as the backend agent receives it."""

    id: int
    verb: VerbName
    attempt: int
    seat: SeatOrder | None
    registration: int | None
    workshop: WorkshopOrder | None
    #: None: the hub host's own content folders (no revision recorded at the api).
    content: ContentRef | None = None
    #: The id of the api request that queued the job: the agent logs with it while it runs.
    request_id: str | None = Field(None, max_length=64)
    #: A CREATE that starts the seat's server at its end (a warm pool's seat), whatever the
    #: agent's ``backend.prespawn``.
    start_server: bool = False
    #: A CREATE's lab token: the agent writes it into the home, where the seat's JupyterLab
    #: extension reads it to call ``/api/v1/seat/…`` (only its hash is kept at the api).
    lab_token: str | None = Field(None, max_length=100)


class JobReport(BaseModel):
    """What an agent says of a job it ran."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    log: str = Field("", max_length=LOG_LIMIT)
    error: str | None = Field(None, max_length=ERROR_LIMIT)
    password: str | None = Field(None, min_length=12, max_length=200)
    completion: int | None = Field(None, ge=0, le=100)
    attempt: int | None = Field(
        None, ge=1, le=ID_MAX, description="The attempt reported (the order's `attempt`)."
    )
    unavailable: bool = Field(
        False,
        description="The attempt failed because a part it needs (the JupyterHub) did not "
        "answer: tried again without counting it, for `scheduler.hub_outage_patience`.",
    )


class JobReported(BaseModel):
    id: int
    state: str


class ExternalJobIn(BaseModel):
    """A verb the agent runs on an order it took itself (a mail order)."""

    model_config = ConfigDict(extra="forbid")

    verb: VerbName
    seat: int = Field(ge=1, le=ID_MAX)
    workshop: str | None = Field(None, max_length=100, pattern=NO_NUL)
    source: str = Field("mail", max_length=20, pattern=NO_NUL)


class LocationPublic(BaseModel):
    name: str
    seat_min: int
    seat_max: int
    hub_public_url: str
    hub_api_url: str


class HeartbeatIn(BaseModel):
    """What an agent says when it calls to show it is alive."""

    model_config = ConfigDict(extra="forbid")

    revisions: list[Annotated[str, Field(pattern=REVISION)]] = Field(
        default_factory=list, max_length=1000
    )
    version: str | None = Field(
        None, max_length=100, pattern=NO_NUL, description="The agent's version of wod."
    )
    running: list[Annotated[int, Field(ge=1, le=ID_MAX)]] = Field(
        default_factory=list,
        max_length=10_000,
        description="The jobs the agent is running: their leases are renewed.",
    )
    boot: str | None = Field(
        None,
        max_length=64,
        pattern=NO_NUL,
        description="Names the agent's process: when it changes, the agent has restarted and "
        "the jobs of the location it does not run are given again.",
    )


class SeatActivityIn(BaseModel):
    """One seat's last activity as the hub knows it."""

    model_config = ConfigDict(extra="forbid")

    seat: int = Field(ge=1, le=ID_MAX, description="The seat's number at the caller's location.")
    last_activity: AwareDatetime | None = Field(
        None,
        description="The hub's last activity of the seat's user and server (kernel execution, "
        "an open lab); null: none yet. A time ahead of the api's clock counts as now.",
    )


class ActivityIn(BaseModel):
    """An agent's report of its seats' last activity (idle seats are given back)."""

    model_config = ConfigDict(extra="forbid")

    seats: list[SeatActivityIn] = Field(max_length=10_000)

    @field_validator("seats")
    @classmethod
    def _once_each(cls, seats: list[SeatActivityIn]) -> list[SeatActivityIn]:
        seen: set[int] = set()
        for entry in seats:
            if entry.seat in seen:
                raise ValueError(f"seat {entry.seat} is reported more than once")
            seen.add(entry.seat)
        return seats


class ActivityRecorded(BaseModel):
    recorded: int = Field(description="Live registrations whose seat's activity was noted.")


class BundleRef(BaseModel):
    folder: str
    bundle: str


class HeartbeatOut(BaseModel):
    """The revision in service, and the bundles of the location's workshops in it (the agent
    fetches those it lacks, so that every hub host holds the revision in service)."""

    revision: str | None
    bundles: list[BundleRef]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    problems: list[str] = Field(max_length=10_000)


class AbuseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(max_length=2000)


class ContainedIn(BaseModel):
    """What a seat's limits contained (systemd mode), one line per event."""

    model_config = ConfigDict(extra="forbid")

    events: list[Annotated[str, Field(min_length=1, max_length=500)]] = Field(
        min_length=1, max_length=20
    )


# --------------------------------------------------------------------- the dashboard's figures


class LiveSeats(BaseModel):
    workshop: str
    location: str
    count: int


class DayCount(BaseModel):
    day: str
    count: int


class Outcomes(BaseModel):
    live: int
    ended: int
    ended_early: int
    failed: int
    reclaimed_idle: int = Field(0, description="Ended as idle: their seat was given back.")


class Completion(BaseModel):
    workshop: str
    mean: float
    count: int


class BadgeLevelCount(BaseModel):
    level: int
    name: str
    count: int


class SeatStateCount(BaseModel):
    location: str
    state: str
    count: int


class Stats(BaseModel):
    """``GET /api/v1/stats``: what the dashboard draws."""

    live_seats: list[LiveSeats]
    registrations_per_day: list[DayCount]
    outcomes: Outcomes
    completion: list[Completion]
    badge_levels: list[BadgeLevelCount]
    seats: list[SeatStateCount]
