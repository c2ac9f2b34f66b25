"""A seat's lab token and ``/api/v1/seat/…``: the agent's CREATE writes the token into the
home, the token answers for its own registration's seat routes only, and dies with the seat."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.secrets import hash_token, manage_token
from wod.hub.lab import LAB_FILE, LAB_FOLDER
from wod.services.registrations import RegistrationRequest, register

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)
BOB = RegistrationRequest("WKSHP-Python101", "bob@example.org", "Bob", "Engines", True)


def lab_file(ctx: AppContext, username: str) -> dict[str, Any]:
    path = Path(ctx.settings.backend.students_dir) / username / LAB_FOLDER / LAB_FILE
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def seat_name(ctx: AppContext, rid: int) -> str:
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None and registration.seat_id is not None
        seat = s.get(Seat, registration.seat_id)
        assert seat is not None
        return seat.username


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def running(ctx: AppContext, agent: Agent) -> tuple[int, str]:
    """Ada's registration, active, and the lab token its CREATE wrote into the seat's home."""
    rid = register(ctx, ADA).id
    assert agent.run_once() is True  # CREATE
    return rid, lab_file(ctx, seat_name(ctx, rid))["token"]


def test_create_writes_the_lab_file_and_keeps_only_the_hash(
    ctx: AppContext, running: tuple[int, str]
) -> None:
    rid, token = running
    data = lab_file(ctx, seat_name(ctx, rid))
    assert token.startswith("wods_")
    assert data["api_url"] == ctx.settings.backend.api_url.rstrip("/")
    assert data["folder"] == "WKSHP-Python101"
    assert data["cells"], "the code cells that count are listed per notebook"
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None
        seat = s.get(Seat, registration.seat_id)
        assert seat is not None and seat.lab_token_hash == hash_token(token)


def test_status_by_the_servers_clock(
    client: TestClient, ctx: AppContext, clock: FakeClock, running: tuple[int, str]
) -> None:
    rid, token = running
    clock.advance(timedelta(minutes=10))
    answer = client.get("/api/v1/seat/status", headers=bearer(token))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["status"] == "active" and body["workshop"] == "WKSHP-Python101"
    assert body["seconds_left"] == 110 * 60
    assert body["now"].startswith("2026-11-28T09:10:00")
    assert body["badge_min_completion"] == ctx.settings.registration.badge_min_completion
    assert body["can_extend"] is True and body["extend_by_minutes"] == 30
    assert set(body["texts"]) >= {"time_left", "end_now", "end_body", "reminder"}
    assert re.search(rf"/timesup/{rid}/wodt_", body["timesup_url"])


def test_status_answers_in_the_registrations_language(
    client: TestClient, ctx: AppContext, agent: Agent
) -> None:
    french = RegistrationRequest(
        "WKSHP-Python101", "eve@example.org", "Ève", "Moteurs", True, language="fr"
    )
    rid = register(ctx, french).id
    assert agent.run_once() is True
    token = lab_file(ctx, seat_name(ctx, rid))["token"]
    body = client.get("/api/v1/seat/status", headers=bearer(token)).json()
    assert body["language"] == "fr"
    assert body["texts"]["end_now"] == "Terminer maintenant"


def test_extend_then_end_from_the_lab(
    client: TestClient, ctx: AppContext, clock: FakeClock, running: tuple[int, str]
) -> None:
    rid, token = running
    extended = client.post("/api/v1/seat/extend", headers=bearer(token))
    assert extended.status_code == 200, extended.text
    assert extended.json()["seconds_left"] == (120 + 30) * 60
    assert extended.json()["can_extend"] is False
    again = client.post("/api/v1/seat/extend", headers=bearer(token))
    assert again.status_code == 409 and again.json()["code"] == "invalid_state"
    ended = client.post("/api/v1/seat/end", headers=bearer(token))
    assert ended.status_code == 200 and ended.json()["status"] == "ending"
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None and registration.ended_reason is not None
        assert registration.ended_reason == "ended_by_participant"
        seat = s.get(Seat, registration.seat_id)
        assert seat is not None and seat.lab_token_hash is None
    # the token dies with the seat
    dead = client.get("/api/v1/seat/status", headers=bearer(token))
    assert dead.status_code == 401 and dead.json()["code"] == "not_authenticated"
    assert client.post("/api/v1/seat/end", headers=bearer(token)).status_code == 401


def test_the_lab_token_opens_nothing_else(
    client: TestClient, ctx: AppContext, token: str, running: tuple[int, str]
) -> None:
    rid, lab = running
    for method, path in [
        ("GET", f"/api/v1/registrations/{rid}"),
        ("POST", f"/api/v1/registrations/{rid}/end"),
        ("POST", f"/api/v1/registrations/{rid}/extend"),
        ("GET", "/api/v1/stats"),
        ("POST", "/api/v1/backend/jobs/claim"),
    ]:
        answer = client.request(method, path, headers=bearer(lab))
        assert answer.status_code == 401, (path, answer.text)
    # nor do the other tokens open the seat routes
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        assert registration is not None
        nonce = registration.manage_nonce
    manage = manage_token(ctx.settings.secret_key.get_secret_value(), nonce)
    for other in (manage, token, "wods_" + "x" * 43, lab + "x"):
        assert client.get("/api/v1/seat/status", headers=bearer(other)).status_code == 401
    assert client.get("/api/v1/seat/status").status_code == 401


def test_each_seat_sees_its_own_registration(
    client: TestClient, ctx: AppContext, agent: Agent, running: tuple[int, str]
) -> None:
    rid, ada = running
    bob_id = register(ctx, BOB).id
    assert agent.run_once() is True
    bob = lab_file(ctx, seat_name(ctx, bob_id))["token"]
    assert bob != ada
    client.post("/api/v1/seat/end", headers=bearer(bob))
    assert client.get("/api/v1/seat/status", headers=bearer(bob)).status_code == 401
    still = client.get("/api/v1/seat/status", headers=bearer(ada))
    assert still.status_code == 200 and still.json()["status"] == "active"
    assert f"/timesup/{rid}/" in still.json()["timesup_url"]


def test_times_up_page_shows_the_outcome_to_its_link_only(
    client: TestClient, ctx: AppContext, agent: Agent, running: tuple[int, str]
) -> None:
    rid, token = running
    url = client.get("/api/v1/seat/status", headers=bearer(token)).json()["timesup_url"]
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    client.post("/api/v1/seat/end", headers=bearer(token))
    collecting = client.get(path)
    assert collecting.status_code == 200 and "Time's up" in collecting.text
    assert 'http-equiv="refresh"' in collecting.text  # ending: it waits for the outcome
    assert agent.run_once() is True  # CLEANUP measures the completion
    ended = client.get(path)
    assert ended.status_code == 200 and 'id="completion"' in ended.text
    assert "No badge this time" in ended.text and "ada@example.org" not in ended.text
    assert ended.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(path[:-2] + "xx").status_code == 404
    assert client.get(f"/timesup/{rid + 1}/{path.rsplit('/', 1)[1]}").status_code == 404
