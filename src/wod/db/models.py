"""SQLAlchemy models. Invariants are database constraints (ARCHITECTURE §3), not only checks."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from wod.domain.states import (
    EMAIL_HOLDING,
    SEAT_HOLDING,
    WAITLIST_LIVE,
    EmailState,
    JobState,
    RegistrationState,
    SeatState,
    Verb,
    WaitlistState,
)

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every database (SQLite keeps no time zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def _enum(cls: type[StrEnum]) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        length=16,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
    )


def _in(states: tuple[StrEnum, ...]) -> str:
    return "state IN (" + ", ".join(f"'{s.value}'" for s in states) + ")"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime()}  # noqa: RUF012


class Location(Base):
    """A JupyterHub host with its seats and its backend agent."""

    __tablename__ = "location"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    hub_public_url: Mapped[str] = mapped_column(String(500))
    hub_api_url: Mapped[str] = mapped_column(String(500))
    seat_min: Mapped[int]
    seat_max: Mapped[int]
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    #: When its agent last called the api (noted at most every ``CONTACT_PRECISION``).
    last_contact_at: Mapped[datetime | None]
    #: Since when its agent is silent (set once the admins were told, cleared when it calls).
    silent_since: Mapped[datetime | None]
    #: The newest content revision its agent holds, as it last said.
    content_revision: Mapped[str | None] = mapped_column(String(64))
    #: The version of wod its agent runs, as its last heartbeat said.
    agent_version: Mapped[str | None] = mapped_column(String(100))
    #: The process of its agent that last called (a new one has restarted: the jobs the old
    #: one was running are given again at once).
    agent_boot: Mapped[str | None] = mapped_column(String(64))
    #: Draining: no new seat is given on it; live ones run to their end.
    draining: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Seat(Base):
    """One account ``studentN`` of a location."""

    __tablename__ = "seat"
    __table_args__ = (
        UniqueConstraint("location_id", "number"),
        Index(None, "location_id", "state", "number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    number: Mapped[int]
    username: Mapped[str] = mapped_column(String(50))
    state: Mapped[SeatState] = mapped_column(_enum(SeatState), default=SeatState.free)
    updated_at: Mapped[datetime]
    #: While ``warming`` or ``warm``: the workshop and content revision it is built for, and
    #: (once warm) its password, sealed, which the registration that takes it receives.
    warm_workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))
    warm_revision_id: Mapped[int | None] = mapped_column(ForeignKey("content_revision.id"))
    warm_password_enc: Mapped[str | None] = mapped_column(Text)
    #: The hash of the lab token its last CREATE delivered into the home (the seat's
    #: JupyterLab extension calls ``/api/v1/seat/…`` with it); cleared when its registration
    #: ends, and valid only while a registration holding the seat is active.
    lab_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)


class Workshop(Base):
    """A workshop imported from content (every wod.yml field)."""

    __tablename__ = "workshop"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    duration_hours: Mapped[int]
    presenter: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    avatar: Mapped[str] = mapped_column(String(500), default="")
    replay_link: Mapped[str] = mapped_column(String(500), default="")
    replay_id: Mapped[int | None]
    workshop_img: Mapped[str] = mapped_column(String(500), default="")
    badge_img: Mapped[str] = mapped_column(String(500), default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    capacity: Mapped[int]
    priority: Mapped[int] = mapped_column(default=0)
    seat_min: Mapped[int]
    seat_max: Mapped[int]
    reset: Mapped[bool] = mapped_column(Boolean, default=False)
    ldap: Mapped[bool] = mapped_column(Boolean, default=False)
    varpass: Mapped[bool] = mapped_column(Boolean, default=False)
    compile: Mapped[list[str]] = mapped_column(JSON, default=list)
    beta: Mapped[bool] = mapped_column(Boolean, default=False)
    monoappliance: Mapped[bool] = mapped_column(Boolean, default=False)
    multiappliance: Mapped[bool] = mapped_column(Boolean, default=False)
    location: Mapped[str | None] = mapped_column(String(100))
    alternate_locations: Mapped[list[str]] = mapped_column(JSON, default=list)
    layer: Mapped[str] = mapped_column(String(500), default="")
    extendable: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    #: Seats kept built and started ahead of registrations (``warm`` in wod.yml).
    warm: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: wod.yml ``idle_timeout`` in minutes; 0: off; None: the setting ``idle.timeout``.
    idle_timeout: Mapped[int | None]
    #: wod.yml ``learn`` and ``prerequisites``: lines the workshop page lists.
    learn: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    prerequisites: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    #: The lab notebooks' titles, read at import (:mod:`wod.content.outline`).
    outline: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class Registration(Base):
    """One person's booking of one workshop."""

    __tablename__ = "registration"
    __table_args__ = (
        Index(
            "uq_registration_live_email",
            "email",
            unique=True,
            sqlite_where=text(_in(EMAIL_HOLDING)),
            postgresql_where=text(_in(EMAIL_HOLDING)),
        ),
        Index(
            "uq_registration_live_seat",
            "seat_id",
            unique=True,
            sqlite_where=text(_in(SEAT_HOLDING)),
            postgresql_where=text(_in(SEAT_HOLDING)),
        ),
        Index(None, "state", "ends_at"),
        Index(None, "email"),
        Index(None, "reminder_due_at"),
        Index(None, "provision_due_at"),
        Index(None, "client_key", "state"),
        # one unconfirmed registration per address and workshop: a second request sends the
        # confirmation again (wod.services.registrations.confirm)
        Index(
            "uq_registration_unconfirmed",
            "email",
            "workshop_id",
            unique=True,
            sqlite_where=text(_in((RegistrationState.unconfirmed,))),
            postgresql_where=text(_in((RegistrationState.unconfirmed,))),
        ),
        Index(None, "confirm_due_at"),
        # the retention timer's due rows: over, not anonymised yet (wod.services.admin.retention)
        Index(
            "ix_registration_retention_due",
            "ended_at",
            sqlite_where=text("anonymised_at IS NULL"),
            postgresql_where=text("anonymised_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    #: None only while it holds no seat and never did (unconfirmed, or ended so).
    location_id: Mapped[int | None] = mapped_column(ForeignKey("location.id"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seat.id"))
    state: Mapped[RegistrationState] = mapped_column(
        _enum(RegistrationState), default=RegistrationState.queued
    )
    created_at: Mapped[datetime]
    ready_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    ended_reason: Mapped[str | None] = mapped_column(String(30))
    completion: Mapped[int | None]
    password_enc: Mapped[str | None] = mapped_column(String(500))
    language: Mapped[str] = mapped_column(String(10), default="en")
    #: The participant's time zone (IANA name, from the browser at registration); the emails
    #: give times in it beside UTC. None: UTC only.
    time_zone: Mapped[str | None] = mapped_column(String(64))
    manage_nonce: Mapped[str] = mapped_column(String(64), default="", server_default="")
    manage_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: Due times of the timers; NULL once the timer fired or no longer applies.
    reminder_due_at: Mapped[datetime | None]
    provision_due_at: Mapped[datetime | None]
    extended: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    #: Set when an admin purged the registration: name, company and address are erased.
    erased_at: Mapped[datetime | None]
    #: The content its seat was made from (None: the hub host's own folders).
    content_revision_id: Mapped[int | None] = mapped_column(ForeignKey("content_revision.id"))
    #: Set when the retention timer anonymised it (``retention.days`` after it ended): name and
    #: company empty, the address replaced by its keyed hash (its badges still count).
    anonymised_at: Mapped[datetime | None]
    #: A keyed hash of the client address it was made from, for the cap on live registrations
    #: per address (``registration.live_per_address``); None when made without one (a command).
    client_key: Mapped[str | None] = mapped_column(String(64))
    #: The confirmation link (``registration.confirm_email``): the nonce it is derived from
    #: and its hash, kept after it was used so that the link can say so; empty without one.
    confirm_nonce: Mapped[str | None] = mapped_column(String(64))
    confirm_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: When an unconfirmed registration expires (NULL once confirmed or over).
    confirm_due_at: Mapped[datetime | None]
    confirmed_at: Mapped[datetime | None]


class WaitlistEntry(Base):
    """One address waiting for a seat of a full workshop (:mod:`wod.services.registrations
    .waitlist`); in line by ``id``."""

    __tablename__ = "waitlist_entry"
    __table_args__ = (
        # one entry on the list per address and workshop
        Index(
            "uq_waitlist_entry_live",
            "workshop_id",
            "email",
            unique=True,
            sqlite_where=text(_in(WAITLIST_LIVE)),
            postgresql_where=text(_in(WAITLIST_LIVE)),
        ),
        Index(None, "workshop_id", "state", "id"),
        Index(None, "offer_due_at"),
        Index(None, "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    workshop_id: Mapped[int] = mapped_column(ForeignKey("workshop.id"))
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    company: Mapped[str] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(10), default="en")
    state: Mapped[WaitlistState] = mapped_column(
        _enum(WaitlistState), default=WaitlistState.waiting
    )
    created_at: Mapped[datetime]
    #: The claim link of its offer: the nonce it is derived from and its hash (kept after use so
    #: that the link can say it was used), and until when it works (NULL unless offered).
    offer_nonce: Mapped[str | None] = mapped_column(String(64))
    offer_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    offered_at: Mapped[datetime | None]
    offer_due_at: Mapped[datetime | None]
    #: When it left the list (claimed, expired, left).
    ended_at: Mapped[datetime | None]
    #: The registration its claim made.
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"))


class Job(Base):
    """One verb for the backend agent of a location, claimed with a lease."""

    __tablename__ = "job"
    __table_args__ = (
        Index(
            "uq_job_running_seat",
            "seat_id",
            unique=True,
            sqlite_where=text("state = 'running'"),
            postgresql_where=text("state = 'running'"),
        ),
        Index(None, "location_id", "state", "run_after"),
        Index(None, "state", "lease_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    verb: Mapped[Verb] = mapped_column(_enum(Verb))
    location_id: Mapped[int] = mapped_column(ForeignKey("location.id"))
    seat_id: Mapped[int | None] = mapped_column(ForeignKey("seat.id"))
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"))
    workshop_id: Mapped[int | None] = mapped_column(ForeignKey("workshop.id"))
    state: Mapped[JobState] = mapped_column(_enum(JobState), default=JobState.queued)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    #: Attempts that failed because the hub was unavailable: not counted against max_attempts.
    hub_waits: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    run_after: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    log: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text)
    #: "api" for the jobs the api queues; anything else (e.g. "mail") is a verb the agent took
    #: by another transport: recorded and reported, but it moves no registration nor seat.
    source: Mapped[str] = mapped_column(String(20), default="api", server_default="api")
    #: The id of the api request that queued it (``X-Request-ID``): its agent logs with it.
    request_id: Mapped[str | None] = mapped_column(String(64))


class Email(Base):
    """One email in the outbox; rendered when sent, at most one per dedupe key."""

    __tablename__ = "email"
    __table_args__ = (
        Index(None, "state", "next_attempt_at"),
        Index(None, "registration_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"))
    kind: Mapped[str] = mapped_column(String(30))
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    # the Message-ID of every attempt of one sending (a resend is a new sending, a new id)
    message_id: Mapped[str | None] = mapped_column(String(250))
    state: Mapped[EmailState] = mapped_column(_enum(EmailState), default=EmailState.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class BadgeAward(Base):
    """A level badge reached by one email address, awarded once."""

    __tablename__ = "badge_award"
    __table_args__ = (UniqueConstraint("email", "level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    level: Mapped[int]
    registration_id: Mapped[int | None] = mapped_column(ForeignKey("registration.id"))
    awarded_at: Mapped[datetime]


class ApiToken(Base):
    """An admin api token (hashed) with its role."""

    __tablename__ = "api_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class RateCounter(Base):
    """Attempts of one key (client address, email) in the current fixed window."""

    __tablename__ = "rate_counter"
    __table_args__ = (Index(None, "window_start"),)

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    window_start: Mapped[datetime]
    count: Mapped[int]


class AdminUser(Base):
    """A person who logs in to the admin console, with a role (admin, or viewer: read only)."""

    __tablename__ = "admin_user"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None]
    created_at: Mapped[datetime]
    last_login_at: Mapped[datetime | None]


class AdminSession(Base):
    """A login to the admin console: only the hash of the cookie's random token is kept."""

    __tablename__ = "admin_session"
    __table_args__ = (Index(None, "expires_at"), Index(None, "user_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("admin_user.id", ondelete="CASCADE"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class ContentArchive(Base):
    """The files of one layer at one source (a git commit, or a folder's digest), packed."""

    __tablename__ = "content_archive"
    __table_args__ = (UniqueConstraint("layer", "source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    layer: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


class ContentRevision(Base):
    """The content layers at one moment: for each layer its source and archive. The one in
    service is the latest applied; each seat keeps the revision it was made from."""

    __tablename__ = "content_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    #: ``[{"name", "kind", "source", "ref", "url", "archive"}]`` in layer order (no secret).
    layers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    created_at: Mapped[datetime]
    applied_at: Mapped[datetime | None] = mapped_column(index=True)


class ContentSync(Base):
    """The one row that tells the api processes about syncs: asked for (by the webhook), who
    runs one (a lease), how the last one went."""

    __tablename__ = "content_sync"

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)


class AuditEvent(Base):
    """One action of an admin, a viewer, an admin api token, a ``wod`` command or the
    scheduler: who, what, when, from where, and how it went (:mod:`wod.services.admin.audit`)."""

    __tablename__ = "audit_event"
    __table_args__ = (
        Index(None, "at"),
        Index(None, "action", "at"),
        # the retention timer's due rows: an address not yet forgotten
        Index(
            "ix_audit_event_address_due",
            "at",
            sqlite_where=text("address IS NOT NULL"),
            postgresql_where=text("address IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    #: console, token, cli or scheduler
    actor_kind: Mapped[str] = mapped_column(String(16))
    #: The console user or the token's name; the system user of a command.
    actor: Mapped[str] = mapped_column(String(100))
    role: Mapped[str | None] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(200), default="")
    #: done, refused or failed
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text, default="")
    #: The client's address (the host's name for a command); None once retention forgot it.
    address: Mapped[str | None] = mapped_column(String(255))


class SeatActivity(Base):
    """The last activity of a live registration's seat, as its agent reads it from the hub,
    and where its idle watch stands (:mod:`wod.services.registrations.idle`)."""

    __tablename__ = "seat_activity"

    registration_id: Mapped[int] = mapped_column(
        ForeignKey("registration.id", ondelete="CASCADE"), primary_key=True
    )
    #: The hub's last activity of the seat (its clock); None: none yet.
    last_activity_at: Mapped[datetime | None]
    #: When the agent last reported on the seat (the api's clock).
    reported_at: Mapped[datetime]
    #: When the warning is due (idle since then for the timeout); None while one is pending.
    idle_due_at: Mapped[datetime | None] = mapped_column(index=True)
    #: A warning is pending: the registration ends at this time unless kept or active again.
    end_due_at: Mapped[datetime | None] = mapped_column(index=True)
    #: The hub's last activity when the warning went: activity after it cancels the warning.
    warned_activity_at: Mapped[datetime | None]
    #: Warnings sent so far (the dedupe key of the next one).
    warnings: Mapped[int] = mapped_column(default=0, server_default="0")
    keep_nonce: Mapped[str | None] = mapped_column(String(64))
    keep_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    kept_at: Mapped[datetime | None]
