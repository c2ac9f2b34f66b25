"""The multi-host test bed: hosts with real systemd on one machine, and their faults.

Every resource a bed creates carries its run prefix (``wb`` + 4 hex digits) and is recorded in
``STATE/bed.json`` before it is created, so ``down`` can remove whatever a crashed run left.
"""

from __future__ import annotations

import ipaddress
import json
import os
import shlex
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tests.bed import cgroup, host, image, net, services
from tests.bed.system import BedError, Proc, ensure_tools, run, say, step, tail, wait_until

DEFAULT_STATE = Path("/run/wod-testbed/default")
STATE_ENV = "WOD_TESTBED_STATE"
FIRST_HOST_OCTET = 11
MAX_HOSTS = 200
APT_CONF = """\
// wod test bed: Debian packages only through the bed's apt-cacher-ng.
Acquire::http::Proxy "{proxy}";
// A stalled transfer fails instead of hanging (see FIELD-NOTES: apt-get update hang).
Acquire::http::Timeout "30";
Acquire::Retries "3";
// Only the translation the bed warms in the proxy.
Acquire::Languages "en";
"""
PIP_CONF = """\
# wod test bed: wheels come only from the bed's wheelhouse (hosts are offline).
[global]
no-index = true
find-links = {wheels}
# Plain http on the bridge: without this pip ignores the wheelhouse.
trusted-host = {gateway}
disable-pip-version-check = true
timeout = 30
"""


def default_state_dir() -> Path:
    """``$WOD_TESTBED_STATE`` or ``/run/wod-testbed/default``."""
    return Path(os.environ.get(STATE_ENV) or DEFAULT_STATE)


@dataclass(frozen=True)
class Host:
    """One host of the bed, as a caller (test, inventory) sees it."""

    index: int
    name: str
    address: str
    ssh_config: Path
    key: Path
    known_hosts: Path
    user: str = "root"

    def ssh_command(self, *command: str) -> list[str]:
        """argv that runs ``command`` (or a login shell) on the host as root."""
        return ["ssh", "-F", str(self.ssh_config), self.name, *command]

    def describe(self) -> dict[str, Any]:
        """Inventory-friendly facts about the host."""
        return {
            "index": self.index,
            "name": self.name,
            "address": self.address,
            "user": self.user,
            "port": 22,
            "private_key": str(self.key),
            "known_hosts": str(self.known_hosts),
            "ssh": shlex.join(self.ssh_command()),
        }


@dataclass
class State:
    """What ``bed.json`` records: enough to find and remove every resource of the run."""

    prefix: str
    subnet: str = ""
    image: str = ""
    wheelhouse: str = ""
    apt_port: int = 0
    wheel_port: int = 0
    phase: str = "creating"
    hosts: list[dict[str, Any]] = field(default_factory=list)
    procs: dict[str, list[int]] = field(default_factory=dict)
    blocks: list[list[str]] = field(default_factory=list)
    #: Ports of the bridge address that hosts may reach besides the two proxies (allow_port).
    allowed: list[int] = field(default_factory=list)
    #: Size of the tmpfs that holds the hosts' disks ("" when they are on the state dir's disk).
    memory_disks: str = ""
    created: float = field(default_factory=time.time)


class Testbed:
    """A set of hosts h1..hN (network namespace + ``systemd-nspawn --boot``) on a bridge."""

    __test__ = False  # not a pytest test class, despite its name

    def __init__(
        self,
        state_dir: Path,
        state: State | None,
        cache: Path,
        wheelhouse: Path | None,
        memory_disks: str = "",
    ):
        self.state_dir = state_dir
        self.cache = cache
        self._wheelhouse = wheelhouse
        self._memory_disks = memory_disks
        self._state = state

    # ----- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        state_dir: Path | None = None,
        *,
        wheelhouse: Path | None = None,
        cache: Path = image.DEFAULT_CACHE,
        memory_disks: str = "",
    ) -> Testbed:
        """A bed that ``up`` will bring up in ``state_dir``; BedError if one is there already.

        ``memory_disks`` (a tmpfs size such as ``"8g"``) puts the hosts' disks in memory: a
        deployment writes hundreds of thousands of files (virtualenvs), which a tmpfs writes
        and removes in a moment where this machine's disk takes minutes.
        """
        state_dir = Path(state_dir or default_state_dir()).resolve()
        if (state_dir / "bed.json").exists():
            prefix = cls.open(state_dir).state.prefix
            raise BedError(
                f"a test bed ({prefix}) already runs in {state_dir}: "
                f"use it, or run `scripts/testbed --state {state_dir} down` first"
            )
        return cls(state_dir, None, cache, wheelhouse, memory_disks)

    @classmethod
    def open(cls, state_dir: Path | None = None) -> Testbed:
        """The bed recorded in ``state_dir``; BedError if there is none."""
        state_dir = Path(state_dir or default_state_dir()).resolve()
        path = state_dir / "bed.json"
        if not path.exists():
            raise BedError(f"no test bed in {state_dir} (run `scripts/testbed up N` first)")
        state = State(**json.loads(path.read_text()))
        return cls(state_dir, state, image.DEFAULT_CACHE, None)

    # ----- names --------------------------------------------------------------------------

    @property
    def state(self) -> State:
        """The recorded state (BedError before ``up``)."""
        if self._state is None:
            raise BedError("the test bed is not up")
        return self._state

    @property
    def run_dir(self) -> Path:
        """The run's own folder inside the state dir (named after its prefix)."""
        return self.state_dir / self.state.prefix

    @property
    def bridge(self) -> str:
        """Name of the bed's bridge."""
        return f"{self.state.prefix}-br"

    @property
    def gateway(self) -> str:
        """The bridge address: where the proxies listen."""
        return str(next(iter(ipaddress.IPv4Network(self.state.subnet).hosts())))

    @property
    def apt_proxy(self) -> str:
        """URL of the bed's apt-cacher-ng."""
        return f"http://{self.gateway}:{self.state.apt_port}/"

    @property
    def wheel_url(self) -> str:
        """URL of the wheelhouse (``pip install --no-index --find-links URL``)."""
        return f"http://{self.gateway}:{self.state.wheel_port}/"

    @property
    def wheelhouse(self) -> Path:
        """The folder served as the wheelhouse: put wheels here."""
        return Path(self.state.wheelhouse)

    def _netns(self, i: int) -> str:
        return f"{self.state.prefix}-h{i}"

    def _veth(self, i: int) -> str:
        return f"{self.state.prefix}-v{i}"

    def _cgroup(self, i: int) -> str:
        return f"{self.state.prefix}/h{i}"

    def _files(self, i: int) -> host.HostFiles:
        return host.HostFiles(self.run_dir / "hosts" / f"h{i}")

    @property
    def key(self) -> Path:
        """The bed's private key; its public half is root's authorized key on every host."""
        return self.run_dir / "id_ed25519"

    @property
    def hosts(self) -> list[Host]:
        """Every host of the bed, h1 first."""
        return [self.host(int(h["index"])) for h in self.state.hosts]

    def host(self, i: int) -> Host:
        """Host ``i`` (1-based); BedError if the bed has no such host."""
        for entry in self.state.hosts:
            if entry["index"] == i:
                return Host(
                    i,
                    str(entry["name"]),
                    str(entry["address"]),
                    self.run_dir / "ssh_config",
                    self.key,
                    self.run_dir / "known_hosts",
                )
        raise BedError(f"the bed has no host {i} (it has {len(self.state.hosts)})")

    def _save(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.state_dir / "bed.json.tmp"
        tmp.write_text(json.dumps(asdict(self.state), indent=2) + "\n")
        tmp.replace(self.state_dir / "bed.json")

    # ----- up -----------------------------------------------------------------------------

    def up(self, count: int, timeout: float = 120.0) -> list[Host]:
        """Boot h1..h``count`` and the proxies; on any failure remove everything again."""
        if self._state is not None:
            raise BedError(f"the bed in {self.state_dir} is already up")
        if not 1 <= count <= MAX_HOSTS:
            raise BedError(f"host count must be 1..{MAX_HOSTS}, not {count}")
        if os.geteuid() != 0:
            raise BedError("the test bed needs root (namespaces, cgroups, mounts)")
        start = time.monotonic()
        ensure_tools()
        cgroup.check_layout()
        lower = image.ensure_image(self.cache)
        try:
            self._allocate(count, lower)
            self._start_services()
            self._create_hosts(lower)
            self._boot_all(timeout)
        except BaseException:
            say("bring-up failed: removing what was created")
            self.down()
            raise
        self.state.phase = "up"
        self._save()
        say(f"test bed {self.state.prefix} up: {count} hosts in {time.monotonic() - start:.1f} s")
        return self.hosts

    def _allocate(self, count: int, lower: Path) -> None:
        with net.allocation_lock():
            prefix = net.new_prefix()
            subnet = net.free_subnet()
            self._state = State(prefix=prefix, subnet=str(subnet), image=str(lower))
            # Recorded before anything exists: a crash from here on leaves a bed `down` cleans.
            self._save()
            addrs = list(subnet.hosts())
            self.state.hosts = [
                {"index": i, "name": f"h{i}", "address": str(addrs[FIRST_HOST_OCTET + i - 2])}
                for i in range(1, count + 1)
            ]
            self.run_dir.mkdir(parents=True, exist_ok=True)
            self._save()
            net.create_bridge(self.bridge, self.gateway, subnet.prefixlen)
        if self._memory_disks:
            self.state.memory_disks = self._memory_disks
            self._save()
            disks = self.run_dir / "hosts"
            disks.mkdir(parents=True, exist_ok=True)
            options = f"size={self._memory_disks},mode=0755"
            run(["mount", "-t", "tmpfs", "-o", options, f"{prefix}-disks", disks])
        say(f"run prefix {prefix}, subnet {subnet}, bridge {self.bridge}")

    def _start_services(self) -> None:
        st = self.state
        st.apt_port = services.free_port(self.gateway, services.APT_PORT)
        st.wheel_port = services.free_port(self.gateway, services.WHEEL_PORT)
        st.wheelhouse = str(self._wheelhouse or self.run_dir / "wheelhouse")
        self._save()
        procs = cgroup.create(f"{st.prefix}/services")
        acng = services.start_apt_cacher(self.run_dir / "acng", self.gateway, st.apt_port, procs)
        st.procs["apt-cacher-ng"] = [acng.pid, acng.start]
        self._save()
        wheels = services.start_wheelhouse(
            self.wheelhouse, self.run_dir / "wheelhouse.log", self.gateway, st.wheel_port, procs
        )
        st.procs["wheelhouse"] = [wheels.pid, wheels.start]
        self._save()
        self._load_guard()
        self._load_blocks()

    def _create_hosts(self, lower: Path) -> None:
        comment = f"wod-testbed-{self.state.prefix}"
        run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", self.key])
        prefixlen = ipaddress.IPv4Network(self.state.subnet).prefixlen
        config = self._host_config()
        for h in self.hosts:
            netns, veth = self._netns(h.index), self._veth(h.index)
            net.create_host_net(netns, veth, self.bridge, h.address, prefixlen)
            cfg = host.HostConfig(h.name, *config)
            host.prepare(self._files(h.index), lower, cfg)
        self._write_ssh_files()

    def _host_config(self) -> tuple[str, str, str, str, str]:
        lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
        lines += [f"{h['address']}\t{h['name']}" for h in self.state.hosts]
        hosts_file = "\n".join(lines) + "\n"
        authorized = self.key.with_suffix(".pub").read_text()
        apt_conf = APT_CONF.format(proxy=self.apt_proxy)
        sources = image.sources_text(image.host_sources())
        pip_conf = PIP_CONF.format(wheels=self.wheel_url, gateway=self.gateway)
        return hosts_file, authorized, apt_conf, sources, pip_conf

    def _write_ssh_files(self) -> None:
        known, config = [], []
        for h in self.hosts:
            pub = self._files(h.index).host_key.with_suffix(".pub").read_text().split()
            known.append(f"{h.name},{h.address} {pub[0]} {pub[1]}")
            config.append(
                f"Host {h.name}\n  HostName {h.address}\n  User root\n  IdentityFile {self.key}\n"
                f"  IdentitiesOnly yes\n  UserKnownHostsFile {self.run_dir / 'known_hosts'}\n"
                "  StrictHostKeyChecking yes\n  BatchMode yes\n  ConnectTimeout 5\n"
                "  LogLevel ERROR\n"
            )
        (self.run_dir / "known_hosts").write_text("\n".join(known) + "\n")
        (self.run_dir / "ssh_config").write_text("\n".join(config))

    def _boot_all(self, timeout: float) -> None:
        with step(f"booting {len(self.state.hosts)} hosts"):
            for h in self.hosts:
                self._launch(h.index)
            # Fill the proxy's cache while the hosts boot (see services.warm_apt_indexes).
            with step("warming the apt proxy's index files"):
                self._warm()
            for h in self.hosts:
                self.wait_ssh(h.index, timeout)
        self._report_units()

    def _warm(self) -> None:
        arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        services.warm_apt_indexes(
            self.apt_proxy, image.host_sources(), arch, self.run_dir / "acng" / "cache"
        )

    def _report_units(self) -> None:
        for h in self.hosts:
            result = self.run(h.index, "systemctl is-system-running --wait", timeout=90)
            state = result.stdout.strip()
            if state != "running":
                failed = self.run(h.index, "systemctl --failed --no-legend --plain").stdout
                say(f"{h.name}: system {state or '?'}; failed units: {failed.strip() or 'none'}")

    def _launch(self, i: int) -> None:
        procs = cgroup.create(self._cgroup(i))
        files = self._files(i)
        proc = host.boot(files, Path(self.state.image), f"h{i}", self._netns(i), procs)
        self.state.procs[f"h{i}"] = [proc.pid, proc.start]
        self._save()

    # ----- hosts --------------------------------------------------------------------------

    def running(self, i: int) -> bool:
        """Whether any process of host ``i`` is alive."""
        return cgroup.populated(self._cgroup(i))

    def pids(self, i: int) -> set[int]:
        """Every pid in host ``i``'s cgroup (nspawn and the whole container)."""
        return cgroup.pids(self._cgroup(i))

    def memory(self, i: int) -> int:
        """Proportional memory (PSS, bytes) of every process of host ``i``."""
        total = 0
        for pid in self.pids(i):
            try:
                text = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:
                continue
            for line in text.splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1]) * 1024
        return total

    def cpu_seconds(self, i: int) -> float:
        """CPU time used by host ``i`` since it was booted: the ``usage_usec`` of its cgroup
        (v2), which counts processes that have exited too, unlike a sum over live pids."""
        stat = cgroup.ROOT / "unified" / self._cgroup(i) / "cpu.stat"
        for line in stat.read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
        raise BedError(f"{stat}: no usage_usec")

    def wait_ssh(self, i: int, timeout: float = 120.0) -> None:
        """Wait until root can log in on host ``i``; BedError with its console if not."""
        h = self.host(i)
        deadline = time.monotonic() + timeout

        def ready() -> bool:
            if not self.running(i):
                raise BedError(f"{h.name} stopped while booting; console:\n{self._console(i)}")
            return _ssh_banner(h.address) and self.run(i, "true", timeout=15).returncode == 0

        try:
            wait_until(ready, max(deadline - time.monotonic(), 0), f"ssh on {h.name}", 0.1)
        except BedError as exc:
            if "timed out" in str(exc):
                raise BedError(
                    f"{h.name} ({h.address}) did not answer ssh within {timeout:.0f} s; "
                    f"last console lines:\n{self._console(i)}"
                ) from exc
            raise

    def _console(self, i: int) -> str:
        return tail(self._files(i).console, 25)

    def kill(self, i: int) -> float:
        """Power cut: SIGKILL every process of host ``i``; returns the seconds it took."""
        self.host(i)
        start = time.monotonic()
        cgroup.remove(self._cgroup(i))
        self.state.procs.pop(f"h{i}", None)
        self._save()
        return time.monotonic() - start

    def boot(self, i: int, *, wait: bool = True, timeout: float = 120.0) -> float:
        """Power host ``i`` on again on the same disk; returns the seconds until ssh answers."""
        self.host(i)
        if self.running(i):
            raise BedError(f"h{i} is running: kill it first")
        start = time.monotonic()
        cgroup.remove(self._cgroup(i))  # stale payload/supervisor groups of the last boot
        self._launch(i)
        if wait:
            self.wait_ssh(i, timeout)
        return time.monotonic() - start

    def cut(self, i: int) -> None:
        """Unplug host ``i``'s network cable (its bridge-side veth goes down)."""
        self.host(i)
        net.set_link(self._veth(i), up=False)

    def heal(self, i: int) -> None:
        """Plug host ``i``'s cable back in."""
        self.host(i)
        net.set_link(self._veth(i), up=True)

    def block(self, src: int, dst: int) -> None:
        """Drop every packet from host ``src`` to host ``dst`` (the other way still flows)."""
        pair = [self.host(src).address, self.host(dst).address]
        if pair not in self.state.blocks:
            self.state.blocks.append(pair)
            self._save()
        self._load_blocks()

    def unblock(self, src: int, dst: int) -> None:
        """Undo ``block(src, dst)``."""
        pair = [self.host(src).address, self.host(dst).address]
        if pair in self.state.blocks:
            self.state.blocks.remove(pair)
            self._save()
        self._load_blocks()

    def allow_port(self, port: int) -> None:
        """Let the hosts reach ``port`` on the bridge address (a service a test runs there)."""
        if port not in self.state.allowed:
            self.state.allowed.append(port)
            self._save()
        self._load_guard()

    def disallow_port(self, port: int) -> None:
        """Undo ``allow_port(port)``."""
        if port in self.state.allowed:
            self.state.allowed.remove(port)
            self._save()
        self._load_guard()

    def _load_guard(self) -> None:
        st = self.state
        ports = [st.apt_port, st.wheel_port, *st.allowed]
        net.load_table(
            "inet", st.prefix, net.guard_rules(st.prefix, self.bridge, self.gateway, ports)
        )

    def _load_blocks(self) -> None:
        pairs = [(a, b) for a, b in self.state.blocks]
        net.load_table("bridge", self.state.prefix, net.block_rules(self.state.prefix, pairs))

    def run(
        self,
        i: int,
        command: str | Sequence[str],
        *,
        check: bool = False,
        timeout: float = 300.0,
        input_text: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``command`` (a shell command line, or argv quoted for you) on host ``i`` as root."""
        line = command if isinstance(command, str) else shlex.join(command)
        argv = self.host(i).ssh_command(line)
        try:
            result = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, input=input_text, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise BedError(f"h{i}: `{line}` timed out after {timeout:.0f} s") from exc
        if check and result.returncode != 0:
            raise BedError(
                f"h{i}: `{line}` failed ({result.returncode}):\n{result.stderr or result.stdout}"
            )
        return result

    # ----- description --------------------------------------------------------------------

    def env(self) -> dict[str, Any]:
        """Everything an inventory needs: hosts, ssh user and key, proxy URLs."""
        return {
            "prefix": self.state.prefix,
            "state_dir": str(self.state_dir),
            "subnet": self.state.subnet,
            "gateway": self.gateway,
            "ssh_user": "root",
            "private_key": str(self.key),
            "known_hosts": str(self.run_dir / "known_hosts"),
            "ssh_config": str(self.run_dir / "ssh_config"),
            "apt_proxy": self.apt_proxy,
            "wheelhouse_url": self.wheel_url,
            "wheelhouse_dir": str(self.wheelhouse),
            "hosts": [h.describe() for h in self.hosts],
        }

    def status(self) -> dict[str, Any]:
        """Per host: running, cable, process count, memory; and the services."""
        hosts = []
        for h in self.hosts:
            link = (
                net.link_is_up(self._veth(h.index)) if self._veth(h.index) in net.links() else None
            )
            hosts.append(
                {
                    "name": h.name,
                    "address": h.address,
                    "running": self.running(h.index),
                    "cable": {True: "plugged", False: "cut", None: "missing"}[link],
                    "processes": len(self.pids(h.index)),
                    "memory_mb": round(self.memory(h.index) / 2**20, 1),
                }
            )
        procs = {name: Proc(p[0], p[1]).alive() for name, p in self.state.procs.items()}
        return {
            "prefix": self.state.prefix,
            "phase": self.state.phase,
            "hosts": hosts,
            "services": {k: v for k, v in procs.items() if not k.startswith("h")},
            "blocks": self.state.blocks,
        }

    # ----- down ---------------------------------------------------------------------------

    def down(self) -> None:
        """Remove every process, cgroup, table, link, namespace and folder of the run."""
        if self._state is None:
            return
        prefix = self.state.prefix
        with step(f"removing test bed {prefix}"):
            cgroup.remove(prefix)  # hosts (power cut) and services, all at once
            for name, (pid, started) in self.state.procs.items():
                if not name.startswith("h"):
                    Proc(pid, started).stop()  # in case one left our cgroup
            for family in ("inet", "bridge"):
                net.delete_table(family, prefix)
            for link in net.links():
                if link.startswith(f"{prefix}-"):
                    net.delete_link(link)
            for ns in net.namespaces():
                if ns.startswith(f"{prefix}-"):
                    net.delete_netns(ns)
            disks = self.run_dir / "hosts"
            if self.state.memory_disks and os.path.ismount(disks):
                run(["umount", disks])
            shutil.rmtree(self.run_dir, ignore_errors=True)
            (self.state_dir / "bed.json").unlink(missing_ok=True)
        self._state = None

    def leftovers(self, prefix: str) -> list[str]:
        """What of run ``prefix`` is still on the machine (empty after ``down``)."""
        found = [f"link {link}" for link in net.links() if link.startswith(prefix)]
        found += [f"netns {ns}" for ns in net.namespaces() if ns.startswith(prefix)]
        found += [f"cgroup {p}" for p in cgroup.paths(prefix) if p.exists()]
        found += [f"nft table {t}" for t in net.tables() if t.endswith(f" {prefix}")]
        mounts = Path("/proc/self/mountinfo").read_text()
        found += [f"mount {line}" for line in mounts.splitlines() if prefix in line]
        return found


def _ssh_banner(address: str) -> bool:
    # A cheap first check: sshd greets before any key exchange.
    try:
        with socket.create_connection((address, 22), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False
