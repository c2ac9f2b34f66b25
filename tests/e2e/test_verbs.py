"""Every verb on a real JupyterHub, in both account modes, with a hook-script workshop whose
appliance is a local folder (per-seat target and ports), idempotence, and a CREATE killed
half-way then purged."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import TypedDict

import httpx
import psutil
import pytest
from sqlalchemy import select

from tests.conftest import ROOT
from tests.e2e.conftest import UID_BASE, SeatBlock, wait_for
from tests.e2e.test_end_to_end import credentials, login
from tests.stack import LocalStack, local_stack, settings_env, stack_settings
from wod.db.models import Job, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import SeatState

pytestmark = pytest.mark.hub
MODES = ["hub", "system"]


class SystemSeats(TypedDict, total=False):
    """What :func:`stack_settings` is told in system mode."""

    students_dir: Path
    singleuser_venv: Path
    uid_base: int


@pytest.fixture(params=MODES)
def mode_stack(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    hook_layer: Path,
    seat_block: SeatBlock,
) -> Iterator[LocalStack]:
    mode = request.param
    extra: SystemSeats = {}
    if mode == "system":
        extra = {
            "students_dir": request.getfixturevalue("system_students"),
            "singleuser_venv": request.getfixturevalue("singleuser_venv"),
            "uid_base": UID_BASE,
        }
    settings = stack_settings(tmp_path, database_url, content=[hook_layer], mode=mode, **extra)
    with local_stack(settings, clock, seat_block.seats(20)) as stack:
        yield stack


def mails(stack: LocalStack) -> list[dict[str, str]]:
    answer: list[dict[str, str]] = httpx.get(f"{stack.api.url}/api/v1/dev/mail").json()
    return answer


def wait_mail(stack: LocalStack, to: str, part: str) -> dict[str, str]:
    return wait_for(
        lambda: next((m for m in mails(stack) if m["to"] == to and part in m["subject"]), None),
        90,
        f"'{part}' to {to}",
    )


def appliance_log(layer: Path) -> list[str]:
    return (layer.parent / "appliance" / "log").read_text().splitlines()


def test_hook_workshop_through_its_whole_life(
    mode_stack: LocalStack, clock: FakeClock, hook_layer: Path, seat_block: SeatBlock
) -> None:
    stack, settings, b = mode_stack, mode_stack.ctx.settings, seat_block
    people = ["first@example.org", "second@example.org"]
    for person in people:
        body = {
            "workshop": "WKSHP-Hooks",
            "email": person,
            "name": "P",
            "company": "C",
            "accept_terms": True,
        }
        assert httpx.post(f"{stack.api.url}/api/v1/registrations", json=body).status_code == 201
    creds = [credentials(wait_mail(stack, p, "credentials")["text"]) for p in people]
    assert [c[0] for c in creds] == [b.user(1), b.user(2)]

    with closing(login(settings.hub.public_url, *creds[1])) as web:
        readme = web.get(f"/user/{b.user(2)}/api/contents/WKSHP-Hooks/0-ReadMeFirst.ipynb").json()
        text = "".join(readme["content"]["cells"][0]["source"])
        assert text == f"seat {b.n(2)} target 10.0.0.11 port 14152 alias 14151 hello"
        # the token the create hook minted and handed back, in this seat's notebook only
        tokens = [
            (hook_layer.parent / "appliance" / f"token-{b.n(i)}").read_text().strip()
            for i in (1, 2)
        ]
        assert len(tokens[1]) == 32 and tokens[0] != tokens[1]
        assert "".join(readme["content"]["cells"][1]["source"]) == f"token {tokens[1]}"
    log = appliance_log(hook_layer)
    assert f"create {b.n(1)} 10.0.0.10 14151 {b.user(1)} {b.n(1)}" in log
    assert f"create {b.n(2)} 10.0.0.11 14152 {b.user(2)} {b.n(2)}" in log
    assert f"post-copy {b.n(2)} hello" in log
    home = settings.backend.students_dir / b.user(2)
    key = (home / ".ssh" / "id_ed25519").stat()  # an appliance workshop: the seat's key pair
    assert key.st_mode & 0o777 == 0o600
    if settings.backend.account_mode == "system":
        info = home.stat()
        assert info.st_uid == b.uid(2) and info.st_mode & 0o777 == 0o700
        assert key.st_uid == b.uid(2)

    clock.advance(timedelta(hours=2))
    stack.wake()
    for person in people:
        wait_mail(stack, person, "Thanks")

    def all_free() -> bool:
        with stack.ctx.db.read() as s:
            return all(seat.state is SeatState.free for seat in s.scalars(select(Seat)))

    wait_for(all_free, 60, "the seats to be reset and free")
    log = appliance_log(hook_layer)
    assert f"cleanup {b.n(1)}" in log and f"cleanup {b.n(2)}" in log  # exit 3: logged, not fatal
    assert f"reset {b.n(1)}-{b.n(1)} 10.0.0.10" in log
    assert f"reset {b.n(2)}-{b.n(2)} 10.0.0.11" in log
    assert not (hook_layer.parent / "appliance" / "10.0.0.10").exists()
    assert not home.exists()
    with stack.ctx.db.read() as s:
        jobs = list(s.scalars(select(Job).order_by(Job.id)))
    assert sorted(j.verb.value for j in jobs) == ["CLEANUP"] * 2 + ["CREATE"] * 2 + ["RESET"] * 2
    creates = [j.log for j in jobs if j.verb.value == "CREATE"]
    assert all("handed back SEATTOKEN" in log for log in creates)
    assert not any(token in log for token in tokens for log in creates)  # never in a job log
    cleanup = next(j for j in jobs if j.verb.value == "CLEANUP")
    assert "exited with 3" in cleanup.log and "going on" in cleanup.log
    with pytest.raises(PermissionError):
        login(settings.hub.public_url, *creds[0])


def action(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(settings_env(stack.ctx.settings))
    return subprocess.run(
        [sys.executable, "-m", "wod", "test-action", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def hub_user(stack: LocalStack, name: str) -> int:
    settings = stack.ctx.settings
    return httpx.get(
        f"{settings.hub.api_url}/users/{name}",
        headers={"Authorization": f"token {settings.hub.api_token.get_secret_value()}"},
    ).status_code


def seat_processes(stack: LocalStack, name: str) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["uids"]):
        try:
            if stack.ctx.settings.backend.account_mode == "system":
                if process.info["uids"].real == UID_BASE + int(name.removeprefix("student")):
                    found.append(process)
            elif process.environ().get("JUPYTERHUB_USER") == name:
                found.append(process)
        except psutil.Error:
            continue
    return found


def test_each_verb_twice_and_a_killed_create(
    mode_stack: LocalStack, hook_layer: Path, seat_block: SeatBlock
) -> None:
    stack, b = mode_stack, seat_block
    hub_url = stack.ctx.settings.hub.public_url
    third, fourth = b.user(3), b.user(4)
    home = stack.ctx.settings.backend.students_dir / third
    passwords = []
    for _ in range(2):
        result = action(stack, "CREATE", "WKSHP-Hooks", str(b.n(3)))
        assert result.returncode == 0, result.stdout + result.stderr
        passwords.append(result.stdout.split(f"credentials: {third} / ")[1].split()[0])
    assert passwords[0] != passwords[1]
    login(hub_url, third, passwords[1]).close()  # the second password works …
    with pytest.raises(PermissionError):
        login(hub_url, third, passwords[0]).close()  # … the first no longer
    assert (home / "WKSHP-Hooks" / "0-ReadMeFirst.ipynb").exists()

    for verb in ("CLEANUP", "RESET", "PURGE"):
        for _ in range(2):
            result = action(stack, verb, "WKSHP-Hooks", str(b.n(3)))
            assert result.returncode == 0, result.stdout + result.stderr
        assert home.exists() is (verb == "CLEANUP")  # a reset workshop keeps it for RESET
        assert hub_user(stack, third) == 404
        with pytest.raises(PermissionError):
            login(hub_url, third, passwords[1]).close()
    assert action(stack, "RESET", "WKSHP-Hooks", f"{b.n(3)},{b.n(4)}").returncode == 0
    refused = action(stack, "CREATE", "WKSHP-Hooks", str(b.n(9)))
    span = f"outside the range {b.n(1)}-{b.n(4)}"
    assert refused.returncode == 1 and span in refused.stderr + refused.stdout

    (hook_layer.parent / "appliance" / "slow").touch()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(settings_env(stack.ctx.settings))
    half = subprocess.Popen(
        [sys.executable, "-m", "wod", "test-action", "CREATE", "WKSHP-Hooks", str(b.n(4))],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    wait_for(
        lambda: (hook_layer.parent / "appliance" / "started").exists(),
        60,
        "the CREATE to reach its create hook",
    )
    os.killpg(half.pid, signal.SIGKILL)
    half.wait(10)
    (hook_layer.parent / "appliance" / "slow").unlink()
    home4 = stack.ctx.settings.backend.students_dir / fourth
    assert home4.exists()  # half-way: the home was reset, the workshop not deployed
    assert not (home4 / "WKSHP-Hooks").exists()
    purged = action(stack, "PURGE", "WKSHP-Hooks", str(b.n(4)))
    assert purged.returncode == 0, purged.stdout + purged.stderr
    assert not home4.exists() and hub_user(stack, fourth) == 404
    assert seat_processes(stack, fourth) == []
    credentials_file = stack.ctx.settings.backend.credentials_dir / fourth
    assert not credentials_file.exists()
