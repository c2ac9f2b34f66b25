"""System account mode on a real JupyterHub: seats are isolated by the kernel, their processes
are ended by uid (never by matching paths), and compiled scripts run but cannot be read."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tests.e2e.conftest import UID_BASE, wait_for
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
    with local_stack(settings, clock) as stack:
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


def test_isolation_processes_and_compiled_scripts(system_stack: LocalStack) -> None:
    students = system_stack.ctx.settings.backend.students_dir
    for seat in ("1", "2"):
        result = action(system_stack, "CREATE", "WKSHP-Hooks", seat)
        assert result.returncode == 0, result.stdout + result.stderr
    other = students / "student2" / "WKSHP-Hooks" / "0-ReadMeFirst.ipynb"
    assert as_seat("student2", "cat", str(other)).returncode == 0
    denied = as_seat("student1", "cat", str(other))
    assert denied.returncode != 0 and "Permission denied" in denied.stderr
    assert as_seat("student1", "ls", str(students / "student2")).returncode != 0
    assert as_seat("student1", "touch", str(students / "student2" / "x")).returncode != 0

    secret = students / "student1" / "WKSHP-Hooks" / "secret"
    ran = as_seat("student1", str(secret))
    assert ran.returncode == 0 and "the answer is 142" in ran.stdout
    unreadable = as_seat("student1", "cat", str(secret))
    assert unreadable.returncode != 0 and "Permission denied" in unreadable.stderr
    assert secret.stat().st_uid == 0 and secret.stat().st_mode & 0o777 == 0o711

    mine = start_as("student1", "sleep", "600")
    # a process of another seat whose command line names student1's home: never a victim
    imposter = start_as("student2", "bash", "-c", f"exec -a {students / 'student1'}/fake sleep 600")
    result = action(system_stack, "CLEANUP", "WKSHP-Hooks", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "process(es) ended" in result.stdout

    def gone() -> bool:
        return not mine.is_running() or mine.status() == psutil.STATUS_ZOMBIE

    wait_for(gone, 10, "student1's process to end")
    assert imposter.is_running() and imposter.status() != psutil.STATUS_ZOMBIE
    imposter.kill()
