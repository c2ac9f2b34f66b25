"""A warm seat on a real JupyterHub: the pool's seat has its server running before anyone
registers; a registration is active in its answer, and the emailed password opens the lab on
that running server."""

from __future__ import annotations

from contextlib import closing

import httpx
import pytest
from sqlalchemy import select, update

from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_end_to_end import credentials, login
from tests.stack import SPAWN_TIMEOUT
from wod.db.models import Seat, Workshop
from wod.domain.states import SeatState

pytestmark = pytest.mark.hub
SLUG = "WKSHP-Python101"


def test_a_warm_seat_is_running_before_its_participant_registers(stack: Stack) -> None:
    with stack.ctx.db.write() as s:
        s.execute(update(Workshop).where(Workshop.slug == SLUG).values(warm=1))
    stack.wake()

    def warm_seat() -> str | None:
        with stack.ctx.db.read() as s:
            return s.scalar(select(Seat.username).where(Seat.state == SeatState.warm))

    username = wait_for(warm_seat, SPAWN_TIMEOUT, "a warm seat")
    hub = stack.ctx.settings.hub
    headers = {"Authorization": f"token {hub.api_token.get_secret_value()}"}
    server = httpx.get(f"{hub.api_url}/users/{username}", headers=headers).json()["servers"][""]
    assert server["ready"] is True  # warm means the lab answers, not only the files are there

    email = "warm@example.org"
    answer = httpx.post(
        f"{stack.api.url}/api/v1/registrations",
        json={"workshop": SLUG, "email": email, "name": "W", "company": "C", "accept_terms": True},
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["status"] == "active"
    mail = stack.wait_mail(email, "credentials")
    user, password = credentials(mail["text"])
    assert user == username
    assert not [m for m in stack.mail() if m["to"] == email and "Welcome" in m["subject"]]
    with closing(login(stack.hub_url, user, password)) as web:
        assert web.get(f"/user/{user}/api/status").status_code == 200
