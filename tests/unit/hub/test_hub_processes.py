"""In the hub mode every seat's processes run as the hub's user; the seat of a process is the
``JUPYTERHUB_USER`` of its environment, but only for a process of *this* hub (its
``JUPYTERHUB_API_URL``): another hub on the same host and user (a second platform, a second test
run) has seats of the same names whose processes are not this agent's to kill."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import psutil
import pytest

from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.hub import HubAccounts, hub_api_of, seat_by_hub_user
from wod.settings import Settings

SEAT = "student7"
OURS = "http://127.0.0.1:18081/"


@pytest.fixture
def server_of_another_hub() -> Iterator[subprocess.Popen[bytes]]:
    """A process that looks like seat 7's server, started by the hub on port 28081."""
    env = {
        **os.environ,
        "JUPYTERHUB_USER": SEAT,
        "JUPYTERHUB_API_URL": "http://127.0.0.1:28081/hub/api",
    }
    process = subprocess.Popen(["/usr/bin/sleep", "600"], env=env)
    yield process
    process.kill()
    process.wait()


def test_the_hub_of_a_process_is_its_api_url() -> None:
    settings = Settings(hub={"internal_port": 18081})
    assert hub_api_of(settings) == OURS


def test_a_seat_of_another_hub_is_not_ours(server_of_another_hub: subprocess.Popen[bytes]) -> None:
    process = psutil.Process(server_of_another_hub.pid)
    assert seat_by_hub_user(process, OURS) is None
    assert seat_by_hub_user(process, "") is None
    assert seat_by_hub_user(process, "http://127.0.0.1:28081/") == SEAT

    assert HubAccounts(MemoryCredentialStore(), OURS).kill_processes(SEAT) == 0
    assert server_of_another_hub.poll() is None  # still running
    assert HubAccounts(MemoryCredentialStore()).kill_processes(SEAT) == 0  # no hub: nobody's

    theirs = HubAccounts(MemoryCredentialStore(), "http://127.0.0.1:28081/")
    assert theirs.kill_processes(SEAT) == 1
    assert not psutil.pid_exists(server_of_another_hub.pid)  # killed and reaped
