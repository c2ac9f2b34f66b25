"""The ``systemd`` host mode on a real host of the test bed (systemd as PID 1): wod installed
from a wheelhouse of this checkout, a JupyterHub whose seats' servers are systemd units with
the limits of their workshop's wod.yml, two seats made by ``wod test-action CREATE``.

Seat A (student1) runs a CPU burner (throttled to its quota), a memory hog beyond its limit
(the OOM killer of its own cgroup kills it) and a fork bomb (its tasks limit refuses forks);
seat B (student2) keeps answering: the round trip of a trivial cell is measured before and
during each (printed, not asserted). From inside seat A's unit, the other seat's home, the
hub's folder and the agent's settings cannot be read and the system cannot be written. CLEANUP
logs what was contained and leaves no process of seat A nor its unit. Root and the bed (a few
minutes): run with ``pytest tests/bed`` or ``WOD_TESTBED_TESTS=1`` (tests/bed/conftest.py)."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.bed import Testbed
from tests.e2e.conftest import wait_for
from tests.e2e.test_end_to_end import login
from tests.e2e.test_kernels_lockout import execute, start_kernel

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "tests" / "deploy" / "content" / "WKSHP-Deploy101" / "0-ReadMeFirst.ipynb"
WORKSHOP = "WKSHP-Limits101"
#: The workshop's limits (wod.yml) and the location's defaults (hub.toml): the workshop's win.
MEMORY_MB, CPU, TASKS = 300, 0.5, 80
SETTINGS = """\
mode = "production"
secret_key = "{secret}"
[backend]
account_mode = "systemd"
uid_base = 2000
students_dir = "/srv/wod/students"
credentials_dir = "/var/lib/wod/credentials"
content_cache = "/var/lib/wod/content-cache"
token = "{agent_token}"
[hub]
host = "0.0.0.0"
port = 8000
public_url = "http://{address}:8000"
api_url = "http://127.0.0.1:8000/hub/api"
api_token = "{token}"
dir = "/srv/wod/hub"
singleuser_venv = "/opt/wod-singleuser"
proxy_command = "/usr/bin/configurable-http-proxy"
kernels = ["python3"]
seat_memory = "200M"
seat_cpu = 0.25
seat_tasks = 64
[content]
paths = ["/srv/wod/content/main"]
"""
WOD_YML = f"""\
name: 'Limits 101'
description: 'The seats of the systemd mode test.'
category: ['Tests']
duration: 1
presenter: 'The wod test suite'
role: tests
avatar: ""
replayLink: ""
replayId: 1
badgeImg: ""
active: true
capacity: 2
priority: 1
range: [1,2]
reset: false
ldap: false
varpass: false
compile: false
beta: false
monoappliance: false
multiappliance: false
limits:
  memory: {MEMORY_MB}M
  cpu: {CPU}
  tasks: {TASKS}
"""
WOD = "/opt/wod/bin/wod --config /etc/wod/hub.toml"


@dataclass
class Seat:
    username: str
    password: str
    web: httpx.Client
    ws_url: str
    cookies: str

    def run(self, code: str) -> str:
        count, out = asyncio.run(execute(self.ws_url, self.cookies, code))
        assert count is not None
        return out


@dataclass
class Systemd:
    bed: Testbed
    hub_url: str
    seats: dict[str, Seat]

    def sh(self, command: str, timeout: float = 300.0) -> str:
        return self.bed.run(1, command, check=True, timeout=timeout).stdout

    def unit_file(self, username: str, controller: str, name: str) -> str:
        unit = f"jupyter-{username}-singleuser.service"
        return self.sh(f"cat /sys/fs/cgroup/{controller}/system.slice/{unit}/{name}")


def rtt(seat: Seat, n: int = 5) -> float:
    """Median round trip of a trivial cell (ms)."""
    times: list[float] = []
    for _ in range(n):
        start = time.monotonic()
        assert seat.run("print(1 + 1)").strip() == "2"
        times.append((time.monotonic() - start) * 1000)
    return statistics.median(times)


def rtt_during(seat: Seat, seconds: float) -> float:
    """Median round trip of trivial cells run one after the other for ``seconds`` (ms)."""
    times: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end or len(times) < 3:
        start = time.monotonic()
        assert seat.run("print(1 + 1)").strip() == "2"
        times.append((time.monotonic() - start) * 1000)
    return statistics.median(times)


def keyed(text: str) -> dict[str, int]:
    return {k: int(v) for k, _, v in (line.partition(" ") for line in text.splitlines()) if v}


def _wheelhouse(target: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check", "-w",
         str(target), "-c", str(ROOT / "requirements" / "constraints.txt"), f"{ROOT}[hub]"],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip


def _content_tar(folder: Path) -> bytes:
    workshop = folder / "main" / WORKSHOP
    workshop.mkdir(parents=True)
    (workshop / "wod.yml").write_text(WOD_YML)
    shutil.copy(NOTEBOOK, workshop / "0-ReadMeFirst.ipynb")
    (workshop / "LICENSE.md").write_text("CC0\n")
    archive = folder / "content.tar"
    with tarfile.open(archive, "w") as tar:
        tar.add(folder / "main", arcname="main")
    return archive.read_bytes()


@pytest.fixture(scope="module")
def systemd_hub() -> Iterator[Systemd]:
    with tempfile.TemporaryDirectory(prefix="wod-systemd-bed-") as tmp:
        wheels = Path(tmp) / "wheels"
        _wheelhouse(wheels)
        state = Path(tmp) / "state"
        bed = Testbed.create(state, wheelhouse=wheels, memory_disks="4g")
        systemd = None
        try:
            systemd = _deploy(bed, Path(tmp))
            yield systemd
        finally:
            for seat in systemd.seats.values() if systemd else []:
                seat.web.close()
            bed.down()


def _deploy(bed: Testbed, tmp: Path) -> Systemd:
    (host,) = bed.up(1)

    def sh(command: str, timeout: float = 600.0) -> str:
        return bed.run(1, command, check=True, timeout=timeout).stdout

    sh("apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "
       "node-configurable-http-proxy >/dev/null")  # fmt: skip
    sh("python3 -m venv /opt/wod && /opt/wod/bin/pip install -q 'wod[hub]'")
    token, agent_token, secret = (secrets.token_hex(32) for _ in range(3))
    settings = SETTINGS.format(
        address=host.address, token=token, agent_token=agent_token, secret=secret
    )
    sh("mkdir -p /etc/wod /srv/wod/content && chmod 700 /etc/wod")
    bed.run(1, "cat > /etc/wod/hub.toml && chmod 600 /etc/wod/hub.toml", input_text=settings)
    content = _content_tar(tmp / "content")
    subprocess.run(
        [*host.ssh_command("tar -x -C /srv/wod/content")], input=content, check=True, timeout=60
    )
    sh(f"{WOD} hub venv /opt/wod-singleuser", timeout=900)
    sh(f"{WOD} hub config")
    sh(f"{WOD} backend seats sync --seats 2")
    sh("systemd-run --unit=wod-hub -p WorkingDirectory=/srv/wod/hub "
       "/opt/wod/bin/jupyterhub -f /srv/wod/hub/jupyterhub_config.py")  # fmt: skip
    hub_url = f"http://{host.address}:8000"

    def hub_up() -> bool:
        try:
            return httpx.get(f"{hub_url}/hub/api", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(hub_up, 120, "the hub")
    systemd = Systemd(bed, hub_url, {})
    for number in (1, 2):
        out = sh(f"{WOD} test-action CREATE {WORKSHOP} {number}", timeout=300)
        print(out)
        username, password = re.findall(r"credentials: (student\d+) / (\S+)", out)[0]
        web = login(hub_url, username, password)
        ws_url = start_kernel(hub_url, web, username, f"{WORKSHOP}/0-ReadMeFirst.ipynb", "python3")
        cookies = "; ".join(f"{c.name}={c.value}" for c in web.cookies.jar)
        systemd.seats[username] = Seat(username, password, web, ws_url, cookies)
    return systemd


def test_the_seats_server_runs_as_a_unit_with_the_workshops_limits(systemd_hub: Systemd) -> None:
    s = systemd_hub
    shown = s.sh(
        "systemctl show jupyter-student1-singleuser -p MemoryMax -p CPUQuotaPerSecUSec "
        "-p TasksMax -p PrivateTmp -p ProtectSystem -p NoNewPrivileges -p User"
    )
    print(shown)
    props = dict(line.split("=", 1) for line in shown.splitlines())
    assert props["MemoryMax"] == str(MEMORY_MB * 1024**2)
    assert props["CPUQuotaPerSecUSec"] == f"{int(CPU * 1000)}ms"
    assert props["TasksMax"] == str(TASKS)
    assert props["PrivateTmp"] == "yes" and props["ProtectSystem"] == "strict"
    assert props["NoNewPrivileges"] == "yes" and props["User"] == "2001"
    # the kernel enforces them (the host's own cgroup controllers, tests/bed/cgroup.py)
    limit = s.unit_file("student1", "memory", "memory.limit_in_bytes").strip()
    assert int(limit) == MEMORY_MB * 1024**2
    assert s.unit_file("student1", "pids", "pids.max").strip() == str(TASKS)
    assert s.seats["student1"].run("import getpass; print(getpass.getuser())").strip() == (
        "student1"
    )


def test_a_seat_reaches_neither_other_homes_nor_the_hub_nor_the_agents_secrets(
    systemd_hub: Systemd,
) -> None:
    a = systemd_hub.seats["student1"]
    probe = """
import os
def can_read(path):
    try:
        if os.path.isdir(path):
            os.listdir(path)
        else:
            open(path).read(1)
        return "READ"
    except OSError as exc:
        return type(exc).__name__
def can_write(path):
    try:
        open(path, "w").write("x")
        return "WROTE"
    except OSError as exc:
        return type(exc).__name__
print({
    "students": sorted(os.listdir("/srv/wod/students")),
    "other_home": can_read("/srv/wod/students/student2"),
    "hub_config": can_read("/srv/wod/hub/jupyterhub_config.py"),
    "hub_dir": can_read("/srv/wod/hub"),
    "settings": can_read("/etc/wod/hub.toml"),
    "credentials": can_read("/var/lib/wod/credentials"),
    "etc": can_write("/etc/wod-test"),
    "usr": can_write("/usr/local/wod-test"),
    "own_home": can_write(os.path.expanduser("~/wod-test")),
    "tmp": can_write("/tmp/wod-test-" + os.environ["JUPYTERHUB_USER"]),
})
"""
    seen = eval(a.run(probe))  # noqa: S307 - the repr of a dict of strings we printed
    print(seen)
    assert seen["students"] == ["student1"]  # the other homes are not even there
    assert seen["other_home"] != "READ"
    assert seen["hub_config"] != "READ" and seen["hub_dir"] != "READ"
    assert seen["settings"] != "READ" and seen["credentials"] != "READ"
    assert seen["etc"] != "WROTE" and seen["usr"] != "WROTE"
    assert seen["own_home"] == "WROTE" and seen["tmp"] == "WROTE"
    # the seat's /tmp is its own: the host's /tmp does not hold the file
    assert systemd_hub.bed.run(1, "ls /tmp/wod-test-student1").returncode != 0


def test_abuse_is_contained_while_the_other_seat_answers(systemd_hub: Systemd) -> None:
    s = systemd_hub
    a, b = s.seats["student1"], s.seats["student2"]
    figures: dict[str, float | int | str] = {"rtt_before_ms": round(rtt(b), 1)}
    start = time.monotonic()
    s.sh("true")
    figures["host_ssh_before_ms"] = round((time.monotonic() - start) * 1000, 1)

    # CPU burner: two busy processes (two cores wanted), throttled to the seat's quota
    a.run(
        "import os, subprocess, sys\n"
        "burners = [subprocess.Popen([sys.executable, '-c', 'while True: pass']) "
        "for _ in range(2)]\n"
        "def burnt():\n"
        "    ticks = 0\n"
        "    for p in burners:\n"
        "        fields = open(f'/proc/{p.pid}/stat').read().rsplit(')', 1)[1].split()\n"
        "        ticks += int(fields[11]) + int(fields[12])\n"
        "    return ticks / os.sysconf('SC_CLK_TCK')\n"
    )
    start = time.monotonic()
    figures["rtt_cpu_burner_ms"] = round(rtt_during(b, 8.0), 1)
    used = float(a.run("print(burnt())"))
    wall = time.monotonic() - start
    stat = keyed(s.unit_file("student1", "cpu", "cpu.stat"))
    a.run("for p in burners: p.kill()\nfor p in burners: p.wait()")
    figures["cpu_used_per_wall"] = round(used / wall, 2)
    figures["cpu_throttled_s"] = round(stat["throttled_time"] / 1e9, 1)
    print("cpu:", used, wall, stat)
    assert stat["nr_throttled"] > 0
    assert used / wall < CPU * 1.3  # two burners got half a core between them, not two

    # memory hog beyond the seat's limit: the OOM killer of the seat's own cgroup ends it
    out = a.run(
        "import subprocess, sys\n"
        f"hog = subprocess.run([sys.executable, '-c', 'x = bytearray({2 * MEMORY_MB} << 20)'])\n"
        "print(hog.returncode)"
    )
    figures["memory_hog_returncode"] = out.strip()
    assert out.strip() == "-9", out
    oom = keyed(s.unit_file("student1", "memory", "memory.oom_control"))
    assert oom["oom_kill"] >= 1
    figures["rtt_after_memory_hog_ms"] = round(rtt(b), 1)

    # what the agent reports (the containment watch): the same counters, read by wod
    events = s.sh(
        "/opt/wod/bin/python -c 'from wod.hub.modes import load_host_mode; "
        "from wod.settings import load_settings; import json, pathlib; "
        'mode = load_host_mode(load_settings(pathlib.Path("/etc/wod/hub.toml"))); '
        "print(json.dumps(mode.limiter.events()))'"
    )
    reported = json.loads(events)
    print("containment events:", reported)
    assert any("memory limit reached" in e for e in reported["student1"])
    assert any("CPU quota reached" in e for e in reported["student1"])
    # seat B meets no limit of seat A's kind; its own CPU quota it may reach, since the round
    # trips above run its kernel without a pause
    assert not [e for e in reported.get("student2", []) if "CPU quota" not in e], reported

    # fork bomb: the seat's tasks limit refuses forks; the host and seat B go on
    a.run(
        "import subprocess\n"
        "subprocess.Popen(['bash', '-c', ':(){ :|:& };:'], start_new_session=True)"
    )
    wait_for(
        lambda: int(s.unit_file("student1", "pids", "pids.current")) >= TASKS - 2,
        60,
        "the fork bomb to reach the tasks limit",
    )
    start = time.monotonic()
    s.sh("true")
    figures["host_ssh_during_fork_bomb_ms"] = round((time.monotonic() - start) * 1000, 1)
    figures["rtt_fork_bomb_ms"] = round(rtt_during(b, 5.0), 1)
    refused = keyed(s.unit_file("student1", "pids", "pids.events"))["max"]
    figures["forks_refused"] = refused
    tasks = int(s.unit_file("student1", "pids", "pids.current"))
    figures["seat_a_tasks"] = tasks
    assert refused > 0
    assert tasks <= TASKS
    print("figures:", json.dumps(figures))

    # CLEANUP: what was contained reaches the job log; nothing of seat A survives
    log = s.sh(f"{WOD} test-action CLEANUP {WORKSHOP} 1", timeout=300)
    print(log)
    assert "contained on student1: tasks limit reached" in log
    assert "contained on student1: memory limit reached" in log
    assert s.bed.run(1, "pgrep -u student1").returncode == 1, "a process of student1 survived"
    gone = s.bed.run(1, "systemctl is-active jupyter-student1-singleuser").stdout.strip()
    assert gone in ("inactive", "unknown"), gone
    assert s.bed.run(1, "test -e /srv/wod/hub/seat-limits/student1.json").returncode == 1
    # seat B still answers
    assert b.run("print(6 * 7)").strip() == "42"
    figures["rtt_after_cleanup_ms"] = round(rtt(b), 1)
    print("figures:", json.dumps(figures))
