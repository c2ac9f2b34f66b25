"""Every writer at once on one database: two ``wod api`` processes (each with its scheduler and
outbox loops), the agent working through their jobs, participants registering over HTTP, a
service writing from a process of its own, and admins whose tokens are noted as used. On SQLite
this is where ``database is locked`` used to reach answers and logs: contention must be a wait,
never an error, and every registration must end in its row, seat, jobs and emails."""

from __future__ import annotations

import itertools
import threading
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import (
    LOCKED,
    Burst,
    check_invariants,
    platform,
    register_one,
    running_agent,
    wait_settled,
)
from wod.domain.roles import Role
from wod.errors import AlreadyRegistered, WorkshopFull
from wod.services.admin.tokens import create_token
from wod.services.registrations import RegistrationRequest, register

pytestmark = pytest.mark.faults

CLIENTS = 8
PER_CLIENT = 6
DIRECT = 12
ADMINS = 24


def test_writers_at_once_wait_for_each_other_and_lose_nothing(
    tmp_path: Path, database_url: str
) -> None:
    with platform(tmp_path, database_url, workshops=2, seats=60) as built:
        tokens = [create_token(built.ctx, f"admin-{n}", Role.admin) for n in range(ADMINS)]
        first, second = built.api("a").start(), built.api("b").start()
        burst = Burst()
        answers: list[str] = []
        start = threading.Barrier(CLIENTS + 2)

        def participant(n: int) -> None:
            url = (first, second)[n % 2].url
            with httpx.Client(base_url=url, timeout=120) as http:
                start.wait()
                for i in range(PER_CLIENT):
                    workshop = built.workshops[(n + i) % 2]
                    register_one(http, burst, workshop, f"p{n}-{i}@example.org")

        def admins() -> None:
            urls = itertools.cycle((first.url, second.url))
            start.wait()
            for token in tokens:
                answer = httpx.get(
                    f"{next(urls)}/api/v1/health",
                    headers={"Authorization": f"Bearer {token}"},
                    timeout=120,
                )
                answers.append(f"{answer.status_code} {answer.text[:200]}")

        def service() -> None:  # a process of its own: the test's engine, not the api's
            start.wait()
            for n in range(DIRECT):
                request = RegistrationRequest(
                    built.workshops[n % 2], f"d{n}@example.org", "Direct", "Faults", True
                )
                try:
                    row = register(built.ctx, request)
                except (WorkshopFull, AlreadyRegistered) as exc:
                    answers.append(f"refused {exc}")
                    continue
                with burst.lock:
                    burst.created[row.id] = request.email

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(CLIENTS)]
        threads += [threading.Thread(target=admins), threading.Thread(target=service)]
        with running_agent(built, first.url):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(600)
            assert burst.statuses == {201: CLIENTS * PER_CLIENT}, (burst.statuses, burst.errors)
            assert len(burst.created) == CLIENTS * PER_CLIENT + DIRECT, answers
            assert all(a.startswith("200 ") for a in answers), answers
            wait_settled(built.ctx, burst.created)
        check_invariants(built.ctx, burst.created, built.relay)
        logs = built.logs()
        assert LOCKED not in logs
        assert "Traceback" not in logs, logs[-4000:]
