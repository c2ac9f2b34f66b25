"""PostgreSQL restarted under load: while participants register, the server goes down and comes
back. Meanwhile the api answers 503 with ``Retry-After`` (problem+json, never 500), it
reconnects by itself, and nothing is lost: every registration answered 201 ends with its row,
seat, job and emails, each email sent once."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL
from tests.e2e.conftest import wait_for
from tests.faults.harness import (
    Burst,
    PgServer,
    check_invariants,
    platform,
    register_one,
    running_agent,
    wait_settled,
)
from wod.db.migrate import upgrade
from wod.db.session import Database

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not PG_URL, reason="PostgreSQL only: the suite's PostgreSQL pass runs it"),
]

CLIENTS = 4
PER_CLIENT = 10


@pytest.fixture
def server() -> Iterator[PgServer]:
    """A server of this test's own: restarting the suite's would break the other tests. Its
    folder is outside pytest's (which only root may enter): the server runs as postgres."""
    pg = PgServer(Path(tempfile.mkdtemp(prefix="wod-fault-pg-")))
    url = pg.start()
    database = Database(url)
    upgrade(database)
    database.dispose()
    yield pg
    pg.remove()


def test_the_api_answers_503_while_postgresql_restarts_and_loses_nothing(
    tmp_path: Path, server: PgServer
) -> None:
    with platform(tmp_path, server.url, workshops=2, seats=30) as built:
        api = built.api().start()
        burst = Burst()
        unavailable: list[httpx.Response] = []
        hooks = {"response": [lambda r: r.read() if r.status_code == 503 else None]}

        def participant(n: int) -> None:
            with httpx.Client(base_url=api.url, timeout=120, event_hooks=hooks) as http:
                http.event_hooks["response"].append(
                    lambda r: unavailable.append(r) if r.status_code == 503 else None
                )
                for i in range(PER_CLIENT):
                    register_one(
                        http, burst, built.workshops[i % 2], f"p{n}-{i}@example.org", retry_for=300
                    )

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(CLIENTS)]
        with running_agent(built, api.url):
            for thread in threads:
                thread.start()
            wait_for(lambda: len(burst.created) >= 8, 120, "the first registrations")
            server.down()
            wait_for(lambda: unavailable, 120, "a 503 while PostgreSQL is down")
            server.up()
            for thread in threads:
                thread.join(600)
            assert set(burst.statuses) <= {201, 503}, (burst.statuses, burst.errors)
            assert len(burst.created) == CLIENTS * PER_CLIENT
            wait_settled(built.ctx, burst.created)
        for answer in unavailable:
            assert answer.headers["Content-Type"] == "application/problem+json"
            assert answer.json()["code"] == "database_unavailable"
            assert int(answer.headers["Retry-After"]) >= 1
        check_invariants(built.ctx, burst.created, built.relay)
        log = api.log_text()
        assert "unexpected error" not in log  # what a 500 logs
    assert "pass failed" not in log  # the loops said the outage once each, without traceback
    assert "the database is unavailable; waiting for it" in log
