"""The test bed itself: two real hosts, their network, packages, power cuts and clean-up."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import shlex
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from tests.bed import BedError, Testbed
from tests.bed.services import listening
from tests.bed.system import Proc

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]
# Connects to ADDRESS:PORT from inside a host; prints "open" or the error.
PROBE = """
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=float(sys.argv[3])).close()
    print("open")
except OSError as exc:
    print(f"{type(exc).__name__}: {exc}")
"""
# Prints "ready" once bound, then the first datagram it gets on UDP port 9999.
UDP_LISTENER = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9999))
s.settimeout(20)
print("ready", flush=True)
print(s.recvfrom(100)[0].decode())
"""
# A few datagrams, in case the first one meets an ARP lookup.
UDP_SENDER = """
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(5):
    s.sendto(b"hello", ("h1", 9999))
    time.sleep(0.05)
"""


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy (a condition, never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def probe(bed: Testbed, i: int, address: str, port: int = 22, timeout: float = 2) -> str:
    """What host ``i`` gets when it connects to ``address:port``."""
    result = bed.run(i, ["python3", "-c", PROBE, address, str(port), str(timeout)], check=True)
    return result.stdout.strip()


@pytest.fixture(scope="module")
def bed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Testbed]:
    """Two hosts, removed (and checked to be gone) at the end of the module."""
    testbed = Testbed.create(tmp_path_factory.mktemp("bed"))
    testbed.up(2)
    prefix = testbed.state.prefix
    try:
        yield testbed
    finally:
        testbed.down()
    assert testbed.leftovers(prefix) == []


def test_ssh_and_systemd_running(bed: Testbed) -> None:
    for host in bed.hosts:
        result = bed.run(host.index, "systemctl is-system-running --wait", timeout=90)
        state = result.stdout.strip()
        failed = bed.run(host.index, "systemctl --failed --no-legend --plain").stdout
        assert state == "running", f"{host.name} is {state}; failed units: {failed}"
        assert bed.run(host.index, "hostname", check=True).stdout.strip() == host.name


def test_hosts_reach_each_other_by_address_and_name(bed: Testbed) -> None:
    h1, h2 = bed.hosts
    assert probe(bed, 1, h2.address) == "open"
    assert probe(bed, 1, h2.name) == "open"
    assert probe(bed, 2, h1.name) == "open"


def test_no_host_reaches_outside_the_bed(bed: Testbed) -> None:
    assert bed.run(1, "ip -4 route show default", check=True).stdout.strip() == ""
    assert bed.run(1, "ip -6 route show default", check=True).stdout.strip() == ""
    # The main namespace's own addresses and default gateway: no route from a host, so the
    # attempt fails inside the host and no packet leaves it.
    outside = _main_namespace_addresses(bed)
    assert outside, "expected the machine to have an address outside the bed"
    for address in outside:
        assert "Network is unreachable" in probe(bed, 1, address, 80), address
    # The controller answers on the bridge only for the two proxies.
    assert "Connection refused" in probe(bed, 1, bed.gateway, 22)
    assert probe(bed, 1, bed.gateway, bed.state.apt_port) == "open"


def _main_namespace_addresses(bed: Testbed) -> list[str]:
    addrs = json.loads(
        subprocess.run(
            ["ip", "-j", "-4", "addr"], capture_output=True, text=True, check=True
        ).stdout
    )
    found = [
        a["local"]
        for link in addrs
        for a in link.get("addr_info", [])
        if link["ifname"] not in ("lo", bed.bridge)
    ]
    routes = json.loads(
        subprocess.run(
            ["ip", "-j", "-4", "route", "show", "default"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    return found + [r["gateway"] for r in routes if "gateway" in r]


def test_apt_install_through_the_proxy(bed: Testbed) -> None:
    bed.run(2, "timeout 300 apt-get update -q", check=True, timeout=320)
    bed.run(2, "timeout 300 apt-get install -y -q hello", check=True, timeout=320)
    assert bed.run(2, "hello", check=True).stdout.strip() == "Hello, world!"
    proxy_log = (bed.run_dir / "acng" / "logs" / "apt-cacher.log").read_text()
    assert "/hello_" in proxy_log


def _make_wheel(folder: Path, name: str, value: str) -> None:
    """A minimal pure-Python wheel whose module holds ``VALUE = value``."""
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n".encode(),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: wod-testbed\n"
        b"Root-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as whl:
        for path, data in files.items():
            whl.writestr(path, data)


def test_wheel_from_the_wheelhouse_installs_with_pip(bed: Testbed) -> None:
    value = secrets.token_hex(8)
    _make_wheel(bed.wheelhouse, "wodbedprobe", value)
    bed.run(1, "python3 -m venv /opt/probe", check=True)
    # pip.conf on the host points at the wheelhouse: a plain `pip install` must find it.
    bed.run(1, "/opt/probe/bin/pip install -q wodbedprobe", check=True)
    out = bed.run(1, "/opt/probe/bin/python -c 'import wodbedprobe; print(wodbedprobe.VALUE)'")
    assert out.stdout.strip() == value


def test_power_cut_and_boot_on_the_same_disk(bed: Testbed) -> None:
    token = secrets.token_hex(8)
    bed.run(2, f"echo {token} > /root/before-the-cut", check=True)
    before = [Proc.of(pid) for pid in bed.pids(2)]
    assert before
    bed.kill(2)
    assert not bed.running(2)
    assert bed.pids(2) == set()
    assert not any(p.alive() for p in before)
    assert bed.run(2, "true", timeout=30).returncode != 0
    bed.boot(2)
    assert bed.run(2, "cat /root/before-the-cut", check=True).stdout.strip() == token
    assert bed.run(2, "systemctl is-system-running --wait", timeout=90).stdout.strip() == "running"


def test_reboot_from_inside_comes_back(bed: Testbed) -> None:
    # /run is a fresh tmpfs on every boot: the marker tells the old boot from the new one.
    bed.run(1, "touch /run/before-reboot && systemctl reboot")

    def rebooted() -> bool:
        check = "test ! -e /run/before-reboot && systemctl is-system-running --wait"
        return bed.run(1, check, timeout=30).stdout.strip() == "running"

    wait_for(rebooted, 60, "h1 to come back after systemctl reboot")
    assert bed.running(1)


def test_cut_and_heal_the_cable(bed: Testbed) -> None:
    h2 = bed.host(2)
    bed.cut(2)
    assert probe(bed, 1, h2.address, timeout=1) != "open"
    assert not listening(h2.address, 22)  # from the controller too
    bed.heal(2)
    wait_for(lambda: probe(bed, 1, h2.address, timeout=1) == "open", 30, "h2 reachable again")
    assert bed.run(2, "true", timeout=20).returncode == 0


def test_one_way_block(bed: Testbed) -> None:
    h1, h2 = bed.hosts
    bed.block(1, 2)
    try:
        assert probe(bed, 1, h2.address, timeout=1) != "open"
        # The other way packets still flow: a datagram from h2 reaches h1.
        with subprocess.Popen(
            h1.ssh_command("python3", "-u", "-c", shlex.quote(UDP_LISTENER)),
            stdout=subprocess.PIPE,
            text=True,
        ) as listener:
            assert listener.stdout is not None
            assert listener.stdout.readline().strip() == "ready"
            bed.run(2, ["python3", "-c", UDP_SENDER], check=True, timeout=30)
            out, _ = listener.communicate(timeout=30)
        assert out.strip() == "hello"
    finally:
        bed.unblock(1, 2)
    assert probe(bed, 1, h2.address) == "open"


def test_env_describes_the_bed_as_json(bed: Testbed) -> None:
    result = subprocess.run(
        [ROOT / "scripts" / "testbed", "--state", bed.state_dir, "env"],
        capture_output=True,
        text=True,
        check=True,
    )
    env = json.loads(result.stdout)
    assert [h["name"] for h in env["hosts"]] == ["h1", "h2"]
    assert env["ssh_user"] == "root"
    assert Path(env["private_key"]).exists()
    assert env["apt_proxy"] == bed.apt_proxy
    ssh = [
        "ssh",
        "-i",
        env["private_key"],
        "-o",
        f"UserKnownHostsFile={env['known_hosts']}",
        "-o",
        "BatchMode=yes",
        f"root@{env['hosts'][1]['address']}",
        "hostname",
    ]
    assert subprocess.run(ssh, capture_output=True, text=True, check=True).stdout.strip() == "h2"


def test_down_leaves_nothing(tmp_path: Path) -> None:
    testbed = Testbed.create(tmp_path / "state")
    testbed.up(1)
    prefix = testbed.state.prefix
    procs = [Proc(pid, start) for pid, start in testbed.state.procs.values()]
    procs += [Proc.of(pid) for pid in testbed.pids(1)]
    run_dir = testbed.run_dir
    with pytest.raises(BedError, match="already runs"):
        Testbed.create(tmp_path / "state")
    testbed.down()
    assert testbed.leftovers(prefix) == []
    assert not any(p.alive() for p in procs)
    assert not run_dir.exists()
    assert not (tmp_path / "state" / "bed.json").exists()
