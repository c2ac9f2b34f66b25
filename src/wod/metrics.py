"""Prometheus metrics of the api (``GET /metrics``; docs/howto/monitoring.md lists them).

Two kinds. What happens — registrations tried, job attempts ended, emails sent or failed,
scheduler passes, refusals — is counted in each api process by the one-line observations
below, called where it happens. What *is* — seats by state, jobs waiting, the outbox's
backlog, each location's last contact — is read from the database at scrape time
(:class:`State`, gathered by :mod:`wod.services.admin.health`), so that every api process
sharing one database answers the same figures.

Labels name workshops, locations, verbs, states and kinds: bounded sets, never a person (no
email, no name, no registration id).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import wraps
from typing import Concatenate, ParamSpec, Protocol, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    Info,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from wod import __version__
from wod.logs import ASGIApp, Message, Receive, Scope, Send, route_of

#: prometheus-client's multiprocess mode (``wod api --workers``): where the workers keep
#: their counters, set before they import this module.
MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"
#: The text format every Prometheus reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
#: The events of this process (the state is not kept here: it is read at scrape time).
EVENTS = CollectorRegistry()
# no ``_created`` series beside each counter: nothing reads them (the library is not typed)
disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRATION_ATTEMPTS = Counter(
    "wod_registration_attempts",
    "Registrations tried, by outcome (registered, or the refusal's code) and workshop (empty "
    "when the refusal came before the workshop was known).",
    ["workshop", "outcome"],
    registry=EVENTS,
)
JOB_ATTEMPTS = Counter(
    "wod_job_attempts",
    "Job attempts ended, by verb and outcome (done, retried, failed for good).",
    ["verb", "outcome"],
    registry=EVENTS,
)
JOB_DURATION = Histogram(
    "wod_job_duration_seconds",
    "Time from a job's claim to its agent's report, by verb and outcome.",
    ["verb", "outcome"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
    registry=EVENTS,
)
PROVISION = Histogram(
    "wod_provision_seconds",
    "Time from a registration to its credentials email sent.",
    buckets=(2, 5, 10, 20, 30, 45, 60, 90, 120, 300, 600, 1800),
    registry=EVENTS,
)
EMAILS_SENT = Counter("wod_emails_sent", "Emails sent, by kind.", ["kind"], registry=EVENTS)
EMAIL_FAILURES = Counter(
    "wod_email_failures",
    "Failed sending attempts, by kind and outcome (retry: tried again later; given_up).",
    ["kind", "outcome"],
    registry=EVENTS,
)
SCHEDULER_PASS = Histogram(
    "wod_scheduler_pass_seconds",
    "Time of one pass of the scheduler's timers.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=EVENTS,
)
RATE_LIMIT_REFUSALS = Counter(
    "wod_rate_limit_refusals",
    "Attempts refused by a rate limit, by scope (email, ip, admin-login).",
    ["scope"],
    registry=EVENTS,
)
LOGIN_FAILURES = Counter(
    "wod_admin_login_failures",
    "Refused logins to the admin console, by reason (credentials: a wrong name or password, "
    "or a locked account; rate_limited; csrf).",
    ["reason"],
    registry=EVENTS,
)
IDLE_SEATS = Counter(
    "wod_idle_seats",
    "Idle seats, by outcome: warned (the warning email queued), kept (its link clicked), "
    "active (activity again after the warning), reclaimed (ended as idle).",
    ["outcome"],
    registry=EVENTS,
)
HTTP_REQUESTS = Counter(
    "wod_http_requests",
    "Requests answered, by method, route template and status.",
    ["method", "route", "status"],
    registry=EVENTS,
)
#: Info series are not added up over processes: the build is in a registry of its own.
ABOUT = CollectorRegistry()
BUILD = Info("wod_build", "The version of wod this process runs.", registry=ABOUT)
BUILD.info({"version": __version__})
_VERBS = ("CREATE", "CLEANUP", "RESET", "PURGE")
_OUTCOMES = {"done": "done", "queued": "retried", "failed": "failed"}
for _verb in _VERBS:  # every series exists from the start: rate() needs a first zero
    for _outcome in _OUTCOMES.values():
        JOB_ATTEMPTS.labels(_verb, _outcome)
for _reason in ("credentials", "rate_limited", "csrf"):
    LOGIN_FAILURES.labels(_reason)
for _idle in ("warned", "kept", "active", "reclaimed"):
    IDLE_SEATS.labels(_idle)

# --------------------------------------------------------------------- observations

P = ParamSpec("P")
R = TypeVar("R")
C = TypeVar("C")


class Requested(Protocol):
    @property
    def workshop(self) -> str: ...


Q = TypeVar("Q", bound=Requested)
#: Refusals that come once the workshop was found: the slug asked for is a real one.
_KNOWN_WORKSHOP = {"registered", "already_registered", "workshop_full"}


def counted_registrations(
    register: Callable[Concatenate[C, Q, P], R],
) -> Callable[Concatenate[C, Q, P], R]:
    """Decorates ``register(ctx, request, …)``: counts each call by outcome and workshop."""

    @wraps(register)
    def counted(ctx: C, request: Q, /, *args: P.args, **kwargs: P.kwargs) -> R:
        outcome = "error"
        try:
            result = register(ctx, request, *args, **kwargs)
            outcome = "registered"
            return result
        except Exception as exc:
            outcome = str(getattr(exc, "code", "error"))
            raise
        finally:
            workshop = request.workshop.strip() if outcome in _KNOWN_WORKSHOP else ""
            REGISTRATION_ATTEMPTS.labels(workshop, outcome).inc()

    return counted


def job_ended(verb: str, state: str, took: timedelta | None) -> None:
    """An attempt of a ``verb`` job ended, leaving the job in ``state`` (done, queued again, or
    failed); ``took``: from its claim to its report (None: its lease ran out)."""
    outcome = _OUTCOMES.get(state, state)
    JOB_ATTEMPTS.labels(verb, outcome).inc()
    if took is not None:
        JOB_DURATION.labels(verb, outcome).observe(max(took.total_seconds(), 0.0))


def email_sent(kind: str, registered_at: datetime | None, sent_at: datetime) -> None:
    """An email of ``kind`` went out; a credentials email ends its registration's provision."""
    EMAILS_SENT.labels(kind).inc()
    if kind == "credentials" and registered_at is not None:
        PROVISION.observe(max((sent_at - registered_at).total_seconds(), 0.0))


def email_failed(kind: str, *, given_up: bool) -> None:
    EMAIL_FAILURES.labels(kind, "given_up" if given_up else "retry").inc()


def idle_seat(outcome: str) -> None:
    """An idle seat was warned, kept, active again or reclaimed."""
    IDLE_SEATS.labels(outcome).inc()


def rate_limited(key: str) -> None:
    """A rate limit refused an attempt on ``key`` (``scope:value``; only the scope is kept)."""
    RATE_LIMIT_REFUSALS.labels(key.partition(":")[0]).inc()


# --------------------------------------------------------------------- the state, at scrape


@dataclass(frozen=True)
class LocationState:
    """One location as the database says at scrape time."""

    name: str
    enabled: bool
    silent: bool
    #: Seconds since its agent last called; None when it never did.
    last_contact_age: float | None
    agent_version: str | None
    content_revision: str | None
    #: Seconds the oldest due job of the location has waited for its agent (0: none waits).
    oldest_job_wait: float


@dataclass(frozen=True)
class State:
    """The figures read from the database at scrape time."""

    #: (location, state, count)
    seats: Sequence[tuple[str, str, int]]
    #: (workshop, state, count)
    registrations: Sequence[tuple[str, str, int]]
    #: (location, verb, state, count)
    jobs: Sequence[tuple[str, str, str, int]]
    #: (state, count)
    emails: Sequence[tuple[str, int]]
    #: Seconds the oldest email not yet sent (pending or sending) has waited (0: none).
    outbox_oldest: float
    locations: Sequence[LocationState]


def _gauge(name: str, documentation: str, labels: Sequence[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


def state_families(state: State) -> list[Metric]:
    """The state as metric families."""
    seats = _gauge("wod_seats", "Seats by location and state.", ["location", "state"])
    registrations = _gauge(
        "wod_registrations", "Registrations by workshop and state.", ["workshop", "state"]
    )
    jobs = _gauge("wod_jobs", "Jobs by location, verb and state.", ["location", "verb", "state"])
    emails = _gauge("wod_outbox_emails", "Emails of the outbox by state.", ["state"])
    for location, seat_state, count in state.seats:
        seats.add_metric([location, seat_state], count)
    for workshop, registration_state, count in state.registrations:
        registrations.add_metric([workshop, registration_state], count)
    for location, verb, job_state, count in state.jobs:
        jobs.add_metric([location, verb, job_state], count)
    for email_state, count in state.emails:
        emails.add_metric([email_state], count)
    backlog = GaugeMetricFamily(
        "wod_outbox_backlog",
        "Emails not sent yet (pending or sending).",
        value=sum(n for s, n in state.emails if s in ("pending", "sending")),
    )
    oldest = GaugeMetricFamily(
        "wod_outbox_oldest_seconds",
        "Seconds the oldest email not sent yet has waited (0: none waits).",
        value=state.outbox_oldest,
    )
    return [seats, registrations, jobs, emails, backlog, oldest, *_location_families(state)]


def _location_families(state: State) -> Iterable[Metric]:
    contact = _gauge(
        "wod_location_last_contact_age_seconds",
        "Seconds since the location's agent last called the api (absent: it never did).",
        ["location"],
    )
    silent = _gauge(
        "wod_location_silent",
        "1 when the location is enabled and its agent silent (the admins were told).",
        ["location"],
    )
    waiting = _gauge(
        "wod_location_oldest_job_wait_seconds",
        "Seconds the location's oldest due job has waited for its agent (0: none waits).",
        ["location"],
    )
    info = _gauge(
        "wod_location_info",
        "The location's agent: its version and the content revision it holds.",
        ["location", "enabled", "agent_version", "content_revision"],
    )
    for loc in state.locations:
        if loc.last_contact_age is not None:
            contact.add_metric([loc.name], loc.last_contact_age)
        silent.add_metric([loc.name], 1.0 if loc.silent and loc.enabled else 0.0)
        waiting.add_metric([loc.name], loc.oldest_job_wait)
        labels = [str(loc.enabled).lower(), loc.agent_version or "", loc.content_revision or ""]
        info.add_metric([loc.name, *labels], 1.0)
    return [contact, silent, waiting, info]


class _Families:
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(state: State) -> bytes:
    """The text of ``GET /metrics``: the events (of this process, or added up over the
    workers of ``wod api --workers``) and the state."""
    events = EVENTS
    if os.environ.get(MULTIPROCESS_DIR):
        events = CollectorRegistry()
        multiprocess.MultiProcessCollector(events)  # type: ignore[no-untyped-call]
    state_text = generate_latest(_Families(state_families(state)))
    return generate_latest(events) + generate_latest(ABOUT) + state_text


# --------------------------------------------------------------------- the api's requests

#: The login page's refusals by status (wod.admin.login answers them so).
_LOGIN_REFUSALS = {401: "credentials", 429: "rate_limited", 403: "csrf"}
_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class HttpMetrics:
    """ASGI middleware: counts the answers by method, route template and status, and the
    refused logins of the console's login form at ``login`` (its path)."""

    def __init__(self, app: ASGIApp, login: str = "") -> None:
        self.app = app
        self.login = login

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        counted = False

        async def send_counted(message: Message) -> None:
            nonlocal counted
            if message["type"] == "http.response.start":
                self._count(scope, message["status"])  # before the caller has the answer
                counted = True
            await send(message)

        try:
            await self.app(scope, receive, send_counted)
        except BaseException:
            if not counted:
                self._count(scope, 500)
            raise

    def _count(self, scope: Scope, status: int) -> None:
        route = route_of(scope) or "(no route)"
        method = scope["method"] if scope["method"] in _METHODS else "other"
        HTTP_REQUESTS.labels(method, route, str(status)).inc()
        if route == self.login and method == "POST" and status in _LOGIN_REFUSALS:
            LOGIN_FAILURES.labels(_LOGIN_REFUSALS[status]).inc()
