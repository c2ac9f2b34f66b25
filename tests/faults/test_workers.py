"""``wod api --workers 2``: two processes on one port, each with its scheduler and outbox, on
SQLite and on PostgreSQL. A 20-way burst ends exact (every registration with its seat, its
CREATE done, its two emails sent once), and ``/metrics`` adds the counters of both workers
up: it shows every registration, whichever worker took it."""

from __future__ import annotations

import threading
from pathlib import Path

import httpx
import psutil
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import wait_for
from tests.faults.harness import (
    Burst,
    check_invariants,
    platform,
    register_one,
    running_agent,
    wait_settled,
)

pytestmark = pytest.mark.faults
CLIENTS = 20


def registered(url: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=30).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "wod_registration_attempts"
        for sample in family.samples
        if sample.labels.get("outcome") == "registered" and sample.name.endswith("_total")
    )


def test_two_workers_serve_one_port_and_count_together(tmp_path: Path, database_url: str) -> None:
    with platform(tmp_path, database_url, workshops=2, seats=CLIENTS) as built:
        api = built.api("workers", "--workers", "2").start()
        assert api.process is not None
        supervisor = psutil.Process(api.process.pid)

        def workers() -> list[psutil.Process]:  # not multiprocessing's resource tracker
            return [c for c in supervisor.children() if "spawn_main" in " ".join(c.cmdline())]

        def two() -> list[psutil.Process] | None:
            found = workers()
            return found if len(found) >= 2 else None

        assert len(wait_for(two, 60, "two workers")) == 2
        burst = Burst()
        start = threading.Barrier(CLIENTS)

        def participant(n: int) -> None:
            # a connection of its own per client: the kernel spreads them over the workers
            with httpx.Client(base_url=api.url, timeout=120) as http:
                start.wait()
                register_one(http, burst, built.workshops[n % 2], f"w{n}@example.org")

        threads = [threading.Thread(target=participant, args=(n,)) for n in range(CLIENTS)]
        with running_agent(built, api.url):
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(300)
            assert burst.statuses == {201: CLIENTS}, (burst.statuses, burst.errors)
            wait_settled(built.ctx, burst.created)
        check_invariants(built.ctx, burst.created, built.relay)
        assert registered(api.url) == CLIENTS
        assert "database is locked" not in built.logs()
