"""The real parts the fault tests break: ``wod api`` child processes, an SMTP relay that can go
down, the backend agent (the real agent code, a fake JupyterHub) in a thread, clients that
register in parallel, and the invariants every fault test checks once the platform settled."""

from __future__ import annotations

import email
import email.policy
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from tests.conftest import ROOT
from tests.e2e.conftest import wait_for
from tests.factories import make_workshop, seed
from wod.backend.agent import Agent, build_agent
from wod.context import AppContext, build_context
from wod.db.models import Email, Job, Registration, Seat
from wod.db.session import unavailable
from wod.domain.states import SEAT_HOLDING, EmailState, JobState, RegistrationState, SeatState
from wod.hub.client import FakeHub
from wod.ports import free_port
from wod.settings import Settings

#: Seconds a fault test waits for the platform to settle: generous, for a loaded 2-core machine.
SETTLE = 300.0
#: Lines that must never reach a log or an answer.
LOCKED = "database is locked"


class _Inbox:
    def __init__(self, relay: Relay) -> None:
        self.relay = relay

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.relay.refusing:
            return "451 4.3.0 Try again later"
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        with self.relay.lock:
            self.relay.messages.append(message)
        return "250 OK"


class Relay:
    """An SMTP relay on a free loopback port that keeps what it received; it can go down
    (``stop``: nothing listens on its port), come back on the same port (``start``), or answer
    every message with a temporary error while ``refusing``."""

    def __init__(self) -> None:
        self.port = free_port()  # aiosmtpd cannot take port 0 (FIELD-NOTES)
        self.refusing = False
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(_Inbox(self), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


class ApiProcess:
    """One ``wod api`` child process (api, scheduler and outbox) on a port of its own; its output
    goes to ``api-NAME.log`` in the test's folder, across restarts. With ``command`` another
    ``wod`` command (``worker``), on no port."""

    def __init__(
        self,
        env: dict[str, str],
        folder: Path,
        name: str,
        args: tuple[str, ...] = (),
        command: str = "api",
    ) -> None:
        self.env = env
        self.args = args
        self.command = command
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / f"api-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> ApiProcess:
        env = {**self.env, "WOD_API__PORT": str(self.port)}
        port = ["--port", str(self.port)] if self.command == "api" else []
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wod", self.command, *port, *self.args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=ROOT,
            )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self) -> None:
        def ready() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log_text()
            try:
                return httpx.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 120, f"the api on port {self.port} to answer")

    def kill(self) -> None:
        """A power cut of this process: SIGKILL, nothing flushed, nothing closed."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Platform:
    """A database with workshops and one location, an SMTP relay, and the environment of the
    ``wod api`` processes; ``ctx`` is the test's own view of the database (a real clock)."""

    folder: Path
    settings: Settings
    ctx: AppContext
    token: str
    relay: Relay
    env: dict[str, str]
    workshops: list[str]
    apis: list[ApiProcess] = field(default_factory=list)

    def api(self, name: str = "main", *args: str, command: str = "api", **extra: str) -> ApiProcess:
        process = ApiProcess({**self.env, **extra}, self.folder, name, args, command)
        self.apis.append(process)
        return process

    def logs(self) -> str:
        return "\n".join(api.log_text() for api in self.apis)


def api_environment(settings: Settings, relay: Relay) -> dict[str, str]:
    """What a ``wod api`` of the platform is told: its database, content, relay, fast loops."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(
        {
            "WOD_DATABASE_URL": settings.resolved_database_url,
            "WOD_DATA_DIR": str(settings.data_dir),
            "WOD_CONTENT__PATHS": f'["{settings.content.paths[0]}"]',
            "WOD_SMTP__HOST": "127.0.0.1",
            "WOD_SMTP__PORT": str(relay.port),
            "WOD_SMTP__TIMEOUT": "5",
            "WOD_SCHEDULER__INTERVAL": "0.2",
            "WOD_OUTBOX__INTERVAL": "0.2",
            "WOD_OUTBOX__BACKOFF": "0.5",
            "WOD_OUTBOX__ATTEMPTS": "20",
            # a killed process's leases run out in seconds, not minutes (smtp.timeout is 5)
            "WOD_OUTBOX__SEND_LEASE": "15",
            # each registration's two emails (welcome, credentials), as the checks count them
            "WOD_OUTBOX__COMBINE_WITHIN": "0",
            "WOD_SCHEDULER__JOB_LEASE": "10",
            "WOD_API__CATALOGUE_TTL": "0",
            # every client of these tests comes from 127.0.0.1
            "WOD_REGISTRATION__RATE_PER_IP": "100000",
            "WOD_REGISTRATION__LIVE_PER_ADDRESS": "0",
            "WOD_LOG_LEVEL": "INFO",
        }
    )
    return env


@contextmanager
def platform(
    folder: Path, database_url: str, *, workshops: int = 2, seats: int = 40
) -> Iterator[Platform]:
    """``workshops`` workshops of ``seats`` seats on one location; stops what it started."""
    content = folder / "content"
    slugs = [f"WKSHP-Fault{n}" for n in range(workshops)]
    for n, slug in enumerate(slugs):
        make_workshop(content, slug, (n * seats + 1, (n + 1) * seats))
    settings = Settings(
        database_url=database_url,
        data_dir=folder / "data",
        content={"paths": [content]},
        backend={
            "students_dir": folder / "students",
            "credentials_dir": folder / "credentials",
            "content_cache": folder / "content-cache",
            "poll_interval": 0.05,
            "workers": 4,
            "heartbeat_interval": 1.0,
        },
        hub={"dir": folder / "hub"},
    )
    ctx = build_context(settings)
    token = seed(ctx, seats=(1, workshops * seats))
    relay = Relay()
    relay.start()
    built = Platform(folder, settings, ctx, token, relay, api_environment(settings, relay), slugs)
    try:
        yield built
    finally:
        for api in built.apis:
            api.stop()
        relay.stop()
        ctx.close()


@contextmanager
def running_agent(built: Platform, api_url: str) -> Iterator[Agent]:
    """The location's agent (its real code; the JupyterHub is a fake) calling ``api_url``."""
    backend = built.settings.backend.model_copy(
        update={"token": SecretStr(built.token), "api_url": api_url}
    )
    agent = build_agent(built.settings.model_copy(update={"backend": backend}), hub=FakeHub())
    thread = threading.Thread(target=agent.run, name="fault-agent", daemon=True)
    thread.start()
    try:
        yield agent
    finally:
        agent.stop()
        thread.join(60)


@dataclass
class Burst:
    """What the clients of a burst were answered: the registrations answered 201 (id → email),
    every status, and the answers that must never be (5xx bodies)."""

    created: dict[int, str] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    retries: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def body(workshop: str, address: str) -> dict[str, Any]:
    return {
        "workshop": workshop,
        "email": address,
        "name": "Fault Tester",
        "company": "Faults",
        "accept_terms": True,
    }


#: Answers a participant meets when a process or the database is down: pressed again later.
RETRIED = (502, 503, 504)


def register_one(
    http: httpx.Client, burst: Burst, workshop: str, address: str, *, retry_for: float = 0
) -> None:
    """POST one registration; with ``retry_for``, a cut connection or a 502/503/504 is tried
    again (as a participant presses the button again) until that many seconds have passed."""
    deadline = time.monotonic() + retry_for
    while True:
        try:
            answer = http.post("/api/v1/registrations", json=body(workshop, address))
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            with burst.lock:
                burst.retries += 1
            time.sleep(0.2)
            continue
        with burst.lock:
            burst.statuses[answer.status_code] += 1
            if answer.status_code == 201:
                burst.created[answer.json()["id"]] = address
            elif answer.status_code >= 500 and answer.status_code not in RETRIED:
                burst.errors.append(f"{answer.status_code} {answer.text}")
        if answer.status_code in RETRIED and time.monotonic() < deadline:
            with burst.lock:
                burst.retries += 1
            time.sleep(float(answer.headers.get("Retry-After", "0.5")))
            continue
        return


class KillAfter:
    """Kills ``process`` (SIGKILL) once ``count`` registrations of ``burst`` were answered 201;
    the clients call it after each answer, so the kill comes while other requests are in
    flight. ``done`` is set when it fired."""

    def __init__(self, burst: Burst, count: int, process: ApiProcess) -> None:
        self.burst = burst
        self.count = count
        self.process = process
        self.done = threading.Event()

    def __call__(self) -> None:
        with self.burst.lock:
            due = len(self.burst.created) >= self.count and not self.done.is_set()
            if due:
                self.done.set()
        if due:
            self.process.kill()


def settled(ctx: AppContext, created: dict[int, str]) -> bool:
    """Every registration answered 201 is active and its two emails are sent (not yet while
    the test's own connection meets the database away, as the api's do)."""
    try:
        return _settled(ctx, created)
    except DBAPIError as exc:
        if unavailable(exc):
            return False
        raise


def _settled(ctx: AppContext, created: dict[int, str]) -> bool:
    with ctx.db.read() as s:
        active = s.scalar(
            select(Registration.id)
            .where(Registration.id.in_(created), Registration.state != RegistrationState.active)
            .limit(1)
        )
        unsent = s.scalar(
            select(Email.id)
            .where(Email.registration_id.in_(created), Email.state != EmailState.sent)
            .limit(1)
        )
        sent = s.scalars(select(Email.registration_id).where(Email.state == EmailState.sent))
        counts = Counter(sent)
    return active is None and unsent is None and all(counts[rid] >= 2 for rid in created)


def wait_settled(ctx: AppContext, created: dict[int, str], timeout: float = SETTLE) -> None:
    wait_for(lambda: settled(ctx, created), timeout, f"{len(created)} registrations to settle")


def check_invariants(
    ctx: AppContext, created: dict[int, str], relay: Relay, *, crashes: int = 0
) -> None:
    """After the platform settled: each registration answered 201 has its row, its seat (held
    by it alone), its CREATE job done, its welcome and credentials emails queued once and sent;
    no seat is held by nobody; the relay received each email once. A process killed between
    the relay's "250 OK" and the record of it sends that email again with its Message-ID (the
    documented at-least-once): ``crashes`` kills allow as many such copies, never a new id."""
    with ctx.db.read() as s:
        rows = {r.id: r for r in s.scalars(select(Registration))}
        seats = list(s.scalars(select(Seat)))
        jobs = list(s.scalars(select(Job)))
        emails = list(s.scalars(select(Email)))
    for rid, address in created.items():
        row = rows.get(rid)
        assert row is not None, f"registration {rid} answered 201 has no row"
        assert row.email == address and row.state is RegistrationState.active, (rid, row.state)
        creates = [j for j in jobs if j.registration_id == rid and j.verb.value == "CREATE"]
        assert [j.state for j in creates] == [JobState.done], (rid, creates)
        kinds = Counter(e.kind for e in emails if e.registration_id == rid)
        assert kinds["welcome"] == 1 and kinds["credentials"] == 1, (rid, kinds)
    holders = Counter(r.seat_id for r in rows.values() if r.state in SEAT_HOLDING)
    assert all(n == 1 for n in holders.values()), f"seats held twice: {holders}"
    busy = {j.seat_id for j in jobs if j.state in (JobState.queued, JobState.running)}
    for seat in seats:
        if seat.state is not SeatState.free:
            assert seat.id in holders or seat.id in busy, f"seat {seat.number} held by nobody"
    sent = [e for e in emails if e.state is EmailState.sent]
    assert all(e.message_id for e in sent)
    ids = relay.message_ids()
    twice = {m: n for m, n in ids.items() if n > 1}
    assert sum(n - 1 for n in twice.values()) <= crashes, f"emails received twice: {twice}"
    assert set(ids) == {e.message_id for e in sent}, "the relay and the outbox disagree"


class PgServer:
    """A throwaway PostgreSQL server of the test's own (``scripts/pg``) that can be stopped and
    started again on the same port and data, as a restart or a failover does."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.url = ""

    def start(self) -> str:
        self.url = subprocess.run(
            [str(ROOT / "scripts" / "pg"), "start", str(self.folder)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        return self.url

    def _ctl(self, *args: str) -> None:
        binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)
        command = [str(binaries[-1] / "pg_ctl"), "-D", str(self.folder / "data"), *args]
        if os.geteuid() == 0:  # the server runs as postgres (scripts/pg)
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def down(self) -> None:
        """Stop the server (fast: its sessions are cut, as in a restart)."""
        self._ctl("-m", "fast", "-w", "-t", "60", "stop")

    def up(self) -> None:
        """Start it again with the options of its first start (kept by PostgreSQL)."""
        self._ctl("-w", "-t", "60", "-l", str(self.folder / "server.log"), "restart")

    def remove(self) -> None:
        subprocess.run([str(ROOT / "scripts" / "pg"), "stop", str(self.folder)], check=False)
