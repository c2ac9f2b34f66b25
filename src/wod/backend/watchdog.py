"""The abuse watchdog of the agent: seat processes that burn CPU beyond a threshold for longer
than a period, or whose command matches a deny-list (miners), are killed with every process of
their seat, and the api is told (it ends the registration and purges the seat). Processes whose
command matches the whitelist (kernels, the single-user server) are left alone.

A seat's processes are found by the host mode (:meth:`wod.hub.modes.HostMode.seat_of`): by uid
in system mode (``uid_base + N``), by the ``JUPYTERHUB_USER`` of their environment in hub mode —
never by matching paths.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from wod.hub.modes.base import Accounts, SeatOf
from wod.settings import WatchdogSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Abuse:
    seat: str
    pid: int
    reason: str


def program_names(argv: list[str], name: str) -> set[str]:
    """What a process runs: its executable, the script or module an interpreter runs, and the
    name it was started under — never its other arguments (anyone can add an argument)."""
    names = {name}
    if argv:
        names.add(Path(argv[0]).name)
        if Path(argv[0]).name.startswith(("python", "bash", "sh", "perl", "node")):
            rest = argv[1:]
            if len(rest) >= 2 and rest[0] == "-m":
                names.add(rest[1])
            elif rest and not rest[0].startswith("-"):
                names.add(Path(rest[0]).name)
    return names


class AbuseWatchdog:
    """Scans the process table; :meth:`scan` is one pass (tests drive it with their clock)."""

    def __init__(
        self,
        settings: WatchdogSettings,
        seat_of: SeatOf,
        accounts: Accounts,
        report: Callable[[Abuse], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.seat_of = seat_of
        self.accounts = accounts
        self.report = report
        self.clock = clock
        self._watched: dict[int, psutil.Process] = {}
        self._hot_since: dict[int, float] = {}

    def _verdict(self, process: psutil.Process, now: float) -> str | None:
        argv = process.cmdline()
        command = " ".join(argv) or process.name()
        names = program_names(argv, process.name())
        if any(bad in name for name in names for bad in self.settings.deny_list):
            return f"deny-listed program {command[:100]!r}"
        if names & set(self.settings.whitelist):
            return None
        cpu = self._watched.setdefault(process.pid, process).cpu_percent(None)
        if cpu < self.settings.cpu_percent:
            self._hot_since.pop(process.pid, None)
            return None
        since = self._hot_since.setdefault(process.pid, now)
        if now - since >= self.settings.period:
            return f"{cpu:.0f} % CPU for {now - since:.0f} s: {command[:100]!r}"
        return None

    def scan(self) -> list[Abuse]:
        """One pass: the abuses found, their seats' processes already killed."""
        now = self.clock()
        found: dict[str, Abuse] = {}
        alive = set()
        for process in psutil.process_iter():
            try:
                seat = self.seat_of(process)
                if seat is None:
                    continue
                alive.add(process.pid)
                reason = self._verdict(process, now)
            except psutil.Error:
                continue
            if reason is not None and seat not in found:
                found[seat] = Abuse(seat, process.pid, reason)
        for pid in set(self._watched) - alive:
            self._watched.pop(pid, None)
            self._hot_since.pop(pid, None)
        for abuse in found.values():
            killed = self.accounts.kill_processes(abuse.seat)
            log.warning("abuse on %s: %s; %d process(es) killed", abuse.seat, abuse.reason, killed)
            with contextlib.suppress(Exception):  # the api being down must not stop the watch
                self.report(abuse)
        return list(found.values())

    def run(self, stopping: threading.Event) -> None:
        while not stopping.wait(self.settings.interval):
            try:
                self.scan()
            except Exception:
                log.exception("abuse watchdog: pass failed")
