"""Warm seats against the real api over HTTP with the real agent code (the hub is a fake): a
pool fills in the background, a registration takes a warm seat and is active at once, the
pool refills, shrinks, is rebuilt when the content changes, never hands out a password anyone
held before, and an agent that dies while it builds leaves no half-built seat in service."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from tests.mail import part_text
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.context import AppContext
from wod.db.models import ContentRevision, Email, Job, Registration, Seat, Workshop
from wod.domain.clock import FakeClock
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import WorkshopFull
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services import provisioning
from wod.services.catalogue.read import catalogue
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.manage import end_now

SLUG = "WKSHP-Python101"  # seats 1-10, capacity 10, 2 hours


def person(n: int) -> RegistrationRequest:
    return RegistrationRequest(SLUG, f"p{n}@example.org", f"P {n}", "C", True)


@pytest.fixture
def lazy_agent(
    ctx: AppContext, server: ApiServer, token: str, hub: FakeHub, credentials: MemoryCredentialStore
) -> Iterator[Agent]:
    """An agent that starts no server at CREATE unless the job asks for it."""
    settings = ctx.settings.model_copy(
        update={"backend": ctx.settings.backend.model_copy(update={"prespawn": False})}
    )
    verbs = Verbs(
        settings,
        ctx.content,
        LocalSeatFiles(settings.backend.students_dir),
        hub,
        HubAccounts(credentials),
    )
    client = ApiClient(server.url, token)
    yield Agent(client, verbs, poll_interval=0.01, workers=1)
    client.close()


def set_pool(ctx: AppContext, warm: int, **values: object) -> None:
    with ctx.db.write() as s:
        s.execute(update(Workshop).where(Workshop.slug == SLUG).values(warm=warm, **values))


def seats(ctx: AppContext, state: SeatState) -> list[str]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Seat.username).where(Seat.state == state).order_by(Seat.id)))


def run_all(agent: Agent) -> int:
    done = 0
    while agent.run_once():
        done += 1
    return done


def test_a_registration_takes_a_warm_seat_and_is_active_at_once(
    ctx: AppContext,
    lazy_agent: Agent,
    hub: FakeHub,
    credentials: MemoryCredentialStore,
    mailer: MemoryMailer,
) -> None:
    set_pool(ctx, 2)
    assert provisioning.fill_pools(ctx) == 2
    assert seats(ctx, SeatState.warming) == ["student1", "student2"]
    assert provisioning.fill_pools(ctx) == 0  # being built: nothing more to queue
    assert catalogue(ctx)[0].seats_left == 10  # a pool is part of the seats, not taken
    assert run_all(lazy_agent) == 2
    assert seats(ctx, SeatState.warm) == ["student1", "student2"]
    # their servers run before anyone logs in (this agent starts none of its own accord)
    assert {("start_server", "student1"), ("start_server", "student2")} <= set(hub.calls)
    notebook = ctx.settings.backend.students_dir / "student1" / SLUG / "0-ReadMeFirst.ipynb"
    assert "student1" in json.dumps(json.loads(notebook.read_text()))

    rid = register(ctx, person(1)).id
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None and row.state is RegistrationState.active
        assert row.ends_at == ctx.clock.now() + timedelta(hours=2)
        assert s.scalar(select(Seat.state).where(Seat.id == row.seat_id)) is SeatState.ready
        kinds = list(s.scalars(select(Email.kind).where(Email.registration_id == rid)))
        assert kinds == ["credentials"]  # nothing to wait for: no welcome email
        assert s.scalar(select(Job.id).where(Job.registration_id == rid)) is None
    assert outbox.send_due(ctx) == 1
    text = part_text(mailer.sent[0], "plain")
    password = text.split("Password:")[1].split()[0]
    assert credentials.verify("student1", password)

    assert provisioning.fill_pools(ctx) == 1  # refilled with the next free seat
    assert seats(ctx, SeatState.warming) == ["student3"]


def test_a_pool_seat_gets_a_password_nobody_held(
    ctx: AppContext, lazy_agent: Agent, credentials: MemoryCredentialStore, mailer: MemoryMailer
) -> None:
    set_pool(ctx, 1, seat_max=1, capacity=1)  # one seat: the pool is rebuilt on it
    provisioning.fill_pools(ctx)
    run_all(lazy_agent)
    first = register(ctx, person(1))
    outbox.send_due(ctx)
    old = part_text(mailer.sent[-1], "plain").split("Password:")[1].split()[0]
    end_now(ctx, first.id, by_admin=False)
    run_all(lazy_agent)  # CLEANUP
    assert "student1" in seats(ctx, SeatState.free)
    assert provisioning.fill_pools(ctx) == 1
    run_all(lazy_agent)
    assert seats(ctx, SeatState.warm) == ["student1"]
    assert not credentials.verify("student1", old)
    register(ctx, person(2))
    outbox.send_due(ctx)
    new = part_text(mailer.sent[-1], "plain").split("Password:")[1].split()[0]
    assert new != old and credentials.verify("student1", new)


def test_a_registration_while_the_pool_builds_takes_the_seat_being_built(
    ctx: AppContext, lazy_agent: Agent
) -> None:
    set_pool(ctx, 1, seat_max=1, capacity=1)
    provisioning.fill_pools(ctx)
    rid = register(ctx, person(1)).id  # no warm seat yet, no free one: the one being built
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None and row.state is RegistrationState.queued
        job = s.scalar(select(Job).where(Job.verb == Verb.CREATE))
        assert job is not None and job.registration_id == rid
    assert run_all(lazy_agent) == 1
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None and row.state is RegistrationState.active
        kinds = sorted(s.scalars(select(Email.kind).where(Email.registration_id == rid)))
        assert kinds == ["credentials", "welcome"]
    assert seats(ctx, SeatState.ready) == ["student1"]
    assert provisioning.fill_pools(ctx) == 0  # the capacity is used: no pool
    with pytest.raises(WorkshopFull):
        register(ctx, person(2))


def test_a_smaller_pool_and_a_closed_workshop_drop_warm_seats(
    ctx: AppContext, lazy_agent: Agent
) -> None:
    set_pool(ctx, 3)
    provisioning.fill_pools(ctx)
    run_all(lazy_agent)
    set_pool(ctx, 1)
    assert provisioning.fill_pools(ctx) == 2
    assert seats(ctx, SeatState.warm) == ["student1"]  # the lowest stays
    run_all(lazy_agent)  # the PURGEs
    assert {"student2", "student3"} <= set(seats(ctx, SeatState.free))
    set_pool(ctx, 1, active=False)
    assert provisioning.fill_pools(ctx) == 1
    run_all(lazy_agent)
    assert seats(ctx, SeatState.warm) == [] and seats(ctx, SeatState.warming) == []


def test_a_new_content_revision_rebuilds_the_pool(ctx: AppContext, lazy_agent: Agent) -> None:
    set_pool(ctx, 2)
    provisioning.fill_pools(ctx)
    run_all(lazy_agent)
    with ctx.db.write() as s:
        revision = ContentRevision(
            digest="f" * 64, layers=[], created_at=ctx.clock.now(), applied_at=ctx.clock.now()
        )
        s.add(revision)
        s.flush()
        new_id = revision.id
    # the warm seats of the old content are dropped, and new ones queued on the next seats
    assert provisioning.fill_pools(ctx) == 4
    with ctx.db.read() as s:
        pooled = s.execute(
            select(Seat.username, Seat.state, Seat.warm_revision_id)
            .where(Seat.state.in_((SeatState.warm, SeatState.warming, SeatState.cleaning)))
            .order_by(Seat.number)
        ).all()
    assert pooled == [
        ("student1", SeatState.cleaning, None),
        ("student2", SeatState.cleaning, None),
        ("student3", SeatState.warming, new_id),
        ("student4", SeatState.warming, new_id),
    ]
    # a registration meanwhile never gets a seat of the old content, nor waits for it
    rid = register(ctx, person(1)).id
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None and row.content_revision_id == new_id
        assert row.state is RegistrationState.queued


def test_an_agent_dying_mid_build_leaves_no_half_built_seat_in_service(
    ctx: AppContext, server: ApiServer, token: str, lazy_agent: Agent, clock: FakeClock
) -> None:
    set_pool(ctx, 1)
    provisioning.fill_pools(ctx)
    dying = ApiClient(server.url, token)
    order = dying.claim()  # the agent takes the CREATE and dies before it reports
    dying.close()
    assert order is not None and order.start_server and order.registration is None
    assert seats(ctx, SeatState.warming) == ["student1"]
    assert catalogue(ctx)[0].seats_left == 10
    # a registration meanwhile is queued on the seat being built, or on a free one: never
    # on a seat that nobody finished
    clock.advance(timedelta(seconds=ctx.settings.scheduler.job_lease + 1))
    run_pass(ctx)  # the lease runs out: the CREATE is given again, after its retry delay
    clock.advance(timedelta(minutes=1))
    assert seats(ctx, SeatState.warm) == []
    assert run_all(lazy_agent) == 1
    assert seats(ctx, SeatState.warm) == ["student1"]
    with ctx.db.read() as s:
        job = s.scalar(select(Job).where(Job.verb == Verb.CREATE))
        assert job is not None and job.state is JobState.done and job.attempts == 2


def test_a_pool_build_that_fails_for_good_frees_its_seat(
    ctx: AppContext, server: ApiServer, token: str, lazy_agent: Agent, clock: FakeClock
) -> None:
    set_pool(ctx, 1)
    provisioning.fill_pools(ctx)
    for _ in range(ctx.settings.scheduler.job_attempts):
        dying = ApiClient(server.url, token)
        assert dying.claim() is not None
        dying.close()
        clock.advance(timedelta(seconds=ctx.settings.scheduler.job_lease + 1))
        run_pass(ctx)
        clock.advance(timedelta(minutes=1))
        if seats(ctx, SeatState.cleaning):
            break
    assert seats(ctx, SeatState.warm) == [] and seats(ctx, SeatState.cleaning) == ["student1"]
    with ctx.db.read() as s:
        assert s.scalar(select(Seat.warm_workshop_id).where(Seat.username == "student1")) is None
    run_all(lazy_agent)  # the PURGE, then a new build on the first free seat
    assert "student1" not in seats(ctx, SeatState.cleaning)


def test_parallel_registrations_share_no_warm_seat(ctx: AppContext, lazy_agent: Agent) -> None:
    set_pool(ctx, 3)
    provisioning.fill_pools(ctx)
    run_all(lazy_agent)
    with ThreadPoolExecutor(8) as pool:
        rows = list(pool.map(lambda n: register(ctx, person(n)), range(8)))
    with ctx.db.read() as s:
        got = s.execute(
            select(Registration.seat_id, Registration.state).where(
                Registration.id.in_([r.id for r in rows])
            )
        ).all()
    assert len({seat for seat, _ in got}) == 8
    assert sorted(state for _, state in got).count(RegistrationState.active) == 3


def test_pool_seats_are_counted_once_in_the_seats_left(ctx: AppContext, lazy_agent: Agent) -> None:
    set_pool(ctx, 2, capacity=3)
    provisioning.fill_pools(ctx)
    run_all(lazy_agent)
    assert catalogue(ctx)[0].seats_left == 3
    register(ctx, person(1))
    register(ctx, person(2))
    # capacity 3, two live (on the warm seats): a pool of the one seat left
    assert provisioning.fill_pools(ctx) == 1
    assert seats(ctx, SeatState.warming) == ["student3"]
    assert catalogue(ctx)[0].seats_left == 1
    set_pool(ctx, 2, capacity=2)  # no capacity left: the seat being built is dropped once built
    assert provisioning.fill_pools(ctx) == 0
    run_all(lazy_agent)
    assert seats(ctx, SeatState.warm) == []
