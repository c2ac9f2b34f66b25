"""The ``systemd`` host mode (production, root): the seats of :mod:`system mode
<wod.hub.modes.system>` (Linux users ``studentN``), each server run as a systemd unit of its own
(``jupyter-studentN-singleuser.service``, started by ``jupyterhub-systemdspawner``) with

- the seat's limits: ``MemoryMax=``, ``CPUQuota=`` and ``TasksMax=`` from its workshop's
  ``limits:`` in wod.yml, else the location's ``hub.seat_memory``, ``seat_cpu``, ``seat_tasks``
  (the agent writes them at CREATE into ``<hub.dir>/seat-limits/studentN.json``, which the hub's
  ``pre_spawn_hook`` reads);
- a private ``/tmp`` and ``/dev``, no new privileges (no sudo, no setuid), the whole system
  read-only (``ProtectSystem=strict``) but the seat's own home;
- the students folder replaced by an empty one holding only the seat's own home, and the hub's
  folder, the wod settings (``/etc/wod``), the agent's content cache and the seats' credentials
  made inaccessible.

The kernel enforces the limits: a fork bomb meets ``TasksMax=``, a memory hog the OOM killer
of its own cgroup, a CPU burner its quota; the other seats of the host keep their share. The
agent reads each unit's cgroup counters (:meth:`SystemdLimiter.events`): what was contained
reaches the admins, and the seat's CLEANUP job log.

``jupyterhub-systemdspawner`` is enough (no D-Bus code of our own): it starts a transient unit
through ``systemd-run`` with the properties we give, stops it with the server, and its
``pre_spawn_hook``-set ``mem_limit``/``cpu_limit`` and ``unit_extra_properties`` take the rest.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from wod.domain.seat_limits import SeatLimits
from wod.hub.modes.base import Accounts, Finding
from wod.hub.modes.system import NOT_ROOT_REFUSED, SystemAccounts, SystemMode

#: The unit of a seat's server (SystemdSpawner's default ``unit_name_template``).
UNIT = "jupyter-{username}-singleuser"
CGROUP_ROOT = Path("/sys/fs/cgroup")


def unit_name(username: str) -> str:
    return UNIT.format(username=username) + ".service"


def _systemctl(*args: str) -> subprocess.CompletedProcess[str]:
    command = ["systemctl", *args]
    try:
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=60)
    except subprocess.TimeoutExpired:  # a hung systemd must not hang a job or the watch
        return subprocess.CompletedProcess(command, 124, "", "systemctl timed out")


class SystemdAccounts(SystemAccounts):
    """System mode's accounts; ending a seat's processes first stops its server's unit."""

    mode = "systemd"

    def kill_processes(self, username: str) -> int:
        unit = unit_name(username)
        if _systemctl("is-active", "--quiet", unit).returncode == 0:
            _systemctl("kill", "--signal=SIGKILL", unit)
        _systemctl("stop", unit)
        _systemctl("reset-failed", unit)
        return super().kill_processes(username)  # what left the unit (none should)


@dataclass(frozen=True)
class Counters:
    """What a unit's cgroup counted: OOM kills, refused forks, CPU time throttled (s)."""

    oom_kills: int = 0
    forks_refused: int = 0
    throttled: float = 0.0


def _read_keyed(path: Path) -> dict[str, int]:
    try:
        text = path.read_text()
    except OSError:
        return {}
    found = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        with contextlib.suppress(ValueError):
            found[key] = int(value)
    return found


def read_counters(cgroup: str, root: Path = CGROUP_ROOT) -> Counters:
    """The counters of cgroup ``cgroup`` (``/system.slice/x.service``), unified (v2) or legacy
    (v1) hierarchies alike."""
    rel = cgroup.lstrip("/")
    unified = root / rel
    if (unified / "memory.events").exists() or (unified / "pids.events").exists():
        stat = _read_keyed(unified / "cpu.stat")
        return Counters(
            _read_keyed(unified / "memory.events").get("oom_kill", 0),
            _read_keyed(unified / "pids.events").get("max", 0),
            stat.get("throttled_usec", 0) / 1e6,
        )
    return Counters(
        _read_keyed(root / "memory" / rel / "memory.oom_control").get("oom_kill", 0),
        _read_keyed(root / "pids" / rel / "pids.events").get("max", 0),
        _read_keyed(root / "cpu" / rel / "cpu.stat").get("throttled_time", 0) / 1e9,
    )


def describe(before: Counters, now: Counters) -> list[str]:
    """What was contained between two readings of a unit's counters."""
    lines = []
    if now.oom_kills > before.oom_kills:
        lines.append(
            f"memory limit reached: {now.oom_kills - before.oom_kills} process(es) killed by "
            "the OOM killer"
        )
    if now.forks_refused > before.forks_refused:
        lines.append(
            f"tasks limit reached: {now.forks_refused - before.forks_refused} fork(s) refused"
        )
    if now.throttled - before.throttled >= 1.0:
        lines.append(f"CPU quota reached: throttled {now.throttled - before.throttled:.1f} s")
    return lines


class SystemdLimiter:
    """The seats' limits files (read by the hub at spawn) and the counters of their units."""

    def __init__(self, folder: Path, defaults: SeatLimits) -> None:
        self.folder = folder
        self.defaults = defaults
        #: Counters of each seat's unit at the last :meth:`events`, with the run they are of.
        self._seen: dict[str, tuple[str, Counters]] = {}

    def path(self, username: str) -> Path:
        return self.folder / f"{username}.json"

    def apply(self, username: str, limits: SeatLimits) -> SeatLimits:
        """Write the seat's limits (the workshop's over the location's); the limits applied."""
        effective = limits.over(self.defaults)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        target = self.path(username)
        scratch = target.with_suffix(".tmp")
        scratch.write_text(json.dumps(effective.as_dict()))
        os.replace(scratch, target)
        return effective

    def clear(self, username: str) -> None:
        self.path(username).unlink(missing_ok=True)

    def counters(self, username: str) -> tuple[str, Counters] | None:
        """The run of the seat's unit (its invocation id) and its cgroup's counters; None when
        the seat's server does not run."""
        unit = unit_name(username)
        shown = _systemctl("show", "-p", "ControlGroup", "-p", "InvocationID", unit)
        props = dict(line.partition("=")[::2] for line in shown.stdout.splitlines())
        cgroup = props.get("ControlGroup", "").strip()
        if shown.returncode != 0 or not cgroup:
            return None
        return props.get("InvocationID", "").strip() or cgroup, read_counters(cgroup)

    def contained(self, username: str) -> list[str]:
        """What the seat's running server had contained since it started (for a job log)."""
        found = self.counters(username)
        return describe(Counters(), found[1]) if found else []

    def running(self) -> list[str]:
        """The seats whose server's unit is loaded."""
        listed = _systemctl("list-units", "--plain", "--no-legend", unit_name("*"))
        prefix, suffix = unit_name("{username}").split("{username}")
        names = [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]
        return [
            n.removeprefix(prefix).removesuffix(suffix)
            for n in names
            if n.startswith(prefix) and n.endswith(suffix)
        ]

    def events(self) -> dict[str, list[str]]:
        """What was contained on each seat since the last call (new units count from zero)."""
        found: dict[str, list[str]] = {}
        seats = self.running()
        for gone in set(self._seen) - set(seats):
            self._seen.pop(gone, None)
        for username in seats:
            current = self.counters(username)
            if current is None:
                continue
            run, counters = current
            last = self._seen.get(username)
            before = last[1] if last is not None and last[0] == run else Counters()
            self._seen[username] = (run, counters)
            lines = describe(before, counters)
            if lines:
                found[username] = lines
        return found


class SystemdMode(SystemMode):
    """System mode's seats, each server a limited and confined systemd unit (see the module)."""

    name = "systemd"

    def make_accounts(self) -> Accounts:
        return SystemdAccounts(self.settings.backend.uid_base)

    def make_limiter(self) -> SystemdLimiter:
        return SystemdLimiter(self.limits_dir, self.settings.hub.seat_limits())

    @property
    def limits_dir(self) -> Path:
        return self.settings.hub.dir.absolute() / "seat-limits"

    def hidden_paths(self) -> list[Path]:
        """What a seat's server must not reach (made inaccessible in its unit)."""
        settings = self.settings
        candidates = [
            settings.hub.dir,
            settings.backend.credentials_dir,
            settings.backend.content_cache,
            Path("/etc/wod"),
        ]
        needed = [settings.backend.students_dir.absolute()]
        if settings.hub.singleuser_venv is not None:
            needed.append(settings.hub.singleuser_venv.absolute())
        # never one that holds what the server needs (a test's folders may nest so)
        return [
            p.absolute()
            for p in candidates
            if not any(n.is_relative_to(p.absolute()) for n in needed)
        ]

    def unit_properties(self) -> dict[str, str]:
        """The properties of every seat's unit besides the limits (``{USERNAME}`` is the
        seat's name, expanded by the spawner)."""
        students = self.settings.backend.students_dir.absolute()
        # "-": a path that does not exist on this host is skipped, not an error
        hidden = " ".join(f"-{p}" for p in self.hidden_paths())
        return {
            "ProtectSystem": "strict",
            "ProtectHome": "tmpfs",
            "TemporaryFileSystem": f"{students}:ro",
            "BindPaths": f"{students}/{{USERNAME}}",
            "ReadWritePaths": f"{students}/{{USERNAME}}",
            "InaccessiblePaths": hidden,
            "ProtectKernelTunables": "yes",
            "ProtectControlGroups": "yes",
            "RestrictSUIDSGID": "yes",
            "MemorySwapMax": "0",
            "KillMode": "control-group",
            # a fork bomb outlives SIGTERM (its survivors fork again): SIGKILL them soon
            "TimeoutStopSec": "5",
        }

    def hub_config(self, values: Mapping[str, str]) -> str:
        limits = self.settings.hub.seat_limits()
        properties = {**self.unit_properties(), "TasksMax": str(limits.tasks)}
        return f"""# systemd account mode: seats are Linux users studentN, each server a unit
# (jupyter-studentN-singleuser) with the seat's limits, confined to the seat's own home.
if os.geteuid() != 0:
    raise SystemExit("wod: " + {NOT_ROOT_REFUSED!r})
import json as _json

c.JupyterHub.spawner_class = "systemdspawner.SystemdSpawner"
c.WodAuthenticator.password_check = "pam"
c.Spawner.cmd = [{values["singleuser"]}]
c.Spawner.notebook_dir = "~"
c.SystemdSpawner.mem_limit = {limits.memory!r}
c.SystemdSpawner.cpu_limit = {limits.cpu!r}
c.SystemdSpawner.isolate_tmp = True
c.SystemdSpawner.isolate_devices = True
c.SystemdSpawner.disable_user_sudo = True
c.SystemdSpawner.unit_extra_properties = {properties!r}
_WOD_LIMITS = {str(self.limits_dir)!r}


def _wod_seat_limits(spawner):
    # The seat's limits as the agent wrote them at CREATE; none: the defaults above.
    try:
        with open(os.path.join(_WOD_LIMITS, spawner.user.name + ".json")) as f:
            limits = _json.load(f)
    except FileNotFoundError:
        return
    if "memory" in limits:
        spawner.mem_limit = int(limits["memory"])
    if "cpu" in limits:
        spawner.cpu_limit = float(limits["cpu"])
    if "tasks" in limits:
        extra = dict(spawner.unit_extra_properties)
        extra["TasksMax"] = str(int(limits["tasks"]))
        spawner.unit_extra_properties = extra


c.Spawner.pre_spawn_hook = _wod_seat_limits
"""

    def prepare_hub(self) -> None:
        self.limits_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def check_host(self) -> list[Finding]:
        findings = super().check_host()
        if not Path("/run/systemd/system").is_dir():
            findings.append(Finding("systemd is not PID 1: systemd mode needs it"))
        if importlib.util.find_spec("systemdspawner") is None:
            findings.append(
                Finding("jupyterhub-systemdspawner is not installed (pip install 'wod[hub]')")
            )
        return findings
