"""A location that cannot serve stops receiving work: a silent agent, a draining or a disabled
location gives no new seat; the registrations waiting there move to another location of their
workshop (same registration, same job); when the location is back it serves again."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from tests.servers import ApiServer
from wod.backend.client import ApiClient
from wod.cli.main import app as cli
from wod.context import AppContext
from wod.db.models import Email, Job, Location, Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import JobState, RegistrationState, SeatState, Verb
from wod.errors import NotFound, WorkshopFull
from wod.scheduler.loop import run_pass
from wod.services.provisioning import LocationState, set_location_state
from wod.services.provisioning.locations import ensure_location, rotate_token
from wod.services.registrations import RegistrationRequest, register
from wod.wire import JobReport


@pytest.fixture
def second(ctx: AppContext, token: str) -> str:
    """A second location for the same workshops; its agent token."""
    with ctx.db.write() as s:
        location = ensure_location(
            s,
            name="second",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=20,
            now=ctx.clock.now(),
        )
        return rotate_token(s, location)


@pytest.fixture
def local_agent(server: ApiServer, token: str) -> Iterator[ApiClient]:
    client = ApiClient(server.url, token)
    client.location()  # its first call: the location is watched from now on
    yield client
    client.close()


def person(n: int) -> RegistrationRequest:
    return RegistrationRequest("WKSHP-Python101", f"p{n}@example.org", f"P {n}", "Acme", True)


def where(ctx: AppContext, registration_id: int) -> tuple[str, int, RegistrationState]:
    with ctx.db.read() as s:
        row = s.get(Registration, registration_id)
        assert row is not None
        location, seat = s.get(Location, row.location_id), s.get(Seat, row.seat_id)
        assert location is not None and seat is not None
        return location.name, seat.number, row.state


def seat_state(ctx: AppContext, location: str, number: int) -> SeatState:
    with ctx.db.read() as s:
        return s.scalars(
            select(Seat.state)
            .join(Location, Location.id == Seat.location_id)
            .where(Location.name == location, Seat.number == number)
        ).one()


def fall_silent(ctx: AppContext, clock: FakeClock) -> None:
    clock.advance(ctx.settings.locations.silent_after + timedelta(seconds=1))
    run_pass(ctx)


def test_a_silent_location_hands_its_waiting_registrations_to_another(
    ctx: AppContext, clock: FakeClock, server: ApiServer, second: str, local_agent: ApiClient
) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    first = register(ctx, person(1)).id
    assert where(ctx, first) == ("local", 1, RegistrationState.queued)
    with ctx.db.read() as s:
        (job_id,) = s.scalars(select(Job.id).where(Job.registration_id == first))

    fall_silent(ctx, clock)  # the scheduler's pass: silent, then its waiting ones move
    assert where(ctx, first) == ("second", 1, RegistrationState.queued)
    assert seat_state(ctx, "local", 1) is SeatState.free  # no agent ever touched it
    with ctx.db.read() as s:
        job = s.get(Job, job_id)
        assert job is not None and job.state is JobState.queued
        assert job.location_id == where_id(ctx, "second")
        assert "moved from local (its agent is silent) to second, seat student1" in job.log
        subjects = [
            str((e.payload or {})["subject"])
            for e in s.scalars(select(Email).where(Email.kind == "admin_alert"))
        ]
    assert subjects == ["location local is silent"]

    later = register(ctx, person(2)).id  # new registrations go elsewhere meanwhile
    assert where(ctx, later)[0] == "second"
    second_agent = ApiClient(server.url, second)
    try:
        order = second_agent.claim()
        assert order is not None and order.id == job_id
        assert order.seat is not None and order.seat.number == 1
        second_agent.report(order.id, JobReport(ok=True, password="a-seat-password-1"))
    finally:
        second_agent.close()
    assert where(ctx, first) == ("second", 1, RegistrationState.active)

    local_agent.location()  # local's agent calls again: it serves again
    assert where(ctx, register(ctx, person(3)).id)[0] == "local"


def where_id(ctx: AppContext, name: str) -> int:
    with ctx.db.read() as s:
        return s.scalars(select(Location.id).where(Location.name == name)).one()


def test_a_seat_a_create_already_tried_is_purged_where_it_was_left(
    ctx: AppContext, clock: FakeClock, second: str, local_agent: ApiClient
) -> None:
    first = register(ctx, person(1)).id
    order = local_agent.claim()
    assert order is not None
    local_agent.report(order.id, JobReport(ok=False, error="the hub did not answer"))
    assert where(ctx, first)[2] is RegistrationState.provisioning  # waits for its retry
    fall_silent(ctx, clock)
    assert where(ctx, first) == ("second", 1, RegistrationState.provisioning)
    assert seat_state(ctx, "local", 1) is SeatState.cleaning
    with ctx.db.read() as s:
        purge = s.scalars(select(Job).where(Job.verb == Verb.PURGE)).one()
        assert (purge.location_id, purge.state) == (where_id(ctx, "local"), JobState.queued)


def test_with_nowhere_to_go_a_registration_waits_and_new_ones_are_refused(
    ctx: AppContext, clock: FakeClock, server: ApiServer, local_agent: ApiClient
) -> None:
    first = register(ctx, person(1)).id
    fall_silent(ctx, clock)
    assert where(ctx, first) == ("local", 1, RegistrationState.queued)
    with pytest.raises(WorkshopFull):
        register(ctx, person(2))
    workshops = httpx.get(f"{server.url}/api/v1/workshops/WKSHP-Python101").json()
    assert workshops["seats_left"] == 0


def test_draining_gives_no_new_seat_but_lets_live_ones_run_to_their_end(
    ctx: AppContext, second: str, local_agent: ApiClient
) -> None:
    live = register(ctx, person(1)).id
    order = local_agent.claim()
    assert order is not None
    local_agent.report(order.id, JobReport(ok=True, password="a-seat-password-1"))
    waiting = register(ctx, person(2)).id
    assert where(ctx, waiting)[0] == "local"

    set_location_state(ctx, "local", LocationState.draining)
    run_pass(ctx)
    assert where(ctx, waiting)[0] == "second"  # it had not started: it moved
    assert where(ctx, live) == ("local", 1, RegistrationState.active)  # it stays
    assert where(ctx, register(ctx, person(3)).id)[0] == "second"
    assert local_agent.location().name == "local"  # its agent still works for the live seat

    set_location_state(ctx, "local", LocationState.enabled)
    assert where(ctx, register(ctx, person(4)).id)[0] == "local"


def test_a_disabled_location_refuses_its_agent(
    ctx: AppContext, second: str, local_agent: ApiClient
) -> None:
    set_location_state(ctx, "local", LocationState.disabled)
    with pytest.raises(Exception, match="401"):
        local_agent.location()
    assert where(ctx, register(ctx, person(1)).id)[0] == "second"
    with pytest.raises(NotFound):
        set_location_state(ctx, "nowhere", LocationState.enabled)


def test_the_commands_drain_disable_and_enable_a_location(ctx: AppContext, token: str) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url, "COLUMNS": "200"}
    runner = CliRunner()

    def state() -> str:
        listed = runner.invoke(cli, ["locations", "list"], env=env)
        assert listed.exit_code == 0, listed.output
        (line,) = [row for row in listed.output.splitlines() if row.startswith("local ")]
        return line.split()[3]

    assert state() == "enabled"
    for command, expected in (
        ("drain", "draining"),
        ("disable", "disabled"),
        ("enable", "enabled"),
    ):
        done = runner.invoke(cli, ["locations", command, "local"], env=env)
        assert done.exit_code == 0 and f"location local {expected}" in done.output, done.output
        assert state() == expected
    unknown = runner.invoke(cli, ["locations", "drain", "nowhere"], env=env)
    assert unknown.exit_code == 1 and "no location named 'nowhere'" in unknown.output
