"""The whole platform for real (tests/stack.py): api, backend agent, JupyterHub, SMTP mail
catcher, each on free loopback ports in a temp folder. Only the clock is injected."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.servers import ApiServer
from tests.stack import LocalStack, local_stack, stack_settings
from wod.context import AppContext
from wod.domain.clock import FakeClock

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


SINGLEUSER_VENV = Path("/opt/wod-test/singleuser")
UID_BASE = 42000  # far from any real account of the machine


@pytest.fixture(scope="session")
def singleuser_venv() -> Path:
    """The seats' environment of system mode, built from /usr/bin/python3 once per machine."""
    import hashlib

    from tests.conftest import ROOT
    from wod.hub.venv import build_venv

    constraints = ROOT / "requirements" / "constraints.txt"
    stamp = hashlib.sha256(constraints.read_bytes()).hexdigest()[:16]
    marker = SINGLEUSER_VENV / ".wod-stamp"
    if not marker.exists() or marker.read_text() != stamp:
        build_venv(
            SINGLEUSER_VENV, ["python3", "bash"], constraints=constraints, say=lambda _: None
        )
        marker.write_text(stamp)
    return SINGLEUSER_VENV


@pytest.fixture
def system_students() -> Iterator[Path]:
    """A students folder every user can traverse, and the seat accounts removed afterwards."""
    import os
    import pwd
    import shutil
    import subprocess
    import tempfile

    if os.geteuid() != 0:
        pytest.skip("system account mode needs root (CI runs as root)")
    base = Path(tempfile.mkdtemp(prefix="wod-system-", dir="/var/tmp"))
    base.chmod(0o711)
    yield base / "students"
    for user in pwd.getpwall():
        if UID_BASE < user.pw_uid <= UID_BASE + 100 and user.pw_name.startswith("student"):
            subprocess.run(["pkill", "-KILL", "-U", str(user.pw_uid)], check=False)
            subprocess.run(["userdel", user.pw_name], check=False, capture_output=True)
            subprocess.run(["groupdel", user.pw_name], check=False, capture_output=True)
    shutil.rmtree(base, ignore_errors=True)


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
def hook_layer(tmp_path: Path) -> Path:
    """A workshop with hook scripts and a fake appliance: a folder standing for the remote
    machine, where the hooks leave a log and per-seat files."""
    import json

    from tests.factories import wod_yml

    layer = tmp_path / "hook-content"
    appliance = tmp_path / "appliance"
    appliance.mkdir()
    folder = layer / "WKSHP-Hooks"
    folder.mkdir(parents=True)
    (folder / "wod.yml").write_text(
        wod_yml("Hooks", (1, 4), reset=True, multiappliance=True, duration=1, compile="secret.sh")
    )
    (folder / "0-ReadMeFirst.ipynb").write_text(json.dumps(HOOKS_README, indent=1))
    (folder / "README.md").write_text("# Hooks\n")
    (folder / "LICENSE.md").write_text("CC BY-SA 4.0\n")
    (layer / "variables").mkdir()
    (layer / "variables" / "WKSHP-Hooks.yml").write_text(
        f"IP-WKSHP-Hooks: 10.0.0.10\nHTTPPORT-WKSHP-Hooks: 14151\nGREETING: hello\n"
        f"APPLIANCE_DIR: {appliance}\n"
    )
    scripts = layer / "scripts"
    scripts.mkdir()
    (scripts / "create-WKSHP-Hooks.sh").write_text(
        'echo "create $WOD_SEAT $WODRTARGET $HTTPPORT $WOD_USERNAME $stdid" \\\n'
        '  >> "$APPLIANCE_DIR/log"\n'
        'mkdir -p "$APPLIANCE_DIR/$WODRTARGET"\n'
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
