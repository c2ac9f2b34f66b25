"""Idle seats given back, against the real api over HTTP with the real agent code; only the
JupyterHub is a fake (its users' last activity set by the test), and time is the fake clock.

Sample workshop WKSHP-Python101 lasts 2 hours: the default ``idle.timeout`` (45 minutes) applies,
with ``idle.grace`` (10 minutes) between the warning and the end."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.factories import make_workshop, seed
from tests.mail import part_text
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.content.check import check_content
from wod.content.layers import Content
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, SeatActivity, Workshop
from wod.domain.clock import FakeClock
from wod.domain.states import EndReason, JobState, RegistrationState, Verb
from wod.errors import ApiClientError
from wod.hub.client import FakeHub
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.admin.stats import dashboard
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.idle import idle_timeout_of
from wod.wire import ActivityIn, SeatActivityIn

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)
MINUTE = timedelta(minutes=1)


def registration(ctx: AppContext, rid: int) -> Registration:
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None
        return row


def activity(ctx: AppContext, rid: int) -> SeatActivity | None:
    with ctx.db.read() as s:
        return s.get(SeatActivity, rid)


def watch(ctx: AppContext, rid: int) -> SeatActivity:
    row = activity(ctx, rid)
    assert row is not None, f"no activity recorded for registration {rid}"
    return row


def active_seat(ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock) -> int:
    """Ada's registration, active on student1, with activity at the moment it became ready."""
    rid = register(ctx, ADA).id
    assert agent.run_once() is True  # CREATE
    assert registration(ctx, rid).state is RegistrationState.active
    hub.last_activity["student1"] = clock.now()
    assert agent.report_activity() == 1
    outbox.send_due(ctx)  # welcome, credentials
    return rid


def idle_for(agent: Agent, clock: FakeClock, minutes: int) -> None:
    """Time passes with reports every few minutes and no activity on the hub."""
    for _ in range(minutes // 5):
        clock.advance(5 * MINUTE)
        agent.report_activity()
    clock.advance((minutes % 5) * MINUTE)
    agent.report_activity()


def warnings_sent(mailer: MemoryMailer) -> list[str]:
    return [part_text(m, "plain") for m in mailer.sent if "will be freed" in m["Subject"]]


def keep_path(text: str) -> str:
    found = re.search(r"http://[^/\s]+(/keep/wodk_[A-Za-z0-9_-]+)", text)
    assert found, text
    return found[1]


def warned_keep_path(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock, mailer: MemoryMailer
) -> tuple[int, str]:
    """Ada's active registration, idle until warned: its id and the keep link of the warning."""
    rid = active_seat(ctx, agent, hub, clock)
    idle_for(agent, clock, 46)
    run_pass(ctx)
    outbox.send_due(ctx)
    return rid, keep_path(warnings_sent(mailer)[0])


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found
    return found[1]


def test_an_idle_seat_is_warned_then_ended_as_idle_with_its_final_email(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock, mailer: MemoryMailer
) -> None:
    rid = active_seat(ctx, agent, hub, clock)
    idle_for(agent, clock, 44)
    assert run_pass(ctx)["idle_warned"] == 0  # not idle long enough yet
    idle_for(agent, clock, 1)
    assert run_pass(ctx)["idle_warned"] == 1
    assert run_pass(ctx)["idle_warned"] == 0  # once per idle period
    outbox.send_due(ctx)
    (warning,) = warnings_sent(mailer)
    assert "45 minutes" in warning and "/keep/wodk_" in warning and "/manage/" in warning
    assert "at 09:55 UTC" in warning  # ready at 09:00, idle 45 min, freed 10 min later

    idle_for(agent, clock, 9)
    assert run_pass(ctx)["idle_reclaimed"] == 0  # the grace is not over
    idle_for(agent, clock, 1)
    assert run_pass(ctx)["idle_reclaimed"] == 1
    row = registration(ctx, rid)
    assert row.state is RegistrationState.ending and row.ended_reason == EndReason.idle
    assert agent.run_once() is True  # the ordinary CLEANUP
    with ctx.db.read() as s:
        cleanup = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP)).one()
        assert cleanup.state is JobState.done
    assert registration(ctx, rid).state is RegistrationState.ended
    outbox.send_due(ctx)
    final = part_text(mailer.sent[-1], "plain")
    assert "no activity" in final and "Completion:" in final
    assert dashboard(ctx, 7).outcomes.reclaimed_idle == 1
    assert dashboard(ctx, 7).outcomes.ended == 0


def test_activity_after_the_warning_cancels_it(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock, mailer: MemoryMailer
) -> None:
    rid = active_seat(ctx, agent, hub, clock)
    idle_for(agent, clock, 46)
    assert run_pass(ctx)["idle_warned"] == 1
    clock.advance(3 * MINUTE)
    hub.last_activity["student1"] = clock.now()  # a kernel ran a cell
    agent.report_activity()
    idle_for(agent, clock, 20)
    assert run_pass(ctx)["idle_reclaimed"] == 0
    assert registration(ctx, rid).state is RegistrationState.active
    # a new idle period gets a warning of its own
    idle_for(agent, clock, 30)
    assert run_pass(ctx)["idle_warned"] == 1
    outbox.send_due(ctx)
    assert len(warnings_sent(mailer)) == 2
    with ctx.db.read() as s:
        keys = s.scalars(select(Email.dedupe_key).where(Email.kind == "idle_warning")).all()
    assert sorted(keys) == [f"{rid}:idle_warning:1", f"{rid}:idle_warning:2"]


def test_the_keep_link_keeps_the_seat(
    ctx: AppContext,
    agent: Agent,
    hub: FakeHub,
    clock: FakeClock,
    mailer: MemoryMailer,
    client: TestClient,
) -> None:
    rid, path = warned_keep_path(ctx, agent, hub, clock, mailer)
    page = client.get(path)
    assert page.status_code == 200 and "will be freed at" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert watch(ctx, rid).end_due_at is not None  # reading the page changed nothing
    refused = client.post(path, data={"csrf_token": "forged"})
    assert refused.status_code == 403 and watch(ctx, rid).end_due_at is not None
    kept = client.post(path, data={"csrf_token": csrf_of(page.text)})
    assert kept.status_code == 200 and "is kept" in kept.text
    idle_for(agent, clock, 30)
    assert run_pass(ctx)["idle_reclaimed"] == 0
    assert registration(ctx, rid).state is RegistrationState.active
    again = client.post(path, data={"csrf_token": csrf_of(client.get(path).text)})
    assert again.status_code == 200  # clicking twice changes nothing more


def test_a_keep_click_after_the_end_is_refused_clearly_and_changes_nothing(
    ctx: AppContext,
    agent: Agent,
    hub: FakeHub,
    clock: FakeClock,
    mailer: MemoryMailer,
    client: TestClient,
) -> None:
    rid, path = warned_keep_path(ctx, agent, hub, clock, mailer)
    form = client.get(path)
    idle_for(agent, clock, 11)
    assert run_pass(ctx)["idle_reclaimed"] == 1
    before = registration(ctx, rid)
    late = client.post(path, data={"csrf_token": csrf_of(form.text)})
    assert late.status_code == 410 and "already ended" in late.text
    assert client.get(path).status_code == 410
    after = registration(ctx, rid)
    assert (after.state, after.ended_reason) == (before.state, before.ended_reason)
    with ctx.db.read() as s:
        assert len(s.scalars(select(Job)).all()) == 2  # CREATE, CLEANUP: nothing more
    bad = client.get("/keep/wodk_not-a-token")
    assert bad.status_code == 404 and "not valid" in bad.text
    assert client.post("/keep/wodk_not-a-token", data={"csrf_token": "x"}).status_code == 404


def test_no_report_no_reclaim(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock
) -> None:
    """An agent or a hub that stops reporting never makes seats look idle."""
    rid = active_seat(ctx, agent, hub, clock)
    clock.advance(90 * MINUTE)  # no report meanwhile
    counts = run_pass(ctx)
    assert (counts["idle_warned"], counts["idle_reclaimed"]) == (0, 0)
    assert registration(ctx, rid).state is RegistrationState.active


def test_a_short_workshop_is_off_by_default(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock
) -> None:
    ctx.settings.idle.min_duration = timedelta(hours=3)
    rid = active_seat(ctx, agent, hub, clock)
    idle_for(agent, clock, 100)
    assert run_pass(ctx)["idle_warned"] == 0
    assert watch(ctx, rid).idle_due_at is None


def test_a_location_reports_only_for_its_own_seats(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock, server: ApiServer
) -> None:
    rid = active_seat(ctx, agent, hub, clock)
    other = ApiClient(
        server.url, seed(ctx, seats=(101, 110), location="other", import_content=False)
    )
    before = activity(ctx, rid)
    later = clock.now() + 30 * MINUTE
    clock.advance(30 * MINUTE)
    with pytest.raises(ApiClientError) as refused:  # student1 is a seat of "local"
        other.report_activity(ActivityIn(seats=[SeatActivityIn(seat=1, last_activity=later)]))
    assert refused.value.status == 404 and "not a seat of location other" in str(refused.value)
    with pytest.raises(ApiClientError):  # refused whole, even beside its own seats
        other.report_activity(
            ActivityIn(
                seats=[SeatActivityIn(seat=101), SeatActivityIn(seat=1, last_activity=later)]
            )
        )
    after = activity(ctx, rid)
    assert before is not None and after is not None
    assert (after.last_activity_at, after.reported_at) == (
        before.last_activity_at,
        before.reported_at,
    )
    assert other.report_activity(ActivityIn(seats=[SeatActivityIn(seat=101)])) == 0
    other.close()


@pytest.mark.parametrize(
    "body",
    [
        {"seats": [{"seat": 1, "last_activity": "2026-11-28T09:00:00"}]},  # no time zone
        {"seats": [{"seat": 1}, {"seat": 1}]},
        {"seats": [{"seat": 0}]},
        {"seats": [{"seat": 1, "extra": True}]},
        {"seats": "all"},
    ],
)
def test_a_malformed_report_is_refused(server: ApiServer, token: str, body: object) -> None:
    answer = httpx.post(
        f"{server.url}/api/v1/backend/activity",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 422, answer.text


def test_a_report_needs_the_location_token(server: ApiServer, token: str) -> None:
    answer = httpx.post(f"{server.url}/api/v1/backend/activity", json={"seats": []}, timeout=30)
    assert answer.status_code == 401


def test_a_hub_clock_ahead_counts_as_now(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock
) -> None:
    rid = active_seat(ctx, agent, hub, clock)
    hub.last_activity["student1"] = clock.now() + timedelta(days=1)
    agent.report_activity()
    row = activity(ctx, rid)
    assert row is not None and row.last_activity_at == clock.now()
    assert isinstance(row.last_activity_at, datetime)


def test_the_idle_watch_of_a_registration_ended_otherwise_is_forgotten(
    ctx: AppContext, agent: Agent, hub: FakeHub, clock: FakeClock
) -> None:
    """Due rows stay the live ones: a warned registration ended at its time leaves none."""
    rid = active_seat(ctx, agent, hub, clock)
    idle_for(agent, clock, 46)
    assert run_pass(ctx)["idle_warned"] == 1
    clock.advance(2 * timedelta(hours=1))  # its 2 hours are over: expired, not idle
    run_pass(ctx)
    row = registration(ctx, rid)
    assert (row.state, row.ended_reason) == (RegistrationState.ending, EndReason.expired)
    watch = activity(ctx, rid)
    assert watch is not None and (watch.idle_due_at, watch.end_due_at) == (None, None)


def test_the_import_keeps_the_wod_yml_idle_timeout(ctx: AppContext, tmp_path: Path) -> None:
    """A one-hour workshop is off by default; its wod.yml can turn it on."""
    layer = tmp_path / "layer"
    make_workshop(layer, "WKSHP-Quick", (30, 31), duration=1, idle_timeout=20)
    make_workshop(layer, "WKSHP-Short", (32, 33), duration=1)
    report = check_content(Content([layer]), ctx.settings)
    assert not report.errors, report.errors
    with ctx.db.write() as s:
        apply_import(s, plan_import(s, report), ctx.clock.now())
    with ctx.db.read() as s:
        quick = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Quick")).one()
        short = s.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Short")).one()
    assert quick.idle_timeout == 20 and short.idle_timeout is None
    assert idle_timeout_of(ctx.settings, quick) == timedelta(minutes=20)
    assert idle_timeout_of(ctx.settings, short) is None
