"""The seats of ``wod up`` run as root, on a real JupyterHub: the mode ``wod up`` chooses for root
(:func:`choose_local_seats`, the system mode), with its folders and environment as
:func:`up_environment` gives them to every process. A code cell of one seat, run through the
Jupyter kernel as a participant runs it, is not root and reaches neither another seat's home,
the credential store, the hub's token nor the data folder; and a hub of the hub mode started as
root stops at once, saying why."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CONTENT
from tests.e2e.conftest import UID_BASE, SeatBlock
from tests.e2e.test_end_to_end import login
from tests.e2e.test_kernels_lockout import execute, register, start_kernel
from tests.stack import SPAWN_TIMEOUT, LocalStack, local_stack
from wod.domain.clock import FakeClock
from wod.hub.config import write_config
from wod.hub.modes.hub import ROOT_REFUSED
from wod.hub.modes.local import (
    LocalSeats,
    choose_local_seats,
    prepare_local_seats,
    ready_seat_accounts,
)
from wod.ports import free_port, port_is_free
from wod.settings import Settings, UpSettings

pytestmark = pytest.mark.hub
WORKSHOP = "WKSHP-Python101"
NOTEBOOK = f"{WORKSHOP}/0-ReadMeFirst.ipynb"


def hub_port() -> int:
    """A free port whose neighbours +80 and +81 (hub process, proxy api) are free too."""
    port = free_port()
    while not all(port_is_free(port + n) for n in (80, 81)):
        port = free_port()
    return port


def sample_workshop(layer: Path, seats: tuple[int, int]) -> None:
    """The sample Python 101 on the run's own seats (its notebooks as participants get them)."""
    shutil.copytree(SAMPLE_CONTENT / WORKSHOP, layer / WORKSHOP)
    spec = layer / WORKSHOP / "wod.yml"
    text = spec.read_text().replace("range: [1,10]", f"range: [{seats[0]},{seats[1]}]")
    spec.write_text(text.replace("capacity: 10", "capacity: 2"))


def up_settings(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], database_url: str, folder: Path
) -> Settings:
    """The settings of ``wod up``'s processes (its environment), with the test's database,
    content (in ``folder``) and quick loops."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return Settings(
        database_url=database_url,
        content={"paths": [folder / "content"]},
        backend={"poll_interval": 0.1, "content_cache": folder / "content-cache"},
        hub={"spawn_timeout": SPAWN_TIMEOUT},
        scheduler={"interval": 0.2},
        outbox={"interval": 0.2},
    )


@dataclass
class UpStack:
    stack: LocalStack
    seats: LocalSeats
    data: Path


@pytest.fixture
def root_up(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    database_url: str,
    clock: FakeClock,
    system_students: Path,
    singleuser_venv: Path,
    seat_block: SeatBlock,
) -> Iterator[UpStack]:
    from wod.cli.serve import up_environment

    base = system_students.parent  # a folder of /var/tmp every user may enter, removed after
    data = base / "data"
    up = UpSettings(uid_base=UID_BASE, seats_root=base, singleuser_venv=singleuser_venv)
    seats = choose_local_seats(data, up, os.geteuid())  # what wod up decides, as root
    assert seats.mode == "system" and seats.isolated
    prepare_local_seats(seats, data, ["python3"])
    first, last = seat_block.seats(2)
    ready_seat_accounts(seats, range(first, last + 1))  # removed by system_students
    layer = tmp_path / "content"
    sample_workshop(layer, seat_block.seats(2))
    env = up_environment(data, free_port(), hub_port(), free_port(), up)
    settings = up_settings(monkeypatch, env, database_url, tmp_path)
    with local_stack(settings, clock, seat_block.seats(2)) as stack:
        yield UpStack(stack, seats, data)


#: Run in a seat's kernel: what this user may do with each path, and who it is.
PROBE = """
import json, os, subprocess

def probe(kind, path):
    try:
        if kind == "list":
            os.listdir(path)
        elif kind == "read":
            with open(path, "rb") as handle:
                handle.read(1)
        else:
            with open(path, "a") as handle:
                handle.write("x")
        return "allowed"
    except PermissionError:
        return "denied"
    except OSError as exc:
        return type(exc).__name__

found = {name: probe(kind, path) for name, (kind, path) in json.loads(%r).items()}
found["uid"] = subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip()
print(json.dumps(found))
"""


def test_a_seat_of_wod_up_as_root_reaches_nothing_of_the_others(
    root_up: UpStack, seat_block: SeatBlock
) -> None:
    stack, data = root_up.stack, root_up.data
    students = root_up.seats.students_dir
    me, other = seat_block.user(1), seat_block.user(2)
    username, password = register(stack, "one@example.org", WORKSHOP)
    assert username == me
    assert register(stack, "two@example.org", WORKSHOP)[0] == other
    paths = {
        "own home": ("list", str(students / me)),
        "world-readable file": ("read", "/etc/passwd"),
        "other's home": ("list", str(students / other)),
        "other's notebook": ("read", str(students / other / NOTEBOOK)),
        "into other's home": ("write", str(students / other / "planted")),
        "shadow passwords": ("read", "/etc/shadow"),
        "credential store": ("list", str(stack.ctx.settings.backend.credentials_dir)),
        "hub token file": ("read", str(data / "hub" / "api_token")),
        "hub config": ("read", str(data / "hub" / "jupyterhub_config.py")),
        "data folder": ("list", str(data)),
        "secret key": ("read", str(data / "secret_key")),
    }
    assert (data / "hub" / "api_token").is_file() and (data / "secret_key").is_file()
    hub_url = stack.ctx.settings.hub.public_url
    with closing(login(hub_url, username, password)) as web:
        ws_url = start_kernel(hub_url, web, username, NOTEBOOK, "python3")
        cookies = "; ".join(f"{c.name}={c.value}" for c in web.cookies.jar)
        _, out = asyncio.run(execute(ws_url, cookies, PROBE % json.dumps(paths)))
    found = json.loads(out)
    assert found.pop("uid") == str(UID_BASE + seat_block.n(1))  # the seat's own user, not 0
    assert found.pop("own home") == "allowed" and found.pop("world-readable file") == "allowed"
    assert found == dict.fromkeys(found, "denied"), found
    assert not (students / other / "planted").exists()
    readme = (students / me / NOTEBOOK).read_text()  # what the notebook tells the participant
    assert "nobody else can see or change your files" in readme
    assert "does not keep seats apart" not in readme


def test_a_hub_mode_hub_started_as_root_stops_saying_why(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("the refusal is of root (CI runs as root)")
    port = hub_port()
    settings = Settings(
        hub={
            "dir": tmp_path / "hub",
            "port": port,
            "internal_port": port + 80,
            "proxy_api_port": port + 81,
            "api_token": "t" * 40,
        },
        backend={"account_mode": "hub", "students_dir": tmp_path / "students"},
    )
    config = write_config(settings)  # the config refuses, whoever starts the hub
    hub = Path(sys.executable).parent / "jupyterhub"
    ran = subprocess.run(
        [str(hub), "-f", str(config)],
        cwd=tmp_path / "hub",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode != 0
    assert ROOT_REFUSED in ran.stdout + ran.stderr
    assert port_is_free(port)  # nothing was left listening
