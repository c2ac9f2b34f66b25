"""``wod worker``: the scheduler and the outbox in a process of their own, beside a ``wod api``
that runs neither (``scheduler.enabled`` and ``outbox.enabled`` false). Registrations made
through the api get their welcome emails from the worker alone; SIGTERM stops it cleanly. A
worker told to run nothing refuses to start, saying why."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import wait_for
from tests.faults.harness import Burst, platform, register_one

pytestmark = pytest.mark.faults
PARTICIPANTS = 5
NEITHER = {"WOD_SCHEDULER__ENABLED": "false", "WOD_OUTBOX__ENABLED": "false"}


def test_the_worker_sends_what_the_api_queues(tmp_path: Path, database_url: str) -> None:
    with platform(tmp_path, database_url) as built:
        api = built.api("main", **NEITHER).start()
        burst = Burst()
        with httpx.Client(base_url=api.url, timeout=60) as http:
            for n in range(PARTICIPANTS):
                register_one(http, burst, built.workshops[0], f"worker{n}@example.org")
        assert len(burst.created) == PARTICIPANTS, burst.statuses
        assert built.relay.count() == 0  # the api sends nothing itself
        worker = built.api("worker", command="worker").start(wait=False)
        wait_for(lambda: built.relay.count() >= PARTICIPANTS, 120, "the welcome emails")
        assert worker.process is not None
        worker.process.terminate()
        assert worker.process.wait(60) == 0, worker.log_text()
        log = worker.log_text()
        assert "wod-outbox" in log and "worker: stopped" in log, log
        sent = {str(m["To"]) for m in built.relay.messages}
        assert sent == {f"worker{n}@example.org" for n in range(PARTICIPANTS)}
        assert not re.search(r"email \d+ sent", api.log_text())


def test_a_worker_with_nothing_to_run_refuses_to_start(tmp_path: Path, database_url: str) -> None:
    with platform(tmp_path, database_url) as built:
        refused = subprocess.run(
            [sys.executable, "-m", "wod", "worker"],
            env={**built.env, **NEITHER},
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert refused.returncode != 0
    assert "would do nothing" in refused.stdout + refused.stderr
