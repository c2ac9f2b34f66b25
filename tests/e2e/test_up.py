"""``wod up`` as a newcomer runs it: one command, everything answers, Ctrl-C stops it all, and a
second run finds the data of the first. As root (CI) it runs its seats in the system mode, as
Linux users; as anyone else in the hub mode, and says that seats are not isolated."""

from __future__ import annotations

import os
import pwd
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.conftest import PG_URL, ROOT
from tests.e2e.conftest import UID_BASE, up_seats, wait_for
from wod.ports import free_port, port_is_free

pytestmark = pytest.mark.hub


@pytest.fixture
def up_seats_env() -> Iterator[dict[str, str]]:
    """The ``up.*`` settings of the test's wod up (as root: the tests' seat accounts)."""
    with up_seats() as seats:
        yield seats.env


def up_env(database_url: str, seats: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    if PG_URL:
        env["WOD_DATABASE_URL"] = database_url
    return {**env, **seats}


@contextmanager
def wod_up(
    data_dir: Path, ports: dict[str, int], database_url: str, seats: dict[str, str]
) -> Iterator[list[str]]:
    env = up_env(database_url, seats)
    log = data_dir.parent / f"up-{len(list(data_dir.parent.glob('up-*')))}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "wod",
                "up",
                "--data-dir",
                str(data_dir),
                "--api-port",
                str(ports["api"]),
                "--hub-port",
                str(ports["hub"]),
                "--smtp-port",
                str(ports["smtp"]),
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    lines: list[str] = []
    try:
        wait_for(
            lambda: "wod is up" in log.read_text() or process.poll() is not None,
            90,
            "wod up to be ready",
        )
        assert process.poll() is None, log.read_text()
        yield lines
    finally:
        process.send_signal(signal.SIGINT)
        code = process.wait(60)
        lines.extend(log.read_text().splitlines())
        assert code == 0, log.read_text()


def run_second_up(
    data_dir: Path, ports: dict[str, int], database_url: str, seats: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    env = up_env(database_url, seats)
    args = ["--data-dir", str(data_dir)]
    for name in ("api", "hub", "smtp"):
        args += [f"--{name}-port", str(ports[name])]
    return subprocess.run(
        [sys.executable, "-m", "wod", "up", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def credentials_for(api: str, email: str) -> bool:
    mail = httpx.get(f"{api}/api/v1/dev/mail").json()
    return any(m["to"] == email and "credentials" in m["subject"] for m in mail)


def test_up_runs_everything_and_stops_cleanly(
    tmp_path: Path, database_url: str, up_seats_env: dict[str, str]
) -> None:
    hub_port = free_port()
    while not all(port_is_free(hub_port + n) for n in (80, 81)):
        hub_port = free_port()
    ports = {"api": free_port(), "hub": hub_port, "smtp": free_port()}
    api = f"http://127.0.0.1:{ports['api']}"
    data = tmp_path / "state"
    with wod_up(data, ports, database_url, up_seats_env) as output:
        assert httpx.get(f"{api}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{ports['hub']}/hub/api/").status_code == 200
        assert httpx.get(f"{api}/").status_code == 200
        body = {
            "workshop": "WKSHP-Shell101",
            "email": "newcomer@example.org",
            "name": "New",
            "company": "Comer",
            "accept_terms": True,
        }
        assert httpx.post(f"{api}/api/v1/registrations", json=body).status_code == 201

        def credentials() -> bool:
            mail = httpx.get(f"{api}/api/v1/dev/mail").json()
            return any("credentials" in m["subject"] for m in mail)

        wait_for(credentials, 60, "the credentials email")

        # a second wod up on the same data folder, other ports: refused at once, naming the
        # first; the first keeps its proxy, its hub configuration and its agent's token
        token_before = (data / "agent_token").read_text()
        other = {"api": free_port(), "hub": free_port(), "smtp": free_port()}
        second = run_second_up(data, other, database_url, up_seats_env)
        refusal = second.stdout + second.stderr
        assert second.returncode == 2, refusal
        assert re.search(r"is used by another wod up \(pid \d+\)", refusal), refusal
        assert (data / "agent_token").read_text() == token_before
        body2 = {**body, "email": "second-try@example.org"}
        assert httpx.post(f"{api}/api/v1/registrations", json=body2).status_code == 201
        wait_for(lambda: credentials_for(api, "second-try@example.org"), 60, "its credentials")

        password_file = data / "admin_password"  # the console's first user, made by wod up
        assert password_file.stat().st_mode & 0o777 == 0o600
        with httpx.Client(base_url=api) as browser:
            browser.get("/admin/login")
            form = {
                "username": "admin",
                "password": password_file.read_text().strip(),
                "csrf_token": browser.cookies["wod_csrf"],
            }
            assert browser.post("/admin/login", data=form).headers["location"] == "/admin"
            assert "Live registrations" in browser.get("/admin").text
    text = "\n".join(output)
    for url in (f"{api}/", f"{api}/dev/mail", f"{api}/admin", f"http://127.0.0.1:{ports['hub']}/"):
        assert url in text
    assert "stopped" in text
    for port in (ports["api"], ports["hub"], ports["smtp"], ports["hub"] + 80):
        assert port_is_free(port), f"port {port} still taken after Ctrl-C"
    assert not (data / "hub" / "jupyterhub.pid").exists()

    first_password = password_file.read_text()
    key = (data / "secret_key").read_text()
    with wod_up(data, ports, database_url, up_seats_env) as again_output:
        seats = {w["slug"]: w["seats_left"] for w in httpx.get(f"{api}/api/v1/workshops").json()}
        assert seats == {"WKSHP-Python101": 10, "WKSHP-Shell101": 8}  # the first run's seats
        again = httpx.post(f"{api}/api/v1/registrations", json=body)
        assert again.status_code == 409 and again.json()["code"] == "already_registered"
    assert password_file.read_text() == first_password  # made once, never reset
    assert (data / "agent_token").read_text() == token_before  # kept, never replaced
    assert (data / "agent_token").stat().st_mode & 0o777 == 0o600
    assert "was replaced" not in "\n".join(again_output)
    assert "user 'admin' created" not in "\n".join(again_output)
    assert (data / "secret_key").read_text() == key  # wod up's own, made once, kept
    assert (data / "secret_key").stat().st_mode & 0o777 == 0o600
    assert data.stat().st_mode & 0o777 == 0o700  # the database and secrets: no other user's
    assert "the mail catcher" in text and "not for an event" in text
    if os.geteuid() == 0:  # the system mode: each seat its own Linux user
        assert "seats: Linux users studentN with uid" in text and "NOT isolated" not in text
        assert pwd.getpwnam("student11").pw_uid == UID_BASE + 11  # the Shell101 seat
    else:
        assert "seats are NOT isolated from each other" in text
