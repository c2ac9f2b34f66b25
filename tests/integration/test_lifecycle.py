"""One registration through its whole life against the real api over HTTP, with the real agent
code and its local seat files; only the JupyterHub is a fake here (tests/e2e uses a real one)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Table, select

from tests.mail import part_text
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import JobState, RegistrationState, SeatState
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)


def registration(ctx: AppContext, rid: int) -> Registration:
    with ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None
        return row


def seat_of(ctx: AppContext, row: Registration) -> Seat:
    with ctx.db.read() as s:
        seat = s.get(Seat, row.seat_id)
        assert seat is not None
        return seat


def test_from_registration_to_cleanup(
    ctx: AppContext,
    agent: Agent,
    hub: FakeHub,
    credentials: MemoryCredentialStore,
    clock: FakeClock,
    mailer: MemoryMailer,
) -> None:
    rid = register(ctx, ADA).id
    assert agent.run_once() is True  # CREATE
    assert agent.run_once() is False
    row = registration(ctx, rid)
    assert row.state is RegistrationState.active
    assert row.ends_at == clock.now() + timedelta(hours=2)
    assert seat_of(ctx, row).state is SeatState.ready
    home = ctx.settings.backend.students_dir / "student1"
    readme = json.loads((home / "WKSHP-Python101" / "0-ReadMeFirst.ipynb").read_text())
    assert "student1" in json.dumps(readme)
    assert ("start_server", "student1") in hub.calls

    assert outbox.send_due(ctx) == 2
    welcome, creds = mailer.sent
    assert welcome["To"] == "ada@example.org" and "Welcome" in welcome["Subject"]
    text = part_text(creds, "plain")
    password = text.split("Password:")[1].split()[0]
    assert credentials.verify("student1", password)
    assert "login?next=/user/student1/lab/tree/WKSHP-Python101/0-ReadMeFirst.ipynb" in text
    with ctx.db.read() as s:
        assert all(password not in (e.subject or "") for e in s.scalars(select(Email)))
        assert registration(ctx, rid).password_enc not in (None, password)

    lab = home / "WKSHP-Python101" / "1-WKSHP-Values-and-Strings.ipynb"
    notebook = json.loads(lab.read_text())
    codes = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    for n, cell in enumerate(codes[:11], start=1):
        cell["execution_count"] = n
    lab.write_text(json.dumps(notebook))

    clock.advance(timedelta(hours=2))
    assert run_pass(ctx)["expired"] == 1
    assert registration(ctx, rid).state is RegistrationState.ending
    assert seat_of(ctx, row).state is SeatState.cleaning
    assert run_pass(ctx)["expired"] == 0  # a second pass does nothing more
    assert agent.run_once() is True  # CLEANUP
    done = registration(ctx, rid)
    assert done.state is RegistrationState.ended and done.ended_reason == "expired"
    assert done.completion == 11 * 100 // 27  # 11 of the 27 code cells of the workshop
    assert done.password_enc is None
    assert seat_of(ctx, row).state is SeatState.free
    assert not home.exists()
    assert not credentials.verify("student1", password)
    assert ("delete_user", "student1") in hub.calls

    assert outbox.send_due(ctx) == 1
    final = mailer.sent[-1]
    assert f"Completion: {done.completion} %" in part_text(final, "plain")


def test_agent_routes_need_the_location_token(server: ApiServer, token: str) -> None:
    for header in ({}, {"Authorization": "Bearer wodl_wrong"}, {"Authorization": "Basic x"}):
        answer = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=header)
        assert answer.status_code == 401
        assert answer.json()["code"] == "not_authenticated"
    ok = httpx.post(
        f"{server.url}/api/v1/backend/jobs/claim", headers={"Authorization": f"Bearer {token}"}
    )
    assert ok.status_code == 204


def test_report_must_match_a_running_job_of_the_location(
    ctx: AppContext, server: ApiServer, token: str
) -> None:
    register(ctx, ADA)
    auth = {"Authorization": f"Bearer {token}"}
    order = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
    assert order["verb"] == "CREATE" and order["seat"] == {"number": 1, "username": "student1"}
    url = f"{server.url}/api/v1/backend/jobs/{order['id']}/report"
    bad = httpx.post(url, headers=auth, json={"ok": True, "password": "short"})
    assert bad.status_code == 422
    no_password = httpx.post(url, headers=auth, json={"ok": True})
    assert no_password.status_code == 422 and no_password.json()["errors"][0]["field"] == "password"
    not_an_id = f"{server.url}/api/v1/backend/jobs/abc/report"
    assert httpx.post(not_an_id, headers=auth, json={"ok": False}).status_code == 422
    missing = httpx.post(
        f"{server.url}/api/v1/backend/jobs/999/report", headers=auth, json={"ok": False}
    )
    assert missing.status_code == 404
    good = httpx.post(url, headers=auth, json={"ok": True, "password": "A" * 16, "log": "fine"})
    assert good.status_code == 200 and good.json()["state"] == "done"
    # the same report again (its answer was lost on the way): taken, kept as history only
    again = httpx.post(url, headers=auth, json={"ok": True, "password": "B" * 16})
    assert again.status_code == 200 and again.json()["state"] == "done"
    with ctx.db.read() as s:
        job = s.get(Job, order["id"])
        assert job is not None and "late report of attempt 1" in job.log


def test_failed_create_is_retried_then_the_registration_fails_and_the_seat_is_purged(
    ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    rid = register(ctx, ADA).id
    job_table = Job.__table__
    assert isinstance(job_table, Table)
    with ctx.db.write() as s:  # the content on this host lacks the workshop: CREATE fails
        s.execute(job_table.update().values(workshop_id=None))
    for attempt in range(3):
        assert agent.run_once() is True, attempt
        clock.advance(timedelta(minutes=1))
    row = registration(ctx, rid)
    assert row.state is RegistrationState.failed and row.ended_reason == "provision_failed"
    with ctx.db.read() as s:
        jobs = list(s.scalars(select(Job).order_by(Job.id)))
    assert [(j.verb.value, j.state) for j in jobs] == [
        ("CREATE", JobState.failed),
        ("PURGE", JobState.queued),
    ]
    assert jobs[0].attempts == 3 and "needs a workshop" in (jobs[0].error or "")
    assert agent.run_once() is True  # PURGE
    assert seat_of(ctx, row).state is SeatState.free


def test_an_expired_lease_gives_the_job_again(
    ctx: AppContext, server: ApiServer, token: str, clock: FakeClock
) -> None:
    register(ctx, ADA)
    auth = {"Authorization": f"Bearer {token}"}
    first = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
    clock.advance(timedelta(seconds=ctx.settings.scheduler.job_lease + 1))
    assert run_pass(ctx)["leases"] == 1
    clock.advance(timedelta(seconds=10))
    second = httpx.post(f"{server.url}/api/v1/backend/jobs/claim", headers=auth).json()
    assert second["id"] == first["id"] and second["attempt"] == 2


def test_the_home_keeps_nothing_from_the_previous_seat_holder(
    ctx: AppContext, agent: Agent, tmp_path: Path
) -> None:
    home = ctx.settings.backend.students_dir / "student1"
    home.mkdir(parents=True)
    (home / "left-behind.txt").write_text("secret of the previous participant")
    register(ctx, ADA)
    assert agent.run_once() is True
    assert not (home / "left-behind.txt").exists()
    assert (home / "WKSHP-Python101" / "0-ReadMeFirst.ipynb").exists()


def test_seats_outside_the_location_range_are_never_given(ctx: AppContext, token: str) -> None:
    from wod.db.models import Location

    with ctx.db.write() as s:
        location = s.scalars(select(Location)).one()
        location.seat_min, location.seat_max = 3, 4  # shrunk: seats 1, 2 and 5-20 stay in the table
    numbers = []
    for n in range(2):
        rid = register(
            ctx, RegistrationRequest("WKSHP-Python101", f"s{n}@example.org", "S", "C", True)
        ).id
        numbers.append(seat_of(ctx, registration(ctx, rid)).number)
    assert numbers == [3, 4]
    from wod.errors import WorkshopFull

    with pytest.raises(WorkshopFull):
        register(ctx, RegistrationRequest("WKSHP-Python101", "late@example.org", "L", "C", True))


def test_the_agent_does_not_retry_a_refused_report() -> None:
    from wod.wire import JobReport

    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(409, json={"code": "invalid_state"})

    client = ApiClient("http://api.invalid", "wodl_x", transport=httpx.MockTransport(answer))
    # no job is run here, so the agent is given no verbs
    agent = Agent(client, None, poll_interval=0.01)  # type: ignore[arg-type]
    agent._report(7, JobReport(ok=True, log="log", password="p" * 16))
    assert calls == ["/api/v1/backend/jobs/7/report"]
