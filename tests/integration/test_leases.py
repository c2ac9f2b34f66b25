"""A dead agent no longer costs the participant the registration: leases are short and renewed
by the heartbeat while the job runs; an agent that restarted gets its old process's jobs again
at once; a report that comes late is reconciled, never lost. Through the agent's real routes,
time injected."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from tests.e2e.conftest import wait_for
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.context import AppContext
from wod.db.models import Email, Job, Registration
from wod.domain.clock import FakeClock
from wod.domain.states import JobState, RegistrationState
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.timers import expire_leases
from wod.wire import HeartbeatIn, JobOrder, JobReport

PASSWORD = "a-seat-password-1"


@pytest.fixture
def client(server: ApiServer, token: str) -> Iterator[ApiClient]:
    api = ApiClient(server.url, token)
    yield api
    api.close()


def registration(ctx: AppContext) -> int:
    request = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Acme", True)
    return register(ctx, request).id


def job_of(ctx: AppContext, job_id: int) -> Job:
    with ctx.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None
        return job


def registration_state(ctx: AppContext, registration_id: int) -> RegistrationState:
    with ctx.db.read() as s:
        row = s.get(Registration, registration_id)
        assert row is not None
        return row.state


def claimed(client: ApiClient) -> JobOrder:
    order = client.claim()
    assert order is not None
    return order


def lease(ctx: AppContext) -> timedelta:
    return timedelta(seconds=ctx.settings.scheduler.job_lease)


def test_leases_are_much_shorter_than_the_provision_timeout(ctx: AppContext) -> None:
    assert lease(ctx) * 5 <= ctx.settings.registration.provision_timeout
    assert ctx.settings.backend.heartbeat_interval * 3 <= ctx.settings.scheduler.job_lease


def test_the_heartbeat_renews_the_lease_of_a_running_job(
    ctx: AppContext, client: ApiClient, clock: FakeClock
) -> None:
    registration(ctx)
    client.heartbeat(HeartbeatIn(boot="one"))
    order = claimed(client)
    for _ in range(5):  # five leases long, renewed in time
        clock.advance(lease(ctx) - timedelta(seconds=10))
        client.heartbeat(HeartbeatIn(running=[order.id], boot="one"))
        assert expire_leases(ctx) == 0
    assert job_of(ctx, order.id).state is JobState.running
    clock.advance(lease(ctx) + timedelta(seconds=1))  # no heartbeat: the agent is gone
    assert expire_leases(ctx) == 1
    assert job_of(ctx, order.id).state is JobState.queued


def test_a_heartbeat_renews_only_the_jobs_it_names(
    ctx: AppContext, client: ApiClient, clock: FakeClock
) -> None:
    registration(ctx)
    client.heartbeat(HeartbeatIn(boot="one"))  # an agent beats before it claims
    order = claimed(client)
    client.heartbeat(HeartbeatIn(running=[order.id + 1000], boot="one"))  # not this job
    clock.advance(lease(ctx) + timedelta(seconds=1))
    assert expire_leases(ctx) == 1


def test_a_restarted_agent_gets_the_jobs_of_its_old_process_at_once(
    ctx: AppContext, client: ApiClient, clock: FakeClock
) -> None:
    registration_id = registration(ctx)
    client.heartbeat(HeartbeatIn(boot="before"))
    order = claimed(client)
    assert registration_state(ctx, registration_id) is RegistrationState.provisioning
    client.heartbeat(HeartbeatIn(running=[order.id], boot="before"))
    assert job_of(ctx, order.id).state is JobState.running  # same process: nothing given back

    client.heartbeat(HeartbeatIn(boot="after"))  # killed and started again, no clock moved
    job = job_of(ctx, order.id)
    assert job.state is JobState.queued and job.error == "the agent restarted while running it"
    assert registration_state(ctx, registration_id) is RegistrationState.provisioning
    again = claimed(client)  # at once: the job did not fail, its agent did
    assert (again.id, again.attempt) == (order.id, 2)
    client.report(again.id, JobReport(ok=True, password=PASSWORD, attempt=2))
    assert registration_state(ctx, registration_id) is RegistrationState.active


def test_the_first_agent_that_names_itself_releases_what_an_older_one_ran(
    ctx: AppContext, client: ApiClient
) -> None:
    registration(ctx)
    order = claimed(client)  # claimed by an agent that sent no heartbeat
    client.heartbeat(HeartbeatIn(boot="new"))
    assert job_of(ctx, order.id).state is JobState.queued


def test_a_late_report_of_a_job_waiting_for_its_retry_completes_it(
    ctx: AppContext, client: ApiClient, clock: FakeClock
) -> None:
    registration_id = registration(ctx)
    order = claimed(client)
    clock.advance(lease(ctx) + timedelta(seconds=1))
    assert expire_leases(ctx) == 1  # the api lost the report, or the agent was slow to send
    client.report(order.id, JobReport(ok=True, password=PASSWORD, attempt=1, log="made"))
    job = job_of(ctx, order.id)
    assert job.state is JobState.done
    assert "late report of attempt 1" in job.log and "completes the job" in job.log
    assert registration_state(ctx, registration_id) is RegistrationState.active
    with ctx.db.read() as s:
        kinds = list(s.scalars(select(Email.kind).where(Email.registration_id == registration_id)))
    assert kinds == ["welcome", "credentials"]
    assert client.claim() is None  # nothing left to run


def test_a_late_report_of_an_attempt_run_again_is_kept_as_history(
    ctx: AppContext, client: ApiClient, clock: FakeClock
) -> None:
    registration_id = registration(ctx)
    first = claimed(client)
    clock.advance(lease(ctx) + timedelta(seconds=1))
    expire_leases(ctx)
    clock.advance(timedelta(seconds=5))
    second = claimed(client)
    assert second.attempt == 2
    client.report(first.id, JobReport(ok=True, password=PASSWORD, attempt=1))  # late
    job = job_of(ctx, first.id)
    assert job.state is JobState.running and "late report of attempt 1" in job.log
    assert registration_state(ctx, registration_id) is RegistrationState.provisioning
    client.report(second.id, JobReport(ok=True, password=PASSWORD + "2", attempt=2))
    assert job_of(ctx, first.id).state is JobState.done
    assert registration_state(ctx, registration_id) is RegistrationState.active


def renewed_until(ctx: AppContext, job_id: int, until: datetime) -> bool:
    return job_of(ctx, job_id).lease_until == until


class _SlowHub(FakeHub):
    """A hub whose first user creation waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.go = threading.Event()

    def ensure_user(self, username: str) -> None:
        self.entered.set()
        assert self.go.wait(60), "the test never let the CREATE go"
        super().ensure_user(username)


def test_the_agents_heartbeat_keeps_a_long_job_alive(
    ctx: AppContext, server: ApiServer, token: str, clock: FakeClock
) -> None:
    registration_id = registration(ctx)
    hub = _SlowHub()
    verbs = Verbs(
        ctx.settings,
        ctx.content,
        LocalSeatFiles(ctx.settings.backend.students_dir),
        hub,
        HubAccounts(MemoryCredentialStore()),
    )
    agent = Agent(
        ApiClient(server.url, token), verbs, poll_interval=0.01, workers=1, heartbeat_interval=0.01
    )
    thread = threading.Thread(target=agent.run, daemon=True)
    thread.start()
    try:
        assert hub.entered.wait(30), "the agent did not start the CREATE"
        (job_id,) = agent.running.ids()
        for _ in range(4):  # four leases pass while the CREATE runs
            clock.advance(lease(ctx) - timedelta(seconds=1))
            wait_for(lambda: renewed_until(ctx, job_id, clock.now() + lease(ctx)), 30, "renewal")
            assert expire_leases(ctx) == 0
        hub.go.set()
        wait_for(lambda: job_of(ctx, job_id).state is JobState.done, 30, "the report")
        assert registration_state(ctx, registration_id) is RegistrationState.active
        assert agent.running.ids() == []
    finally:
        hub.go.set()
        agent.stop()
        thread.join(30)
