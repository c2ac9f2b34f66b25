"""The whole platform for real (tests/stack.py): api, backend agent, JupyterHub, SMTP mail
catcher, each on free loopback ports in a temp folder. Only the clock is injected."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.servers import ApiServer
from tests.stack import LocalStack, local_stack, stack_settings
from wod.context import AppContext
from wod.domain.clock import FakeClock
from wod.settings import UpSettings

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "it") -> T:
    """Poll ``check`` until it returns something (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Stack:
    local: LocalStack
    clock: FakeClock

    @property
    def ctx(self) -> AppContext:
        return self.local.ctx

    @property
    def api(self) -> ApiServer:
        return self.local.api

    @property
    def hub_url(self) -> str:
        return self.ctx.settings.hub.public_url

    def mail(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.api.url}/api/v1/dev/mail", timeout=10)
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()
        return messages

    def wait_mail(self, to: str, subject_part: str, timeout: float = 60.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (m for m in self.mail() if m["to"] == to and subject_part in m["subject"]), None
            )

        return wait_for(find, timeout, f"an email '{subject_part}' to {to}")

    def wake(self) -> None:
        self.local.wake()


@pytest.fixture
def stack(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Stack]:
    with local_stack(stack_settings(tmp_path, database_url), clock) as local:
        yield Stack(local, clock)


SINGLEUSER_ROOT = Path("/opt/wod-test")
UID_BASE = 42000  # seat N is uid UID_BASE + N: far from any real account of the machine
BLOCK = 100  # seat numbers a test run takes for itself
LOCKS = Path("/run/lock/wod-test-seats")


@dataclass(frozen=True)
class SeatBlock:
    """Seat numbers that this test run alone uses on this machine, so that the Linux users and
    uids of system mode (``student<N>``, ``UID_BASE + N``) never meet another run's."""

    first: int

    def n(self, i: int) -> int:
        """The run's ``i``-th seat number (from 1)."""
        return self.first + i - 1

    def user(self, i: int) -> str:
        return f"student{self.n(i)}"

    def uid(self, i: int) -> int:
        return UID_BASE + self.n(i)

    def seats(self, count: int) -> tuple[int, int]:
        """The run's first ``count`` seats as a range."""
        return self.n(1), self.n(count)

    def contains_uid(self, uid: int) -> bool:
        return UID_BASE + self.first <= uid < UID_BASE + self.first + BLOCK


def _remove_users(block: SeatBlock) -> None:
    import pwd
    import subprocess

    from wod.hub.modes.system import SystemAccounts

    for user in pwd.getpwall():
        if block.contains_uid(user.pw_uid) and user.pw_name.startswith("student"):
            # killed and waited for: userdel refuses a user that still has a process
            SystemAccounts(UID_BASE).kill_processes(user.pw_name)
            subprocess.run(["userdel", user.pw_name], check=True, capture_output=True)
            subprocess.run(["groupdel", user.pw_name], check=False, capture_output=True)


def _claim_block() -> tuple[SeatBlock, Path]:
    """The lowest block no live run holds: a claim file with this process's pid, taken under a
    machine-wide lock (a claim left by a dead run is taken over, its users removed)."""
    import fcntl
    import os

    folder = LOCKS if os.geteuid() == 0 else Path(tempfile.gettempdir()) / "wod-test-seats"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for number in range(1, 90):
            claim = folder / f"block-{number}"
            holder = claim.read_text().strip() if claim.exists() else ""
            if holder.isdigit() and Path(f"/proc/{holder}").exists():
                continue
            block = SeatBlock(number * BLOCK + 1)
            if os.geteuid() == 0:
                _remove_users(block)  # what a crashed run left
            claim.write_text(str(os.getpid()))
            return block, claim
    raise RuntimeError(f"every block of seat numbers in {folder} is held by a live run")


@pytest.fixture(scope="session")
def seat_block() -> Iterator[SeatBlock]:
    """This run's own seat numbers (see :class:`SeatBlock`)."""
    block, claim = _claim_block()
    yield block
    claim.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def singleuser_venv() -> Path:
    """The seats' environment of system mode, built from /usr/bin/python3 once per machine and
    set of pinned versions; never rebuilt in place (another run may be using it)."""
    return machine_singleuser_venv()


def machine_singleuser_venv() -> Path:
    """What :func:`singleuser_venv` gives (for tests outside this folder)."""
    import fcntl
    import hashlib

    from tests.conftest import ROOT
    from wod.hub.lab import lab_digest
    from wod.hub.venv import build_venv

    constraints = ROOT / "requirements" / "constraints.txt"
    stamp = hashlib.sha256(constraints.read_bytes() + lab_digest().encode()).hexdigest()[:16]
    venv = SINGLEUSER_ROOT / f"singleuser-{stamp}"
    marker = venv / ".wod-stamp"
    SINGLEUSER_ROOT.mkdir(parents=True, exist_ok=True)
    with (SINGLEUSER_ROOT / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not marker.exists():
            build_venv(venv, ["python3", "bash"], constraints=constraints, say=lambda _: None)
            marker.write_text(stamp)
    return venv


@pytest.fixture
def system_students(seat_block: SeatBlock) -> Iterator[Path]:
    """A students folder every user can traverse, and this run's seat accounts removed after."""
    import os
    import shutil

    if os.geteuid() != 0:
        pytest.skip("system account mode needs root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="wod-system-", dir="/var/tmp"))
    base.chmod(0o711)
    yield base / "students"
    _remove_users(seat_block)
    shutil.rmtree(base, ignore_errors=True)


#: The seat accounts a ``wod up`` run by a test as root makes: the sample workshops' seats
#: (student1…), uids ``UID_BASE + 1…100``, numbers that no :class:`SeatBlock` takes.
LOW_SEATS = SeatBlock(1)


@dataclass(frozen=True)
class UpSeats:
    """The ``up.*`` settings a test gives its ``wod up`` (:func:`up_seats`)."""

    env: dict[str, str]
    up: UpSettings

    def students_dir(self, data_dir: Path) -> Path:
        """Where that ``wod up`` keeps the seats' homes of ``data_dir``."""
        import os

        from wod.hub.modes.local import choose_local_seats

        return choose_local_seats(data_dir, self.up, os.geteuid()).students_dir


@contextmanager
def up_seats() -> Iterator[UpSeats]:
    """The seats of a ``wod up`` that a test runs. As root (the system mode), its seats are the
    Linux accounts of :data:`LOW_SEATS`, which one run of the machine at a time may hold: taken
    under a machine-wide lock, with the machine's seats' environment and the homes in a folder
    of /var/tmp, all removed after. As anyone else (the hub mode) nothing is needed."""
    import fcntl
    import os
    import shutil

    if os.geteuid() != 0:
        yield UpSeats({}, UpSettings())
        return
    venv = machine_singleuser_venv()
    LOCKS.mkdir(parents=True, exist_ok=True)
    with (LOCKS / "low-seats.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _remove_users(LOW_SEATS)  # what a crashed run left
        root = Path(tempfile.mkdtemp(prefix="wod-up-", dir="/var/tmp"))
        root.chmod(0o711)
        up = UpSettings(uid_base=UID_BASE, seats_root=root, singleuser_venv=venv)
        env = {
            "WOD_UP__UID_BASE": str(UID_BASE),
            "WOD_UP__SEATS_ROOT": str(root),
            "WOD_UP__SINGLEUSER_VENV": str(venv),
        }
        try:
            yield UpSeats(env, up)
        finally:
            _remove_users(LOW_SEATS)
            shutil.rmtree(root, ignore_errors=True)


HOOKS_README = {
    "cells": [
        {
            "cell_type": "markdown",
            "id": "m1",
            "metadata": {},
            "source": [
                "seat {{ STDID }} target {{ WODRTARGET }} port {{ HTTPPORT }} ",
                "alias {{ hostvars[inventory_hostname]['HTTPPORT-WKSHP-Hooks'] }} {{ GREETING }}",
            ],
        },
        {"cell_type": "markdown", "id": "m2", "metadata": {}, "source": ["token {{ SEATTOKEN }}"]},
        {
            "cell_type": "code",
            "id": "c1",
            "metadata": {},
            "execution_count": None,
            "outputs": [],
            "source": ["print({{ STDID }})"],
        },
    ],
    "metadata": {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


@pytest.fixture
def hook_layer(tmp_path: Path, seat_block: SeatBlock) -> Path:
    """A workshop with hook scripts and a fake appliance: a folder standing for the remote
    machine, where the hooks leave a log and per-seat files. Its create hook mints a token for
    the seat and hands it back (``SEATTOKEN``, shown in the notebook; the variables file's
    value is what the content check renders with)."""
    import json

    from tests.factories import wod_yml

    layer = tmp_path / "hook-content"
    appliance = tmp_path / "appliance"
    appliance.mkdir()
    folder = layer / "WKSHP-Hooks"
    folder.mkdir(parents=True)
    (folder / "wod.yml").write_text(
        wod_yml(
            "Hooks",
            seat_block.seats(4),
            reset=True,
            multiappliance=True,
            duration=1,
            compile="secret.sh",
        )
    )
    (folder / "0-ReadMeFirst.ipynb").write_text(json.dumps(HOOKS_README, indent=1))
    (folder / "README.md").write_text("# Hooks\n")
    (folder / "LICENSE.md").write_text("CC BY-SA 4.0\n")
    (layer / "variables").mkdir()
    (layer / "variables" / "WKSHP-Hooks.yml").write_text(
        f"IP-WKSHP-Hooks: 10.0.0.10\nHTTPPORT-WKSHP-Hooks: 14151\nGREETING: hello\n"
        f"APPLIANCE_DIR: {appliance}\nSEATTOKEN: set-by-the-create-hook\n"
    )
    scripts = layer / "scripts"
    scripts.mkdir()
    (scripts / "create-WKSHP-Hooks.sh").write_text(
        'echo "create $WOD_SEAT $WODRTARGET $HTTPPORT $WOD_USERNAME $stdid" \\\n'
        '  >> "$APPLIANCE_DIR/log"\n'
        'mkdir -p "$APPLIANCE_DIR/$WODRTARGET"\n'
        "token=$(head -c16 /dev/urandom | od -An -tx1 | tr -d ' \\n')\n"
        'echo "SEATTOKEN: $token" >> "$WOD_VARIABLES_FILE"\n'
        'echo "$token" > "$APPLIANCE_DIR/token-$WOD_SEAT"\n'
        'if [ -f "$APPLIANCE_DIR/slow" ]; then touch "$APPLIANCE_DIR/started"; sleep 60; fi\n'
    )
    (scripts / "post-copy-WKSHP-Hooks.sh.j2").write_text(
        'echo "post-copy {{ STDID }} {{ GREETING }}" >> "$APPLIANCE_DIR/log"\n'
        'test -f "$WOD_HOME/WKSHP-Hooks/0-ReadMeFirst.ipynb"\n'
    )
    (scripts / "cleanup-WKSHP-Hooks.sh").write_text(
        'echo "cleanup $WOD_SEAT" >> "$APPLIANCE_DIR/log"\nexit 3\n'
    )
    (scripts / "secret.sh.j2").write_text('echo "the answer is {{ STDID }}42"\n')
    (scripts / "reset-WKSHP-Hooks.sh").write_text(
        'echo "reset $WOD_SEAT_MIN-$WOD_SEAT_MAX $WODRTARGET" >> "$APPLIANCE_DIR/log"\n'
        'rm -rf "$APPLIANCE_DIR/$WODRTARGET"\n'
    )
    return layer


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """A failed test shows the end of the logs its JupyterHubs and agents wrote in its
    folder: what the hub did with a seat's server is only there."""
    report = yield
    folder = getattr(item, "funcargs", {}).get("tmp_path")
    if report.failed and isinstance(folder, Path):
        for log in sorted(folder.rglob("*.log")):
            lines = _first_of_each(log.read_text(errors="replace").splitlines())[-80:]
            report.sections.append((f"end of {log.relative_to(folder)}", "\n".join(lines)))
    return report


def _first_of_each(lines: list[str]) -> list[str]:
    """``lines`` without the repeats that differ only in their times: a test polling a page
    would push the line that tells what went wrong out of the shown end."""
    import re

    seen: set[str] = set()
    kept = []
    for line in lines:
        key = re.sub(r"[\d:.T-]+(Z|ms)?", "#", line)
        if key not in seen:
            seen.add(key)
            kept.append(line)
    return kept
