"""The JupyterHub down for 2 minutes while CREATEs and CLEANUPs are due. The api (uvicorn) and
the agent's code are real; the hub is the fake that stands in for it in fast tests, made to
refuse every call while it is down; the api's clock is injected, so the 2 minutes and the job
retries' delays pass on it, not in real time. Afterwards every registration is active (or has
ended), every seat is free or held by its registration, and the emails went once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from tests.factories import seed
from tests.servers import ApiServer, serve
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import HubUnavailable
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.scheduler.loop import run_pass
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.manage import end_now
from wod.web.app import create_app

pytestmark = pytest.mark.faults

OUTAGE = timedelta(minutes=2)
STEP = timedelta(seconds=5)
PEOPLE = 4


class DownableHub(FakeHub):
    """The fake hub; while ``down``, every call fails as a refused connection does."""

    down = False

    def _call(self) -> None:
        if self.down:
            raise HubUnavailable("hub POST /users: connection refused")

    def ensure_user(self, username: str) -> None:
        self._call()
        super().ensure_user(username)

    def start_server(self, username: str) -> None:
        self._call()
        super().start_server(username)

    def stop_server(self, username: str) -> None:
        self._call()
        super().stop_server(username)

    def delete_user(self, username: str) -> None:
        self._call()
        super().delete_user(username)


@pytest.fixture
def hub() -> DownableHub:
    return DownableHub()


@pytest.fixture
def agent(ctx: AppContext, hub: DownableHub) -> Iterator[Agent]:
    token = seed(ctx)
    server: ApiServer
    with serve(create_app(ctx, background=False)) as server:
        verbs = Verbs(
            ctx.settings,
            ctx.content,
            LocalSeatFiles(ctx.settings.backend.students_dir),
            hub,
            HubAccounts(MemoryCredentialStore()),
        )
        client = ApiClient(server.url, token)
        yield Agent(client, verbs, poll_interval=0.01, workers=1)
        client.close()


def tick(ctx: AppContext, agent: Agent, clock: FakeClock) -> None:
    """What the platform does in one step: the agent runs what it may claim, the scheduler and
    the outbox pass, then time moves on."""
    while agent.run_once():
        pass
    run_pass(ctx)
    outbox.send_due(ctx)
    clock.advance(STEP)


def states(ctx: AppContext) -> Counter[RegistrationState]:
    with ctx.db.read() as s:
        return Counter(s.scalars(select(Registration.state)))


def people(ctx: AppContext) -> list[int]:
    return [
        register(
            ctx, RegistrationRequest("WKSHP-Python101", f"p{n}@example.org", "P", "C", True)
        ).id
        for n in range(PEOPLE)
    ]


def outage(ctx: AppContext, agent: Agent, clock: FakeClock, hub: DownableHub) -> None:
    hub.down = True
    back = clock.now() + OUTAGE
    while clock.now() < back:
        tick(ctx, agent, clock)
    hub.down = False


def settle(ctx: AppContext, agent: Agent, clock: FakeClock, done: RegistrationState) -> None:
    deadline = clock.now() + timedelta(minutes=10)
    while states(ctx) != {done: PEOPLE} and clock.now() < deadline:
        assert RegistrationState.failed not in states(ctx), states(ctx)  # for good
        tick(ctx, agent, clock)
    assert states(ctx) == {done: PEOPLE}


def check(ctx: AppContext) -> None:
    with ctx.db.read() as s:
        holders = {r.seat_id for r in s.scalars(select(Registration)) if r.state.value == "active"}
        for seat in s.scalars(select(Seat)):
            assert seat.state is SeatState.free or seat.id in holders, (seat.number, seat.state)
        kinds = Counter((e.registration_id, e.kind) for e in s.scalars(select(Email)))
    assert all(n == 1 for n in kinds.values()), kinds


def test_creates_wait_for_a_hub_down_for_two_minutes(
    ctx: AppContext, agent: Agent, clock: FakeClock, hub: DownableHub
) -> None:
    hub.down = True
    people(ctx)
    outage(ctx, agent, clock, hub)
    settle(ctx, agent, clock, RegistrationState.active)
    check(ctx)


def test_cleanups_wait_for_a_hub_down_for_two_minutes(
    ctx: AppContext, agent: Agent, clock: FakeClock, hub: DownableHub
) -> None:
    ids = people(ctx)
    settle(ctx, agent, clock, RegistrationState.active)
    for rid in ids:
        end_now(ctx, rid, by_admin=True)
    outage(ctx, agent, clock, hub)
    settle(ctx, agent, clock, RegistrationState.ended)
    check(ctx)


def test_a_hub_that_stays_down_fails_the_cleanup_after_the_patience(
    ctx: AppContext,
    agent: Agent,
    clock: FakeClock,
    hub: DownableHub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The patience is bounded: past ``scheduler.hub_outage_patience`` the attempts count
    again, the CLEANUP fails for good, the seat is broken and the admins are told."""
    (rid,) = people(ctx)[:1]
    while states(ctx)[RegistrationState.active] < PEOPLE:
        tick(ctx, agent, clock)
    hub.down = True
    end_now(ctx, rid, by_admin=True)
    patience = ctx.settings.scheduler.hub_outage_patience
    deadline = clock.now() + patience + timedelta(minutes=5)
    while states(ctx)[RegistrationState.ended] < 1 and clock.now() < deadline:
        tick(ctx, agent, clock)
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None and row.state is RegistrationState.ended
        seat = s.get(Seat, row.seat_id)
        assert seat is not None and seat.state is SeatState.broken
        (job,) = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP))
        assert job.state is JobState.failed
        assert job.log.count("found the hub unavailable") >= 3  # waited, then counted
    assert "is broken" in caplog.text  # no alerts.recipients here: the alert is logged
    assert clock.now() - job.created_at >= patience
