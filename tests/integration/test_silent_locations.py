"""A location whose agent stops calling is silent: the admins are told once, and again when it
calls back; the agent's heartbeat keeps a busy agent from looking silent."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import httpx
from sqlalchemy import select

from tests.e2e.conftest import wait_for
from tests.servers import ApiServer
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.content.layers import Content
from wod.context import AppContext
from wod.db.models import Email, Location
from wod.domain.clock import FakeClock
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.scheduler.loop import run_pass
from wod.services.provisioning.locations import ensure_location
from wod.settings import Settings


def alerts(ctx: AppContext) -> list[str]:
    with ctx.db.read() as s:
        rows = s.scalars(select(Email).where(Email.kind == "admin_alert").order_by(Email.id))
        return [str((e.payload or {})["subject"]) for e in rows]


def test_a_silent_location_is_told_once_then_its_return(
    ctx: AppContext, server: ApiServer, token: str, clock: FakeClock
) -> None:
    ctx.settings.alerts.recipients.append("ops@example.org")
    with ctx.db.write() as s:  # a location whose agent never called is not watched
        ensure_location(
            s,
            name="never",
            hub_public_url="https://never.example.org",
            hub_api_url="https://never.example.org/hub/api",
            seat_min=1,
            seat_max=2,
            now=clock.now(),
        )
    client = ApiClient(server.url, token)
    assert client.location().name == "local"  # the agent's call is its contact
    clock.advance(ctx.settings.locations.silent_after - timedelta(seconds=1))
    assert run_pass(ctx)["silent"] == 0
    clock.advance(timedelta(seconds=2))
    assert run_pass(ctx)["silent"] == 1
    assert run_pass(ctx)["silent"] == 0  # told once
    assert alerts(ctx) == ["location local is silent"]
    client.location()  # it is back
    assert alerts(ctx) == ["location local is silent", "location local is back"]
    with ctx.db.read() as s:
        local = s.scalars(select(Location).where(Location.name == "local")).one()
    assert local.silent_since is None and local.last_contact_at == clock.now()
    clock.advance(ctx.settings.locations.silent_after * 2)
    assert run_pass(ctx)["silent"] == 1  # silent again: told again
    client.close()


def test_the_heartbeat_calls_while_every_worker_is_busy(tmp_path: Path) -> None:
    calls: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        if request.url.path.endswith("/heartbeat"):
            return httpx.Response(200, json={"revision": None, "bundles": []})
        return httpx.Response(204)

    client = ApiClient("http://api.invalid", "wodl_x", transport=httpx.MockTransport(answer))
    verbs = Verbs(
        Settings(),
        Content([]),
        LocalSeatFiles(tmp_path),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
    )
    agent = Agent(client, verbs, workers=1, poll_interval=3600, heartbeat_interval=0.01)
    thread = threading.Thread(target=agent._heartbeat, daemon=True)
    thread.start()
    wait_for(lambda: calls.count("/api/v1/backend/heartbeat") >= 3, 10, "three heartbeats")
    agent.stop()
    thread.join(10)
    assert not thread.is_alive()
