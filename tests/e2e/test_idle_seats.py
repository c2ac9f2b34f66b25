"""Idle seats on the real stack: the agent reads the seats' last activity from a real
JupyterHub and the api records it; with the api's clock moved on (the hub's activity is
whatever it is), the seat is warned, then ended as idle with its final email."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import Stack, wait_for
from tests.stack import SPAWN_TIMEOUT, local_stack, stack_settings
from wod.db.models import Registration, SeatActivity
from wod.domain.clock import FakeClock
from wod.domain.states import EndReason, RegistrationState
from wod.hub.client import JupyterHubClient

pytestmark = pytest.mark.hub
EMAIL = "idle.ida@example.org"


@pytest.fixture
def idle_stack(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Stack]:
    settings = stack_settings(tmp_path, database_url)
    settings.idle.report_interval = 0.3  # the agent reports often: no real minute waited
    # the api's clock ahead of the hub's real one: its activity is never "in the future"
    clock.set(datetime.now(UTC) + timedelta(minutes=30))
    with local_stack(settings, clock) as local:
        yield Stack(local, clock)


def recorded(stack: Stack, rid: int) -> SeatActivity | None:
    with stack.ctx.db.read() as s:
        return s.get(SeatActivity, rid)


def test_the_agent_reports_the_hubs_activity_and_an_idle_seat_is_given_back(
    idle_stack: Stack,
) -> None:
    stack = idle_stack
    answer = httpx.post(
        f"{stack.api.url}/api/v1/registrations",
        json={
            "workshop": "WKSHP-Python101",
            "email": EMAIL,
            "name": "Ida",
            "company": "Idle",
            "accept_terms": True,
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text
    rid = answer.json()["id"]
    stack.wait_mail(EMAIL, "credentials", timeout=300)  # the seat's server was started

    settings = stack.ctx.settings
    hub = JupyterHubClient(settings.hub.api_url, settings.hub.api_token.get_secret_value())
    try:
        # the credentials may come before the server answers, and the hub notes activity when
        # it does: compared before, a later report would look like the participant working
        hub.wait_ready("student1", SPAWN_TIMEOUT)

        def same_as_the_hub() -> bool:
            seen = hub.activity().get("student1")
            row = recorded(stack, rid)
            return seen is not None and row is not None and row.last_activity_at == seen

        wait_for(same_as_the_hub, 60, "the api to record the hub's last activity of student1")
    finally:
        hub.close()

    stack.clock.advance(timedelta(minutes=46))  # idle_timeout (45 min) is over
    stack.wake()
    warning = stack.wait_mail(EMAIL, "will be freed")
    assert "/keep/wodk_" in warning["text"]
    stack.clock.advance(timedelta(minutes=11))  # and the grace (10 min)
    stack.wake()
    final = stack.wait_mail(EMAIL, "Thanks", timeout=120)
    assert "no activity" in final["text"]
    with stack.ctx.db.read() as s:
        row = s.get(Registration, rid)
        assert row is not None
        assert (row.state, row.ended_reason) == (RegistrationState.ended, EndReason.idle)
