"""A running api to fuzz: real uvicorn on a free loopback port, the sample content and a
location seeded, one participant registered (its seat prepared through the agent's routes, so
that it can be ended and extended), an admin token, and rate limits raised for the fuzzer.
The server counts the answers it sends; what each run did is printed at the end of the session."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import select
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tests.factories import seed
from tests.servers import ApiServer, serve
from wod.context import AppContext
from wod.db.models import Registration
from wod.domain.roles import Role
from wod.domain.secrets import manage_token
from wod.services.admin.tokens import create_token
from wod.settings import Settings
from wod.web.app import create_app
from wod.web.limits import server_options

WORKSHOP = "WKSHP-Python101"
LOCATION = "local"


@dataclass
class Figures:
    """What one fuzz run did, for the summary."""

    caller: str
    operations: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    seconds: float = 0.0
    #: The operations without a negative case (nothing in them to break that can be sent).
    unbroken: list[str] = field(default_factory=list)

    def line(self) -> str:
        classes = Counter(f"{status // 100}xx" for status in self.statuses.elements())
        spread = ", ".join(f"{n} {name}" for name, n in sorted(classes.items()))
        return (
            f"{self.caller}: {self.operations} operations, {self.statuses.total()} requests "
            f"({spread}), {self.seconds:.1f} s; no negative case for {len(self.unbroken)}"
        )


FIGURES = pytest.StashKey[list[Figures]]()


@dataclass
class Target:
    """The running api, the tokens of its callers, and values that name real things in it."""

    url: str
    tokens: dict[str, str]
    known: dict[str, int | str]
    #: The status of every answer the server sent since it started.
    answered: Counter[int] = field(default_factory=Counter)


class CountAnswers:
    """Counts the status of each answer the app sends, whoever asked (the fuzzer's checks send
    requests of their own)."""

    def __init__(self, app: ASGIApp, answered: Counter[int]) -> None:
        self.app = app
        self.answered = answered

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                self.answered[message["status"]] += 1
            await send(message)

        await self.app(scope, receive, counted)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Every request comes from one address, and generated addresses repeat: the limits are
    raised so that registrations get past them, and one address still meets its own."""
    settings.registration.rate_per_email = 20
    settings.registration.rate_per_ip = 1_000_000
    return settings


@pytest.fixture
def target(ctx: AppContext) -> Iterator[Target]:
    location_token = seed(ctx, location=LOCATION)
    admin_token = create_token(ctx, "fuzz", Role.admin)
    app = create_app(ctx, background=False)
    answered: Counter[int] = Counter()
    app.add_middleware(CountAnswers, answered=answered)
    with serve(app, **server_options(ctx.settings.api)) as server:
        registration, job, seat = _active_participant(server, location_token)
        with ctx.db.read() as session:
            nonce = session.scalars(
                select(Registration.manage_nonce).where(Registration.id == registration)
            ).one()
        secret = ctx.settings.secret_key.get_secret_value()
        yield Target(
            url=server.url,
            tokens={
                "participant": manage_token(secret, nonce),
                "admin": admin_token,
                "location": location_token,
            },
            known={
                "registration_id": registration,
                "job_id": job,
                "number": seat,
                "seat": seat,
                "slug": WORKSHOP,
                "workshop": WORKSHOP,
                "location": LOCATION,
            },
            answered=answered,
        )


def _active_participant(server: ApiServer, location_token: str) -> tuple[int, int, int]:
    """Register through the api, then claim and report the CREATE job as the agent does: the
    registration is active. Its id, its job's and its seat's number."""
    with httpx.Client(base_url=server.url) as client:
        answer = client.post(
            "/api/v1/registrations",
            json={
                "workshop": WORKSHOP,
                "email": "ada@example.org",
                "name": "Ada Lovelace",
                "company": "Analytical Engines",
                "accept_terms": True,
            },
        )
        assert answer.status_code == 201, answer.text
        registration = int(answer.json()["id"])
        agent = {"Authorization": f"Bearer {location_token}"}
        order = client.post("/api/v1/backend/jobs/claim", headers=agent)
        assert order.status_code == 200, order.text
        job, seat = int(order.json()["id"]), int(order.json()["seat"]["number"])
        assert order.json()["registration"] == registration
        report = {"ok": True, "log": "prepared", "password": "correct-horse-battery"}
        done = client.post(f"/api/v1/backend/jobs/{job}/report", headers=agent, json=report)
        assert done.json() == {"id": job, "state": "done"}, done.text
    return registration, job, seat


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> list[Figures]:
    return request.config.stash.setdefault(FIGURES, [])


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    runs = config.stash.get(FIGURES, [])
    if runs:
        terminalreporter.section("api fuzzing")
        for run in runs:
            terminalreporter.line(run.line())
