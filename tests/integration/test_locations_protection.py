"""Several locations, and each protection of the registration route."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from typer.testing import CliRunner

from wod.cli.main import app
from wod.context import AppContext
from wod.db.models import Registration, Workshop
from wod.domain.clock import FakeClock
from wod.errors import RateLimited
from wod.services.provisioning.locations import ensure_location
from wod.services.registrations import ratelimit

BODY = {"workshop": "WKSHP-Python101", "name": "Ada", "company": "Engines", "accept_terms": True}


def post(client: TestClient, email: str, **change: Any) -> Any:
    return client.post("/api/v1/registrations", json={**BODY, "email": email, **change})


def two_locations(ctx: AppContext) -> None:
    """Python101 at 'east' (seats 1-2 of its range) then 'west' (seats 1-3)."""
    now = ctx.clock.now()
    with ctx.db.write() as s:
        for name, high in (("east", 2), ("west", 3)):
            ensure_location(
                s,
                name=name,
                hub_public_url=f"https://{name}.example.org",
                hub_api_url=f"https://{name}.example.org/hub/api",
                seat_min=1,
                seat_max=high,
                now=now,
            )
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Python101"))
        assert workshop is not None
        workshop.location, workshop.alternate_locations = "east", ["west", "nowhere"]


def test_primary_first_then_alternate_then_full(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    two_locations(ctx)
    seats = client.get("/api/v1/workshops/WKSHP-Python101").json()["seats_left"]
    assert seats == 5  # summed over east (2) and west (3); 'local' is not listed
    placed = []
    for n in range(5):
        assert post(client, f"p{n}@example.org").status_code == 201
        with ctx.db.read() as s:
            reg = s.scalars(select(Registration).order_by(Registration.id.desc())).first()
            assert reg is not None
            from wod.db.models import Location, Seat

            loc = s.get(Location, reg.location_id)
            seat = s.get(Seat, reg.seat_id)
            assert loc is not None and seat is not None
            placed.append((loc.name, seat.number))
    assert placed == [("east", 1), ("east", 2), ("west", 1), ("west", 2), ("west", 3)]
    full = post(client, "late@example.org")
    assert full.status_code == 409 and full.json()["code"] == "workshop_full"
    assert client.get("/api/v1/workshops/WKSHP-Python101").json()["seats_left"] == 0


@pytest.mark.parametrize(
    "email",
    ["someone@mailinator.com", "x@1secmail.com", "y@sub.1secmail.org", "z@yopmail.com"],
)
def test_disposable_and_denied_domains_are_rejected(
    client: TestClient, ctx: AppContext, token: str, email: str
) -> None:
    answer = post(client, email)
    assert answer.status_code == 422
    problem = answer.json()
    assert problem["code"] == "email_rejected" and problem["errors"][0]["field"] == "email"
    assert "cannot be used" in problem["detail"]
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 0


def test_deny_list_setting_and_a_normal_address(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    ctx.settings.registration.deny_list.append("competitor.example")
    assert post(client, "spy@labs.competitor.example").json()["code"] == "email_rejected"
    assert post(client, "ada@engines.example").status_code == 201


def test_rate_limit_per_address_with_retry_after(
    client: TestClient, ctx: AppContext, token: str, clock: FakeClock
) -> None:
    ctx.settings.registration.rate_per_ip = 3
    for n in range(3):
        assert post(client, f"p{n}@example.org").status_code == 201
    limited = post(client, "p9@example.org")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    assert limited.headers["Retry-After"] == "60"
    clock.advance(timedelta(seconds=61))
    assert post(client, "p9@example.org").status_code == 201


def test_rate_limit_per_email(client: TestClient, ctx: AppContext, token: str) -> None:
    assert post(client, "ada@example.org").status_code == 201
    for _ in range(4):  # each attempt would email the manage link again
        assert post(client, "ada@example.org").json()["code"] == "already_registered"
    limited = post(client, "ada@example.org")
    assert limited.status_code == 429 and limited.json()["code"] == "rate_limited"
    with ctx.db.read() as s:
        from wod.db.models import Email

        resent = s.scalars(select(Email).where(Email.kind == "already_registered")).all()
    assert len(resent) == 1  # one manage-link email per period, however many attempts
    assert post(client, "grace@example.org").status_code == 201


def test_a_conference_room_behind_one_address_is_not_stopped(ctx: AppContext) -> None:
    limits = ctx.settings.registration
    for _ in range(300):  # a few hundred attendees within the minute
        ratelimit.hit(ctx, "ip:203.0.113.7", limits.rate_per_ip, limits.rate_window)
    ratelimit.hit(ctx, "ip:198.51.100.1", 1, limits.rate_window)
    with pytest.raises(RateLimited):
        ratelimit.hit(ctx, "ip:198.51.100.1", 1, limits.rate_window)


def test_over_long_fields_are_refused(client: TestClient, token: str) -> None:
    answer = post(client, "ada@example.org", company="C" * 5000)
    assert answer.status_code == 422 and answer.json()["code"] == "invalid_input"


def tokens(ctx: AppContext, role: str) -> str:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    result = CliRunner().invoke(app, ["tokens", "add", f"t-{role}", "--role", role], env=env)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def test_admin_tokens_and_roles(client: TestClient, ctx: AppContext, token: str) -> None:
    viewer, admin = tokens(ctx, "viewer"), tokens(ctx, "admin")
    rid = post(client, "ada@example.org").json()["id"]
    as_viewer = {"Authorization": f"Bearer {viewer}"}
    as_admin = {"Authorization": f"Bearer {admin}"}
    assert client.get("/api/v1/stats").status_code == 401
    stats = client.get("/api/v1/stats", headers=as_viewer)
    assert stats.status_code == 200
    body = stats.json()
    assert body["live_seats"] == [{"workshop": "WKSHP-Python101", "location": "local", "count": 1}]
    assert body["registrations_per_day"] == [{"day": "2026-11-28", "count": 1}]
    assert body["outcomes"] == {
        "live": 1,
        "ended": 0,
        "ended_early": 0,
        "failed": 0,
        "reclaimed_idle": 0,
    }
    assert [b["name"] for b in body["badge_levels"]] == [
        "Apprentice",
        "Expert",
        "Hero",
        "Super Hero",
        "Legend",
    ]
    assert client.get(f"/api/v1/registrations/{rid}", headers=as_viewer).status_code == 200
    refused = client.post(f"/api/v1/registrations/{rid}/end", headers=as_viewer)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    not_running = client.post(f"/api/v1/registrations/{rid}/end", headers=as_admin)
    assert not_running.status_code == 409  # still queued: nothing to end yet
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url}
    assert CliRunner().invoke(app, ["tokens", "revoke", "t-viewer"], env=env).exit_code == 0
    assert client.get("/api/v1/stats", headers=as_viewer).status_code == 401
    listed = CliRunner().invoke(app, ["tokens", "list"], env=env).output
    assert "t-viewer" in listed and "revoked" in listed and viewer not in listed
