"""The health of the platform, on the console's page (/admin/health) and as JSON
(/api/v1/health, admin token): an agent that calls and holds the revision is fine; a job that
waits too long, a silent location (the injected clock), a broken seat and an email given up are
stuck, and shown in red."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Location
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.domain.secrets import manage_token
from wod.domain.states import Verb
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.admin import users as admin_users
from wod.services.admin.tokens import create_token
from wod.services.mail import outbox
from wod.services.provisioning import add_location
from wod.services.provisioning.jobs import claim_job, lease_duration
from wod.services.registrations import RegistrationRequest, end_now, register
from wod.services.registrations.outcomes import record_report
from wod.web.app import create_app
from wod.wire import JobReport

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)
PASSWORD = "correct horse battery"


@pytest.fixture
def web(ctx: AppContext, token: str) -> Iterator[TestClient]:
    admin_users.create_user(ctx, "alice", PASSWORD, Role.admin)
    with TestClient(create_app(ctx, background=False)) as client:
        log_in(client)
        yield client


def log_in(client: TestClient) -> None:
    client.get("/admin/login")
    form = {"username": "alice", "password": PASSWORD, "csrf_token": client.cookies["wod_csrf"]}
    assert client.post("/admin/login", data=form, follow_redirects=False).status_code == 303


@pytest.fixture
def admin_token(ctx: AppContext, token: str) -> str:
    return create_token(ctx, "monitor", Role.viewer)


def beat(web: TestClient, token: str, version: str = "9.8.7") -> None:
    """The agent's heartbeat, as the agent sends it."""
    answer = web.post(
        "/api/v1/backend/heartbeat",
        json={"revisions": [], "version": version},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text


def health(web: TestClient, admin_token: str) -> dict[str, Any]:
    answer = web.get("/api/v1/health", headers={"Authorization": f"Bearer {admin_token}"})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def location(body: dict[str, Any], name: str = "local") -> dict[str, Any]:
    found: dict[str, Any] = next(loc for loc in body["locations"] if loc["name"] == name)
    return found


def page(web: TestClient) -> str:
    answer = web.get("/admin/health")
    assert answer.status_code == 200
    text: str = answer.text
    assert 'id="nav-health" aria-current="page"' in text
    return text


def verdict(text: str, element: str) -> str:
    found = re.search(rf'<span id="{element}" class="state (state-[a-z]+)">(\w+)</span>', text)
    assert found is not None, element
    return f"{found[2]} {found[1]}"


def test_an_agent_that_calls_is_healthy_on_the_page_and_in_json(
    web: TestClient, token: str, admin_token: str, clock: FakeClock
) -> None:
    beat(web, token)
    body = health(web, admin_token)
    assert body["ok"] is True and body["checked_at"].startswith("2026-11-28T09:00:00")
    local = location(body)
    assert local["stuck"] is False and local["problems"] == []
    assert local["agent_version"] == "9.8.7"
    assert local["last_contact_at"].startswith("2026-11-28T09:00:00")
    assert local["queued_jobs"] == local["failed_jobs"] == local["broken_seats"] == 0
    assert body["outbox"] == {
        "backlog": 0,
        "oldest_queued_at": None,
        "failed": 0,
        "problems": [],
        "stuck": False,
    }
    text = page(web)
    assert 'id="health-verdict" class="flash flash-ok"' in text
    assert verdict(text, "state-local") == "ok state-ready"
    assert verdict(text, "state-outbox") == "ok state-ready"
    assert "9.8.7" in text and 'class="problem"' not in text


def test_a_waiting_job_then_a_silent_location_are_stuck_and_red(
    ctx: AppContext, web: TestClient, token: str, admin_token: str, clock: FakeClock
) -> None:
    ctx.settings.health.job_wait = timedelta(minutes=1)
    beat(web, token)
    register(ctx, ADA)  # its CREATE is due now; nobody claims it
    clock.advance(timedelta(seconds=59))
    beat(web, token)  # the agent calls but does not claim (all its workers are busy)
    assert health(web, admin_token)["ok"] is True

    clock.advance(timedelta(seconds=1))
    body = health(web, admin_token)
    local = location(body)
    assert body["ok"] is False and local["stuck"] is True
    assert local["queued_jobs"] == 1
    assert local["oldest_job_due_at"].startswith("2026-11-28T09:00:00")
    assert local["problems"] == ["a job has waited for its agent since 2026-11-28 09:00:00 UTC"]
    text = page(web)
    assert 'id="health-verdict" class="flash flash-error" role="alert"' in text
    assert verdict(text, "state-local") == "stuck state-broken"
    assert '<li class="problem">a job has waited for its agent since' in text

    clock.advance(ctx.settings.locations.silent_after)  # the agent stops calling
    assert run_pass(ctx)["silent"] == 1
    local = location(health(web, admin_token))
    assert local["silent_since"] is not None
    assert local["problems"][0] == "its agent is silent: no call since 2026-11-28 09:00:59 UTC"
    text = page(web)
    assert "silent since 2026-11-28 09:03" in text
    assert '<li class="problem">its agent is silent' in text

    beat(web, token)  # back; the job still waits
    local = location(health(web, admin_token))
    assert len(local["problems"]) == 1 and local["problems"][0].startswith("a job has waited")


def test_an_email_given_up_and_a_location_never_heard_of_are_stuck(
    ctx: AppContext,
    web: TestClient,
    token: str,
    admin_token: str,
    clock: FakeClock,
    mailer: MemoryMailer,
) -> None:
    ctx.settings.outbox.attempts = 1
    beat(web, token)
    register(ctx, ADA)
    mailer.down = True
    assert outbox.send_due(ctx) == 0  # the welcome: given up at its only attempt
    body = health(web, admin_token)
    assert body["outbox"]["failed"] == 1 and body["outbox"]["stuck"] is True
    assert body["outbox"]["problems"] == ["1 email(s) given up in the last 24 h"]
    text = page(web)
    assert verdict(text, "state-outbox") == "stuck state-broken"
    assert '<a href="/admin/emails?state=failed">1</a>' in text

    clock.advance(ctx.settings.health.failure_window + timedelta(seconds=1))  # long ago now
    log_in(web)  # her session ended meanwhile
    beat(web, token)
    assert health(web, admin_token)["outbox"]["stuck"] is False

    add_location(ctx, "far", hub_url="https://far.example.org", seats=(1, 3))
    far = location(health(web, admin_token), "far")
    assert far["stuck"] is True and far["problems"] == ["its agent never called the api"]
    assert verdict(page(web), "state-far") == "stuck state-broken"


def test_the_json_needs_an_admin_token(web: TestClient, token: str, ctx: AppContext) -> None:
    assert web.get("/api/v1/health").status_code == 401
    bogus = web.get("/api/v1/health", headers={"Authorization": "Bearer woda_nope"})
    assert bogus.status_code == 401
    registration = register(ctx, ADA)
    manage = manage_token(ctx.settings.secret_key.get_secret_value(), registration.manage_nonce)
    refused = web.get("/api/v1/health", headers={"Authorization": f"Bearer {manage}"})
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    anonymous = TestClient(web.app)
    assert anonymous.get("/admin/health", follow_redirects=False).status_code == 303


def run_next(ctx: AppContext, ok: bool) -> None:
    """Claim the next job of location ``local`` and report it as its agent would."""
    with ctx.db.write() as s:
        local = s.scalars(select(Location).where(Location.name == "local")).one()
        job = claim_job(s, local, ctx.clock.now(), lease_duration(ctx))
        assert job is not None
        password = "Seat-Passw0rd-123" if ok and job.verb is Verb.CREATE else None
        report = JobReport(ok=ok, password=password, error=None if ok else "hook failed")
        record_report(ctx, s, local, job.id, report)


def test_a_job_failed_for_good_and_its_broken_seat_are_stuck(
    ctx: AppContext, web: TestClient, token: str, admin_token: str, clock: FakeClock
) -> None:
    beat(web, token)
    registration = register(ctx, ADA)
    run_next(ctx, ok=True)  # CREATE
    end_now(ctx, registration.id, by_admin=True)
    for _ in range(ctx.settings.scheduler.job_attempts):  # CLEANUP fails every attempt
        run_next(ctx, ok=False)
        clock.advance(timedelta(seconds=30))
    beat(web, token)
    local = location(health(web, admin_token))
    assert local["failed_jobs"] == 1 and local["broken_seats"] == 1
    assert local["problems"] == [
        "1 job(s) failed for good in the last 24 h",
        "1 seat(s) broken (a purge repairs them)",
    ]
    text = page(web)
    assert verdict(text, "state-local") == "stuck state-broken"
    assert '<a href="/admin/jobs?state=failed&amp;location=local">1</a>' in text
    assert '<a href="/admin/seats?state=broken&amp;location=local">1</a>' in text
