"""System account mode on a real JupyterHub: seats are isolated by the kernel, their processes
are ended by uid (never by matching paths), and compiled scripts run but cannot be read."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import UID_BASE, SeatBlock, wait_for
from tests.e2e.test_verbs import action
from tests.stack import LocalStack, local_stack, stack_settings
from wod.domain.clock import FakeClock

pytestmark = pytest.mark.hub


@pytest.fixture
def system_stack(
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    hook_layer: Path,
    system_students: Path,
    singleuser_venv: Path,
    seat_block: SeatBlock,
) -> Iterator[LocalStack]:
    settings = stack_settings(
        tmp_path,
        database_url,
        content=[hook_layer],
        mode="system",
        students_dir=system_students,
        singleuser_venv=singleuser_venv,
        uid_base=UID_BASE,
    )
    with local_stack(settings, clock, seat_block.seats(20)) as stack:
        yield stack


def as_seat(user: str, *command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", user, "--", *command],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


LAUNCHERS: list[subprocess.Popen[bytes]] = []


@pytest.fixture(autouse=True)
def _reap_launchers() -> Iterator[None]:
    yield
    while LAUNCHERS:
        launcher = LAUNCHERS.pop()
        launcher.kill()
        launcher.wait(10)


def start_as(user: str, *command: str) -> psutil.Process:
    process = subprocess.Popen(
        ["runuser", "-u", user, "--", *command],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    LAUNCHERS.append(process)
    uid = UID_BASE + int(user.removeprefix("student"))

    def running_as_seat() -> psutil.Process | None:
        children = psutil.Process(process.pid).children(recursive=True)
        return next((c for c in children if c.uids().real == uid), None)

    return wait_for(running_as_seat, 10, f"a process of {user}")


def test_isolation_processes_and_compiled_scripts(
    system_stack: LocalStack, seat_block: SeatBlock
) -> None:
    students = system_stack.ctx.settings.backend.students_dir
    one, two = seat_block.user(1), seat_block.user(2)
    for seat in (1, 2):
        result = action(system_stack, "CREATE", "WKSHP-Hooks", str(seat_block.n(seat)))
        assert result.returncode == 0, result.stdout + result.stderr
    other = students / two / "WKSHP-Hooks" / "0-ReadMeFirst.ipynb"
    assert as_seat(two, "cat", str(other)).returncode == 0
    denied = as_seat(one, "cat", str(other))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert as_seat(one, "ls", str(students / two)).returncode != 0
    assert as_seat(one, "touch", str(students / two / "x")).returncode != 0

    secret = students / one / "WKSHP-Hooks" / "secret"
    ran = as_seat(one, str(secret))
    assert ran.returncode == 0 and f"the answer is {seat_block.n(1)}42" in ran.stdout
    unreadable = as_seat(one, "cat", str(secret))
    assert unreadable.returncode != 0 and "Permission denied" in unreadable.stderr
    assert secret.stat().st_uid == 0 and secret.stat().st_mode & 0o777 == 0o711

    mine = start_as(one, "sleep", "600")
    # a process of another seat whose command line names the first one's home: never a victim
    imposter = start_as(two, "bash", "-c", f"exec -a {students / one}/fake sleep 600")
    result = action(system_stack, "CLEANUP", "WKSHP-Hooks", str(seat_block.n(1)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "process(es) ended" in result.stdout

    def gone() -> bool:
        return not mine.is_running() or mine.status() == psutil.STATUS_ZOMBIE

    wait_for(gone, 10, f"{one}'s process to end")
    assert imposter.is_running() and imposter.status() != psutil.STATUS_ZOMBIE
    imposter.kill()
