"""The api is killed (SIGKILL) in the middle of a 30-way burst of registrations and started
again; the participants whose request was cut press the button again. Every registration
answered 201 ends with its row, its seat, its CREATE done and its emails; none holds a seat
twice, no seat is held by nobody, no email is queued twice."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.conftest import wait_for
from tests.faults.harness import (
    Burst,
    KillAfter,
    check_invariants,
    platform,
    register_one,
    running_agent,
    wait_settled,
)
from wod.db.models import Registration

pytestmark = pytest.mark.faults

CLIENTS = 30
PER_CLIENT = 2
KILL_AFTER = 10  # answers 201: the kill comes while the other clients' requests are in flight


def test_an_api_killed_mid_burst_loses_no_registration(tmp_path: Path, database_url: str) -> None:
    with platform(
        tmp_path, database_url, workshops=2, seats=CLIENTS * PER_CLIENT // 2 + 5
    ) as built:
        api = built.api().start()
        burst = Burst()
        kill_when_due = KillAfter(burst, KILL_AFTER, api)
        start = threading.Barrier(CLIENTS)

        def participant(n: int) -> None:
            with httpx.Client(base_url=api.url, timeout=120) as http:
                start.wait()
                for i in range(PER_CLIENT):
                    address = f"p{n}-{i}@example.org"
                    register_one(http, burst, built.workshops[i % 2], address, retry_for=300)
                    kill_when_due()

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(CLIENTS)]
        with running_agent(built, api.url):
            for thread in threads:
                thread.start()
            wait_for(kill_when_due.done.is_set, 120, "the api to be killed mid-burst")
            api.start()  # the same port: the clients and the agent find it again
            for thread in threads:
                thread.join(600)
            assert not burst.errors, burst.errors
            # a request cut by the kill may have committed: pressed again, it is "already
            # registered" (409), and its registration goes on like the others
            assert set(burst.statuses) <= {201, 409}, burst.statuses
            assert burst.retries > 0, "no request was cut: the kill came after the burst"
            with built.ctx.db.read() as s:
                rows = {r.id: r.email for r in s.scalars(select(Registration))}
            assert set(burst.created) <= set(rows)
            assert sorted(rows.values()) == sorted(
                f"p{n}-{i}@example.org" for n in range(CLIENTS) for i in range(PER_CLIENT)
            )
            wait_settled(built.ctx, rows)
        check_invariants(built.ctx, rows, built.relay, crashes=1)
        assert "database is locked" not in built.logs()
