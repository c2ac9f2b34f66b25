"""The ``system`` host mode (production, root): seats are Linux users ``studentN`` with
uid/gid ``uid_base + N``, homes 0700 owned by them, passwords on the Linux account (JupyterHub
checks them through PAM), each server started as its seat's user from the seats' environment
(``hub.singleuser_venv``): the kernel isolates seats from each other.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path

import psutil

from wod.domain.secrets import new_password
from wod.errors import VerbError
from wod.hub.modes.base import Accounts, Finding, HostMode, SeatFiles, kill
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.venv import traversable_by_all

#: The seat numbers a uid range may hold (the watchdog ignores uids beyond).
SEATS = 100_000
#: Why a hub of this mode refuses to run as anyone but root.
NOT_ROOT_REFUSED = (
    "the system account mode starts each seat's server as the seat's Linux user: "
    "JupyterHub must run as root"
)


class SystemAccounts:
    """Seats as Linux users ``studentN`` (uid = gid = ``uid_base + N``)."""

    mode = "system"

    def __init__(self, uid_base: int) -> None:
        self.uid_base = uid_base
        if os.geteuid() != 0:
            raise VerbError("system account mode needs the agent to run as root")

    def uid_of(self, seat: int) -> int:
        return self.uid_base + seat

    def prepare(self, seat: int, username: str, home: Path) -> None:
        uid = self.uid_of(seat)
        try:
            existing = pwd.getpwnam(username)
        except KeyError:
            existing = None
        if existing is not None:
            if existing.pw_uid != uid:
                raise VerbError(f"{username} exists with uid {existing.pw_uid}, not {uid}")
            if existing.pw_dir != str(home):  # the students folder moved: the hub starts the
                _run(["usermod", "-d", str(home), username])  # server in the passwd home
            return
        try:
            grp.getgrgid(uid)
        except KeyError:
            _run(["groupadd", "-g", str(uid), username])
        _run(
            [
                "useradd",
                "-u",
                str(uid),
                "-g",
                str(uid),
                "-d",
                str(home),
                "-M",
                "-s",
                "/bin/bash",
                "-c",
                f"wod seat {seat}",
                username,
            ]
        )

    def set_password(self, username: str, password: str) -> None:
        _run(["chpasswd"], stdin=f"{username}:{password}\n")

    def lock(self, username: str) -> None:
        with contextlib.suppress(KeyError):
            pwd.getpwnam(username)
            self.set_password(username, new_password(24))

    def kill_processes(self, username: str) -> int:
        try:
            uid = pwd.getpwnam(username).pw_uid
        except KeyError:
            return 0
        total = 0
        for _ in range(3):  # a dying shell may have forked meanwhile
            victims = [
                p
                for p in psutil.process_iter(["uids"])
                if p.info["uids"] is not None
                and uid in (p.info["uids"].real, p.info["uids"].effective)
            ]
            if not victims:
                break
            total += kill(victims)
            time.sleep(0.05)
        return total

    def owner(self, username: str) -> tuple[int, int] | None:
        entry = pwd.getpwnam(username)
        return entry.pw_uid, entry.pw_gid


def _run(command: list[str], stdin: str | None = None) -> None:
    result = subprocess.run(command, input=stdin, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shown = command[0] if stdin else " ".join(command)  # never echo a password
        raise VerbError(f"{shown} failed ({result.returncode}): {result.stderr.strip()[:300]}")


def seat_by_uid(uid_base: int, seats: int = SEATS) -> Callable[[psutil.Process], str | None]:
    """The seat of a process by its real uid (``uid_base + N``) — never by its paths."""

    def seat_of(process: psutil.Process) -> str | None:
        uid = process.uids().real
        return f"student{uid - uid_base}" if uid_base < uid <= uid_base + seats else None

    return seat_of


class SystemMode(HostMode):
    """Seats as Linux users, each server run as its seat (see the module)."""

    name = "system"
    hides_files = True
    isolates_seats = True

    def make_accounts(self) -> Accounts:
        return SystemAccounts(self.settings.backend.uid_base)

    def make_seat_files(self) -> SeatFiles:
        accounts = self.accounts
        return LocalSeatFiles(self.settings.backend.students_dir, owner=accounts.owner)

    def hub_config(self, values: Mapping[str, str]) -> str:
        return f"""# System account mode: seats are Linux users studentN, each server runs as it.
if os.geteuid() != 0:
    raise SystemExit("wod: " + {NOT_ROOT_REFUSED!r})
c.JupyterHub.spawner_class = "localprocess"
c.WodAuthenticator.password_check = "pam"
c.Spawner.cmd = [{values["singleuser"]}]
c.Spawner.notebook_dir = "~"
"""

    def seat_of(self, process: psutil.Process) -> str | None:
        return seat_by_uid(self.settings.backend.uid_base)(process)

    def hub_user_problem(self, euid: int) -> str | None:
        return NOT_ROOT_REFUSED if euid != 0 else None

    def check_host(self) -> list[Finding]:
        findings = []
        students = self.settings.backend.students_dir
        if students.is_dir() and traversable_by_all(students):
            findings.append(Finding(f"{students}: other users cannot enter it (seats need o+x)"))
        venv = self.settings.hub.singleuser_venv
        if venv is None or not (venv / "bin" / "jupyterhub-singleuser").exists():
            findings.append(Finding("hub.singleuser_venv: not set or not built (wod hub venv)"))
        elif traversable_by_all(venv):
            findings.append(Finding(f"{venv}: other users cannot run it"))
        return findings

    def check_seat(self, number: int, username: str, home: Path) -> list[Finding]:
        expected = self.settings.backend.uid_base + number
        try:
            uid = pwd.getpwnam(username).pw_uid
        except KeyError:
            prepare = self.accounts.prepare
            repair = lambda: prepare(number, username, home)  # noqa: E731
            return [Finding(f"{username}: no Linux account", repair)]
        if uid != expected:
            return [Finding(f"{username}: uid {uid}, expected {expected} (fix it by hand)")]
        return []
