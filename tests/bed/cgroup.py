"""The bed's cgroups: one folder per host (and one for the services) in both hierarchies.

This machine runs hybrid cgroups without systemd as PID 1. systemd-nspawn writes its
``payload``/``supervisor`` groups next to the cgroup it was started from, so each host is
started from a cgroup of its own in the named ``systemd`` hierarchy and in ``unified`` (v2);
otherwise nspawn would write at the root of the hierarchies. The v2 group gives us
``cgroup.kill`` (atomic SIGKILL of the whole subtree) and ``cgroup.events`` (populated 0/1).

The resource controllers are v1 hierarchies here, and nspawn mounts them read-only in a host:
its systemd could then enforce no ``MemoryMax=``, ``TasksMax=`` or ``CPUQuota=``. So each host
also gets a folder of its own in the ``memory``, ``pids``, ``cpu`` and ``cpuacct`` hierarchies
(below this process's own group there, so the machine's limits still hold), which becomes the
root of its cgroup namespace; :func:`delegate` makes them writable inside the host after boot.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import time
from functools import partial
from pathlib import Path

from tests.bed.system import BedError, wait_until

ROOT = Path("/sys/fs/cgroup")
HIERARCHIES = ("systemd", "unified")
#: v1 resource controllers delegated to the hosts (when the machine mounts them).
CONTROLLERS = ("memory", "pids", "cpu", "cpuacct")


def _controller_base(controller: str) -> Path | None:
    """This process's own group in a v1 controller hierarchy, None if it is not mounted."""
    mount = ROOT / controller
    if not (mount / "cgroup.procs").exists():
        return None
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _number, names, path = line.split(":", 2)
        if controller in names.split(","):
            return mount / path.lstrip("/")
    return None


def controllers() -> list[str]:
    """The v1 controllers this machine mounts (delegated to the hosts)."""
    return [c for c in CONTROLLERS if _controller_base(c) is not None]


def paths(rel: str) -> list[Path]:
    """The folders of cgroup ``rel`` (e.g. ``wb1a2b/h1``) in every hierarchy we use."""
    found = [ROOT / h / rel for h in HIERARCHIES]
    for controller in CONTROLLERS:
        base = _controller_base(controller)
        if base is not None:
            found.append(base / rel)
    return found


def check_layout() -> None:
    """Fail clearly when the cgroup hierarchies this bed relies on are not mounted."""
    missing = [str(ROOT / h) for h in HIERARCHIES if not (ROOT / h / "cgroup.procs").exists()]
    if missing:
        raise BedError(f"cgroup hierarchies not mounted: {', '.join(missing)}")


def create(rel: str) -> list[Path]:
    """Create cgroup ``rel`` in every hierarchy; return the ``cgroup.procs`` files to join."""
    procs = []
    for path in paths(rel):
        path.mkdir(parents=True, exist_ok=True)
        procs.append(path / "cgroup.procs")
    return procs


def pids(rel: str) -> set[int]:
    """Every pid in cgroup ``rel`` and below, in any hierarchy."""
    found: set[int] = set()
    for top in paths(rel):
        if not top.is_dir():
            continue
        for folder, _dirs, _files in os.walk(top):
            try:
                text = (Path(folder) / "cgroup.procs").read_text()
            except OSError:
                continue  # removed while we walked
            found.update(int(line) for line in text.split())
    return found


def populated(rel: str) -> bool:
    """Whether any process is left in cgroup ``rel`` or below."""
    return bool(pids(rel))


def kill(rel: str, timeout: float = 10.0) -> None:
    """SIGKILL every process of cgroup ``rel`` (a power cut) and wait until none is left."""
    unified = ROOT / "unified" / rel / "cgroup.kill"
    deadline = time.monotonic() + timeout
    while True:
        left = pids(rel)
        if not left:
            return
        if unified.exists():
            unified.write_text("1")
        # cgroup.kill covers the v2 tree; the named hierarchy may hold a process that
        # moved out of it, so signal what is left one by one as well.
        for pid in left:
            _sigkill(pid)
        if time.monotonic() > deadline:
            raise BedError(f"processes left in cgroup {rel} after SIGKILL: {sorted(left)}")
        time.sleep(0.02)


def _sigkill(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)


def remove(rel: str) -> None:
    """Kill what is left in cgroup ``rel`` and remove its folders, deepest first."""
    kill(rel)
    for top in paths(rel):
        if top.is_dir():
            _rmtree_cgroup(top)


def _rmtree_cgroup(top: Path) -> None:
    # cgroup folders hold only kernel files: rmdir (not unlink) each folder, leaves first.
    folders = [Path(d) for d, _subs, _files in os.walk(top)]
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        wait_until(partial(_try_rmdir, folder), 10, f"cgroup {folder} to be removable", 0.05)


def _try_rmdir(folder: Path) -> bool:
    try:
        folder.rmdir()
    except FileNotFoundError:
        return True
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return False  # a process is still leaving it
        raise
    return True
