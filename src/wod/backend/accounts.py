"""Where a seat's account lives: the :class:`Accounts` interface and its two modes.

- :class:`HubAccounts` ("hub" mode, no root): seats are only JupyterHub users; their passwords
  are argon2 hashes in the credential store the ``wod`` authenticator reads; every seat's
  processes run as the hub's own user (no isolation between seats).
- :class:`SystemAccounts` ("system" mode, root): seats are Linux users ``studentN`` with
  uid/gid ``uid_base + N``, homes 0700, passwords on the Linux account (JupyterHub checks them
  through PAM); the kernel isolates seats from each other.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import psutil

from wod.domain.secrets import new_password
from wod.errors import VerbError
from wod.hub.credentials import CredentialStore

log = logging.getLogger(__name__)


class Accounts(Protocol):
    """Seat accounts. Contract: every method is idempotent; after ``lock`` no password the
    participant knew works; ``kill_processes`` leaves no process of that seat alive and never
    touches another seat's."""

    mode: str

    def prepare(self, seat: int, username: str, home: Path) -> None:
        """Make the account exist (system mode: the Linux user)."""

    def set_password(self, username: str, password: str) -> None: ...

    def lock(self, username: str) -> None: ...

    def kill_processes(self, username: str) -> int:
        """End the seat's processes; how many were killed."""
        ...

    def owner(self, username: str) -> tuple[int, int] | None:
        """uid and gid the seat's files belong to (None: the agent's own)."""
        ...


def _kill(processes: Iterable[psutil.Process]) -> int:
    victims = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
            victims.append(process)
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


class HubAccounts:
    """Seats as hub users with hashed passwords in the credential store."""

    mode = "hub"

    def __init__(self, credentials: CredentialStore) -> None:
        self.credentials = credentials

    def prepare(self, seat: int, username: str, home: Path) -> None:
        return None

    def set_password(self, username: str, password: str) -> None:
        self.credentials.set_password(username, password)

    def lock(self, username: str) -> None:
        self.credentials.remove(username)

    def kill_processes(self, username: str) -> int:
        # Every seat runs as the hub's user: a seat's processes are those JupyterHub started
        # for it, which carry JUPYTERHUB_USER in their environment (kernels inherit it).
        mine = os.getuid()
        seat_processes = []
        for process in psutil.process_iter(["uids"]):
            try:
                if process.info["uids"].real != mine or process.pid == os.getpid():
                    continue
                if process.environ().get("JUPYTERHUB_USER") == username:
                    seat_processes.append(process)
            except psutil.Error:
                continue
        return _kill(seat_processes)

    def owner(self, username: str) -> tuple[int, int] | None:
        return None


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
            total += _kill(victims)
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
