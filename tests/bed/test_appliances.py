"""Appliances against a real second host of the test bed (a network namespace with its own
systemd and sshd): the seat's account and key made there at CREATE, logging in with the seat's
key, the account wiped and the key refused after CLEANUP and RESET, an unplugged appliance; and
the sample workshop WKSHP-SQL101 end to end: ``wod backend setup-appliance`` installs
PostgreSQL on the appliance, a participant's seat runs a notebook's queries in its own database
from a real JupyterHub kernel, and CLEANUP drops it. Root and the bed (a few minutes): run with
``pytest tests/bed`` or ``WOD_TESTBED_TESTS=1`` (tests/bed/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from tests.bed import Testbed
from tests.conftest import SAMPLE_CONTENT
from tests.e2e import conftest as e2e
from tests.e2e.conftest import UID_BASE, SeatBlock, wait_for
from tests.e2e.test_end_to_end import credentials, login, xsrf_of
from tests.e2e.test_kernels_lockout import execute
from tests.factories import make_workshop
from tests.stack import local_stack, stack_settings
from wod.backend.agent import build_verbs
from wod.backend.orders import local_orders
from wod.backend.verbs import Verbs
from wod.cli.main import app
from wod.content.layers import Content
from wod.domain.clock import FakeClock
from wod.hub.client import FakeHub
from wod.settings import ApplianceSettings, Settings
from wod.wire import JobReport, VerbName

WORKSHOP = "WKSHP-Appliance"
SQL = "WKSHP-SQL101"

# The e2e fixtures this module needs: this run's seat numbers, system-mode homes and venv.
seat_block = e2e.seat_block
system_students = e2e.system_students
singleuser_venv = e2e.singleuser_venv


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    """One host, the appliance; removed (and checked to be gone) at the end of the module."""
    testbed = Testbed.create(tmp_path_factory.mktemp("appliance-bed"))
    testbed.up(1)
    prefix = testbed.state.prefix
    try:
        yield testbed
    finally:
        testbed.down()
    assert testbed.leftovers(prefix) == []


def appliance_settings(bed: Testbed) -> dict[str, Any]:
    """The agent reaches the appliance as root with the bed's key, its host key checked."""
    host = bed.host(1)
    return {
        "ssh_key_file": host.key,
        "known_hosts_file": host.known_hosts,
        "connect_timeout": 3.0,
    }


def seat_ssh(
    key: Path, user: str, address: str, *command: str, known_hosts: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``ssh -i KEY user@address COMMAND``, as a participant would with the seat's key; host
    keys checked only against ``known_hosts`` when given."""
    checks = (
        ["-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        if known_hosts is None
        else ["-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
    )
    return subprocess.run(
        [
            "ssh",
            "-i",
            str(key),
            *checks,
            "-o",
            "IdentitiesOnly=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "ConnectTimeout=5",
            "-o",
            "LogLevel=ERROR",
            f"{user}@{address}",
            *command,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def on_appliance(bed: Testbed, command: str) -> str:
    """What ``command`` prints on the appliance, run as root by the test itself."""
    return bed.run(1, command, check=True, timeout=120).stdout.strip()


# ---------------------------------------------------------------- the verbs' appliance step


def verbs_for(
    tmp_path: Path, bed: Testbed, mode: str, students: Path, block: SeatBlock
) -> tuple[Verbs, Content]:
    """This host's verbs in ``mode`` (as the agent builds them), for a workshop whose
    appliance (``monoappliance``) is the bed's host."""
    layer = tmp_path / "content"
    make_workshop(layer, WORKSHOP, block.seats(3), monoappliance=True)
    (layer / "variables").mkdir()
    (layer / "variables" / f"{WORKSHOP}.yml").write_text(f"IP-{WORKSHOP}: {bed.host(1).address}\n")
    settings = Settings(
        content={"paths": [layer]},
        backend={
            "students_dir": students,
            "credentials_dir": tmp_path / "credentials",
            "account_mode": mode,
            "uid_base": UID_BASE,
        },
        appliance=appliance_settings(bed),
    )
    return build_verbs(settings, hub=FakeHub()), Content([layer])


def run_verb(verbs: Verbs, content: Content, verb: VerbName, seat: int) -> JobReport:
    (order,) = local_orders(content, verb, WORKSHOP, (seat, seat))
    return verbs.run(order.job, order.seats)


@pytest.fixture(params=["hub", "system"])
def mode_verbs(
    request: pytest.FixtureRequest, tmp_path: Path, bed: Testbed, seat_block: SeatBlock
) -> tuple[Verbs, Content]:
    mode = str(request.param)
    students = tmp_path / "students"
    if mode == "system":
        students = request.getfixturevalue("system_students")
    return verbs_for(tmp_path, bed, mode, students, seat_block)


def saved_key(key: Path, folder: Path) -> Path:
    """A copy of the seat's private key kept outside its home (which the verbs erase)."""
    folder.mkdir(exist_ok=True)
    copy = folder / f"key-{len(list(folder.iterdir()))}"
    copy.write_bytes(key.read_bytes())
    copy.chmod(0o600)
    return copy


def refused(key: Path, user: str, address: str) -> bool:
    answer = seat_ssh(key, user, address, "true")
    return answer.returncode == 255 and "Permission denied" in answer.stderr


SKEL = ".bash_logout\n.bashrc\n.profile"  # Debian's /etc/skel, what a wiped home holds


def test_the_seat_logs_in_to_its_appliance_with_its_key_until_cleanup(
    mode_verbs: tuple[Verbs, Content], bed: Testbed, seat_block: SeatBlock, tmp_path: Path
) -> None:
    verbs, content = mode_verbs
    address, user, seat = bed.host(1).address, seat_block.user(1), seat_block.n(1)
    report = run_verb(verbs, content, "CREATE", seat)
    assert report.ok, report.log
    home = verbs.home(user)
    key = home / ".ssh" / "id_ed25519"
    info = key.stat()
    assert info.st_mode & 0o777 == 0o600
    system = verbs.accounts.mode == "system"
    assert info.st_uid == (seat_block.uid(1) if system else os.getuid())
    for step in (
        f"appliance {address}: preparing {user} as root",
        f"appliance {address}: account {user} done",
        f"appliance {address}: 1 host key(s) added to the seat's known_hosts",
    ):
        assert step in report.log
    assert "PRIVATE KEY" not in report.log

    logged_in = seat_ssh(key, user, address, "id", "-un")
    assert logged_in.returncode == 0, logged_in.stderr
    assert logged_in.stdout.strip() == user
    # the appliance's host key is in the seat's known_hosts: strict checking passes
    strict = seat_ssh(key, user, address, "true", known_hosts=home / ".ssh" / "known_hosts")
    assert strict.returncode == 0, strict.stderr
    public = key.with_suffix(".pub").read_text().strip()
    assert on_appliance(bed, f"cat /home/{user}/.ssh/authorized_keys") == public
    ssh_dir = f"/home/{user}/.ssh"
    modes = on_appliance(bed, f"stat -c '%U %a' {ssh_dir} {ssh_dir}/authorized_keys")
    assert modes.splitlines() == [f"{user} 700", f"{user} 600"]

    # the participant leaves a file and a process on the appliance; the next holder finds none
    traces = "touch notes.txt; nohup sleep 600 >/dev/null 2>&1 </dev/null &"
    assert seat_ssh(key, user, address, traces).returncode == 0
    wait_for(lambda: bed.run(1, f"pgrep -u {user} sleep").returncode == 0, 30, "the process")
    first = saved_key(key, tmp_path / "keys")
    again = run_verb(verbs, content, "CREATE", seat)
    assert again.ok, again.log
    assert on_appliance(bed, f"ls -A /home/{user}") == SKEL + "\n.ssh"
    assert bed.run(1, f"pgrep -u {user}").returncode == 1  # the process ended
    assert refused(first, user, address)  # the earlier holder's key no longer opens it

    assert seat_ssh(key, user, address, "touch notes.txt").returncode == 0
    second = saved_key(key, tmp_path / "keys")
    cleaned = run_verb(verbs, content, "CLEANUP", seat)
    assert cleaned.ok, cleaned.log
    assert f"home of {user} wiped, its keys removed" in cleaned.log
    assert on_appliance(bed, f"ls -A /home/{user}") == SKEL
    assert refused(second, user, address) and not home.exists()

    # RESET wipes the appliance's account too, and can run twice
    assert run_verb(verbs, content, "CREATE", seat).ok
    third = saved_key(key, tmp_path / "keys")
    for _ in range(2):
        reset = run_verb(verbs, content, "RESET", seat)
        assert reset.ok, reset.log
        assert f"home of {user} wiped, its keys removed" in reset.log
    assert refused(third, user, address)
    assert on_appliance(bed, f"ls -A /home/{user}") == SKEL


def test_an_unplugged_appliance_fails_create_and_cleanup_goes_on(
    tmp_path: Path, bed: Testbed, seat_block: SeatBlock
) -> None:
    verbs, content = verbs_for(tmp_path, bed, "hub", tmp_path / "students", seat_block)
    address, seat = bed.host(1).address, seat_block.n(2)
    bed.cut(1)
    try:
        report = run_verb(verbs, content, "CREATE", seat)
        assert not report.ok
        assert (report.error or "").startswith(f"appliance {address}: cannot log in as root: ")
        cleaned = run_verb(verbs, content, "CLEANUP", seat)
        assert cleaned.ok, cleaned.log
        assert f"appliance {address}: cannot log in" in cleaned.log
        assert "(not fatal for a CLEANUP: going on)" in cleaned.log
    finally:
        bed.heal(1)
    wait_for(lambda: run_verb(verbs, content, "CREATE", seat).ok, 60, "the appliance back")


# ---------------------------------------------------------------- WKSHP-SQL101 end to end


def sql_overlay(tmp_path: Path, bed: Testbed, block: SeatBlock) -> Path:
    """A private layer over the sample content: WKSHP-SQL101 active, on this run's seats, with
    the bed's host as its appliance (the sample's hooks and notebooks unchanged)."""
    overlay = tmp_path / "private"
    shutil.copytree(SAMPLE_CONTENT / SQL, overlay / SQL)
    spec = overlay / SQL / "wod.yml"
    low, high = block.seats(3)
    text = spec.read_text().replace("active: false", "active: true")
    spec.write_text(re.sub(r"(?m)^range: .*$", f"range: [{low},{high}]", text))
    (overlay / "variables").mkdir()
    (overlay / "variables" / f"{SQL}.yml").write_text(f"IP-{SQL}: {bed.host(1).address}\n")
    return overlay


def setup_appliance(layers: list[Path], bed: Testbed, tmp_path: Path) -> str:
    """``wod backend setup-appliance WKSHP-SQL101`` on this host; its output."""
    host = bed.host(1)
    result = CliRunner().invoke(
        app,
        ["backend", "setup-appliance", SQL],
        env={
            "WOD_CONTENT__PATHS": json.dumps([str(p) for p in layers]),
            "WOD_BACKEND__STUDENTS_DIR": str(tmp_path / "setup-students"),
            "WOD_BACKEND__CREDENTIALS_DIR": str(tmp_path / "setup-credentials"),
            "WOD_APPLIANCE__SSH_KEY_FILE": str(host.key),
            "WOD_APPLIANCE__KNOWN_HOSTS_FILE": str(host.known_hosts),
        },
    )
    assert result.exit_code == 0, result.output
    return result.output


def run_cells(
    hub_url: str, web: httpx.Client, username: str, path: str, cells: list[str]
) -> list[str]:
    """Run ``cells`` one after the other in a new bash kernel of the seat; their outputs."""
    base = f"/user/{username}/api"
    started = web.post(
        f"{base}/sessions",
        json={"path": path, "type": "notebook", "kernel": {"name": "bash"}},
        headers={"X-XSRFToken": xsrf_of(web, f"/user/{username}/")},
    )
    assert started.status_code == 201, started.text
    kernel = started.json()["kernel"]["id"]
    cookies = "; ".join(f"{c.name}={c.value}" for c in web.cookies.jar)
    ws_url = hub_url.replace("http", "ws") + f"{base}/kernels/{kernel}/channels"
    return [asyncio.run(execute(ws_url, cookies, code))[1] for code in cells]


def psql(bed: Testbed, query: str, name: str, database: str = "postgres") -> str:
    """``query``'s answer on the appliance, asked as PostgreSQL's superuser; ``:'name'`` in it
    stands for ``name``."""
    argv = ["runuser", "-u", "postgres", "--", "psql", "-X", "-At", "-d", database]
    answer = bed.run(1, [*argv, "-v", f"name={name}"], input_text=query, check=True)
    return answer.stdout.strip()


def code_cells(web: httpx.Client, username: str, notebook: str) -> list[str]:
    """The code cells of the seat's copy of ``notebook``, as the participant sees them."""
    answer = web.get(f"/user/{username}/api/contents/{SQL}/{notebook}").json()
    cells = answer["content"]["cells"]
    return ["".join(c["source"]) for c in cells if c["cell_type"] == "code"]


@pytest.mark.hub
def test_sql101_from_setup_to_cleanup_on_a_real_appliance(
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    bed: Testbed,
    seat_block: SeatBlock,
    system_students: Path,
    singleuser_venv: Path,
) -> None:
    address = bed.host(1).address
    layers = [SAMPLE_CONTENT, sql_overlay(tmp_path, bed, seat_block)]
    output = setup_appliance(layers, bed, tmp_path)
    assert "  | PostgreSQL 15" in output and "setup-WKSHP-SQL101.sh ok" in output
    assert on_appliance(bed, "systemctl is-active postgresql") == "active"
    assert "setup-WKSHP-SQL101.sh ok" in setup_appliance(layers, bed, tmp_path)  # runs again

    settings = stack_settings(
        tmp_path,
        database_url,
        content=layers,
        mode="system",
        students_dir=system_students,
        singleuser_venv=singleuser_venv,
        uid_base=UID_BASE,
    )
    appliance = ApplianceSettings(**appliance_settings(bed))
    settings = settings.model_copy(update={"appliance": appliance})
    with local_stack(settings, clock, seat_block.seats(20)) as stack:
        email = "sql@example.org"
        body = {"workshop": SQL, "email": email, "name": "S", "company": "C", "accept_terms": True}
        answer = httpx.post(f"{stack.api.url}/api/v1/registrations", json=body)
        assert answer.status_code == 201, answer.text

        def mail(subject: str) -> dict[str, str] | None:
            found: list[dict[str, str]] = httpx.get(f"{stack.api.url}/api/v1/dev/mail").json()
            return next((m for m in found if m["to"] == email and subject in m["subject"]), None)

        sent = wait_for(lambda: mail("credentials"), 120, "the credentials")
        username, password = credentials(sent["text"])
        assert username == seat_block.user(1)
        owner = "SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'name'"
        assert psql(bed, owner, username) == username  # the create hook's, the seat's own

        hub_url = settings.hub.public_url
        web = login(hub_url, username, password)
        readme = code_cells(web, username, "0-ReadMeFirst.ipynb")
        lab = code_cells(web, username, "1-WKSHP-Tables-and-Rows.ipynb")
        assert f"{username}@{address} psql" in readme[0]  # rendered for this seat
        # the helper and "who am I" of the welcome notebook, then lab 1's first statements
        cells = [*readme[:2], *lab[1:4]]
        outputs = run_cells(hub_url, web, username, f"{SQL}/0-ReadMeFirst.ipynb", cells)
        web.close()
        assert f"it talks to database {username} on {address}" in outputs[0]
        assert re.search(rf"\b{username}\s*\|\s*{username}\b", outputs[1]), outputs[1]
        assert re.search(r"plants\s+-+\s+7\b", outputs[3]), outputs[3]
        vegetables = re.findall(r"[A-Z][a-z]+", outputs[4])
        assert vegetables == ["Tomato", "Courgette", "Lettuce"], outputs[4]
        assert psql(bed, "SELECT count(*) FROM plants", username, username) == "7"

        clock.advance(timedelta(hours=3))
        stack.wake()
        wait_for(lambda: mail("Thanks"), 120, "the final email")
    assert psql(bed, "SELECT count(*) FROM pg_database WHERE datname = :'name'", username) == "0"
    assert psql(bed, "SELECT count(*) FROM pg_roles WHERE rolname = :'name'", username) == "0"
    assert on_appliance(bed, f"ls -A /home/{username}") == SKEL
