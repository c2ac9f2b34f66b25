"""The ``hub`` host mode (``wod up`` run by an ordinary user): seats are only JupyterHub users;
their passwords are argon2 hashes in the credential store the ``wod`` authenticator reads, and
every seat's processes run as the hub's own user — **seats are not isolated from each other**.
A hub of this mode never runs as root: every participant would be root (:data:`ROOT_REFUSED`).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path

import psutil

from wod.hub.credentials import CredentialStore, FileCredentialStore
from wod.hub.modes.base import Accounts, Finding, HostMode, SeatFiles, kill
from wod.hub.modes.files import LocalSeatFiles
from wod.settings import Settings

SEAT_NAME = re.compile(r"student\d+")
#: Why a hub of this mode refuses to run as root (said by ``HubProcess`` and by the config).
ROOT_REFUSED = (
    "the hub account mode runs every seat's server as JupyterHub's own user: run as root, "
    "every participant would be root. Run JupyterHub as an ordinary user, or use the system "
    'account mode (backend.account_mode = "system", docs/howto/system-mode.md)'
)
SPAWNER = """\
# Hub account mode: seats are not Linux users and are NOT isolated from each other:
# every single-user server runs as the hub's own user, which therefore is never root.
if os.geteuid() == 0:
    raise SystemExit("wod: " + {refusal})
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = {home_template}
c.Spawner.cmd = [{singleuser}]
"""


class HubAccounts:
    """Seats as hub users with hashed passwords in the credential store."""

    mode = "hub"

    def __init__(self, credentials: CredentialStore, hub_api: str = "") -> None:
        self.credentials = credentials
        #: The start of the ``JUPYTERHUB_API_URL`` of this hub's servers (:func:`hub_api_of`);
        #: empty: no hub runs servers for these accounts, and no process is a seat's.
        self.hub_api = hub_api

    def prepare(self, seat: int, username: str, home: Path) -> None:
        return None

    def set_password(self, username: str, password: str) -> None:
        self.credentials.set_password(username, password)

    def lock(self, username: str) -> None:
        self.credentials.remove(username)

    def kill_processes(self, username: str) -> int:
        # Every seat runs as the hub's user: a seat's processes are those this hub started for
        # it, which carry JUPYTERHUB_USER and this hub's JUPYTERHUB_API_URL in their environment
        # (kernels inherit it). Another hub of the same user (a second platform, another test
        # run) has seats of the same names: its processes are not ours to kill.
        mine = os.getuid()
        seat_processes = []
        for process in psutil.process_iter(["uids"]):
            try:
                if process.info["uids"].real != mine or process.pid == os.getpid():
                    continue
                if seat_by_hub_user(process, self.hub_api) == username:
                    seat_processes.append(process)
            except psutil.Error:
                continue
        return kill(seat_processes)

    def owner(self, username: str) -> tuple[int, int] | None:
        return None


def hub_api_of(settings: Settings) -> str:
    """What the ``JUPYTERHUB_API_URL`` of the servers of the hub configured by ``settings``
    starts with: the hub's own address (``hub.internal_port``), which no other hub shares."""
    return f"http://127.0.0.1:{settings.hub.internal_port}/"


def seat_by_hub_user(process: psutil.Process, hub_api: str) -> str | None:
    """The seat of a process of the hub whose api starts with ``hub_api``, by the
    ``JUPYTERHUB_USER`` of its environment; None for any other process."""
    if not hub_api:
        return None
    try:
        environment = process.environ()
    except psutil.Error:
        return None
    if not environment.get("JUPYTERHUB_API_URL", "").startswith(hub_api):
        return None
    user = environment.get("JUPYTERHUB_USER")
    return user if user is not None and SEAT_NAME.fullmatch(user) else None


class HubMode(HostMode):
    """Seats as hub users of one unprivileged hub (see the module)."""

    name = "hub"

    def __init__(self, settings: Settings, credentials: CredentialStore | None = None) -> None:
        super().__init__(settings)
        self.credentials = credentials

    def make_accounts(self) -> Accounts:
        store = self.credentials or FileCredentialStore(self.settings.backend.credentials_dir)
        return HubAccounts(store, hub_api_of(self.settings))

    def make_seat_files(self) -> SeatFiles:
        return LocalSeatFiles(self.settings.backend.students_dir)

    def hub_config(self, values: Mapping[str, str]) -> str:
        return SPAWNER.format_map({**values, "refusal": repr(ROOT_REFUSED)})

    def hub_user_problem(self, euid: int) -> str | None:
        return ROOT_REFUSED if euid == 0 else None

    def seat_of(self, process: psutil.Process) -> str | None:
        return seat_by_hub_user(process, hub_api_of(self.settings))

    def prepare_hub(self) -> None:
        self.settings.backend.credentials_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def check_host(self) -> list[Finding]:
        folder = self.settings.backend.credentials_dir
        if not folder.is_dir():
            return [Finding(f"{folder}: missing", lambda: folder.mkdir(mode=0o700, parents=True))]
        if stat.S_IMODE(folder.stat().st_mode) & 0o077:
            return [Finding(f"{folder}: readable by others", lambda: folder.chmod(0o700))]
        return []
