"""How the seats of ``wod up`` (the whole platform on one machine) exist: the host mode is chosen
by who runs it, never as a setting that could make participants root.

As root, seats are real Linux accounts (the ``system`` mode): ``studentN`` with uid
``up.uid_base + N``, homes and the seats' Python environment in a folder every user can enter
(:func:`seats_folder`), the environment built from ``/usr/bin/python3`` on the first start and
reused. As anyone else, JupyterHub cannot switch users: seats are hub users of the ``hub`` mode,
all running as that one user, and ``wod up`` says so (:data:`HUB_MODE_WARNING`).
"""

from __future__ import annotations

import hashlib
import pwd
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from wod.errors import ConfigError
from wod.hub.modes.system import SystemAccounts
from wod.hub.venv import build_venv, is_built, traversable_by_all
from wod.settings import UpSettings

#: What ``wod up`` prints at start, and the portal's banner shows, in the hub mode.
HUB_MODE_WARNING = (
    "seats are NOT isolated from each other: wod up is not running as root, so every seat's "
    "server runs as your own user, and a participant's code cell can read and change every "
    "other seat's files, the seats' password hashes and the hub's token. Use it with people "
    "you trust; as root, wod up gives each seat a Linux account of its own."
)
#: The folder of the seats' environment inside :func:`seats_folder`, unless ``up.singleuser_venv``.
VENV_NAME = "singleuser"
#: Mode of the folders a seat's user must only pass through (it cannot list them).
PASS_THROUGH = 0o711


@dataclass(frozen=True)
class LocalSeats:
    """How ``wod up`` runs the seats of this machine (:func:`choose_local_seats`)."""

    mode: str  # the host mode: "system" (root) or "hub"
    students_dir: Path
    credentials_dir: Path
    uid_base: int
    #: The seats' Python environment; None: wod's own (hub mode, every seat is this user).
    singleuser_venv: Path | None = None
    #: True when ``singleuser_venv`` is wod up's own, built on its first start.
    builds_venv: bool = False
    #: What ``wod up`` must say at start (None: nothing).
    warning: str | None = None

    @property
    def isolated(self) -> bool:
        return self.mode == "system"


def seats_folder(data_dir: Path, root: Path) -> Path:
    """The folder of ``root`` that holds the seats of the data folder ``data_dir``: its name
    and a hash of its absolute path (two data folders never share one)."""
    path = data_dir.resolve()
    name = re.sub(r"[^A-Za-z0-9_-]", "-", path.name.lstrip(".")) or "wod"
    digest = hashlib.sha256(str(path).encode()).hexdigest()[:10]
    return root / f"{name}-{digest}"


def choose_local_seats(data_dir: Path, up: UpSettings, euid: int) -> LocalSeats:
    """The host mode and folders of ``wod up`` on ``data_dir`` for a process of ``euid``: the
    system mode as root (a seat never runs as root), the hub mode otherwise, with its
    warning."""
    data = data_dir.resolve()
    credentials = data / "credentials"
    if euid != 0:
        return LocalSeats(
            "hub", data / "students", credentials, up.uid_base, warning=HUB_MODE_WARNING
        )
    folder = seats_folder(data, up.seats_root)
    venv = up.singleuser_venv
    return LocalSeats(
        "system",
        folder / "students",
        credentials,
        up.uid_base,
        singleuser_venv=(venv.resolve() if venv else folder / VENV_NAME),
        builds_venv=venv is None,
    )


def prepare_local_seats(
    seats: LocalSeats,
    data_dir: Path,
    kernels: list[str],
    *,
    constraints: Path | None = None,
    say: Callable[[str], None] = print,
) -> None:
    """Make the folders of ``seats`` and, in the system mode, the seats' environment (built once,
    reused). The data folder is closed to other users (mode 0700): it holds the database, the
    secrets and the caught mail, and in the system mode the seats are other users."""
    data_dir.mkdir(parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    if not seats.isolated:
        return
    students = seats.students_dir
    for folder in reversed([students, *students.parents]):
        if not folder.exists():
            folder.mkdir()
            folder.chmod(PASS_THROUGH)  # a seat passes through to its home, never lists
    students.chmod(PASS_THROUGH)
    if blocked := traversable_by_all(students):
        raise ConfigError(
            f"the seats' users cannot enter {blocked[0]} (seat homes in {students}): give it "
            "o+x, or choose another up.seats_root"
        )
    _ready_venv(seats, kernels, constraints, say)


def _ready_venv(
    seats: LocalSeats, kernels: list[str], constraints: Path | None, say: Callable[[str], None]
) -> None:
    venv = seats.singleuser_venv
    assert venv is not None
    if not seats.builds_venv:
        if not (venv / "bin" / "jupyterhub-singleuser").exists():
            raise ConfigError(
                f"up.singleuser_venv: {venv} is not a seats' environment "
                f"(build it with: wod hub venv {venv})"
            )
        return
    if is_built(venv, kernels, constraints):
        say(f"the seats' Python environment: {venv} (built before, reused)")
        return
    say(
        f"building the seats' Python environment in {venv} from /usr/bin/python3 "
        "(once, about a minute; later starts reuse it) …"
    )
    build_venv(venv, kernels, constraints=constraints, say=say)


def ready_seat_accounts(
    seats: LocalSeats, numbers: range, say: Callable[[str], None] = print
) -> None:
    """Make the Linux accounts of the seats ``numbers`` that are missing (as ``wod backend
    seats sync`` does; the next start finds them); refuse when one of them, or the seat past
    them (the preview's), belongs to something else."""
    if clashes := clashing_accounts(seats.uid_base, range(numbers.start, numbers.stop + 1)):
        raise ConfigError(
            f"seat accounts of this machine belong to something else: {'; '.join(clashes[:3])} "
            "(another wod up, a test): give this one another up.uid_base, or remove them"
        )
    accounts = SystemAccounts(seats.uid_base)
    made = 0
    for number in numbers:
        username = f"student{number}"
        try:
            pwd.getpwnam(username)
        except KeyError:
            accounts.prepare(number, username, seats.students_dir / username)
            made += 1
    if made:
        say(f"{made} seat account(s) created, uid {seats.uid_base} + N")


def clashing_accounts(uid_base: int, seats: Iterable[int]) -> list[str]:
    """The seat accounts ``studentN`` (and their uids ``uid_base + N``) that this machine
    already gives to something else: another ``wod up``, a test, a real user."""
    clashes = []
    for number in seats:
        name, uid = f"student{number}", uid_base + number
        try:
            found = pwd.getpwnam(name).pw_uid
        except KeyError:
            found = None
        if found is not None and found != uid:
            clashes.append(f"{name} has uid {found}, not {uid}")
            continue
        try:
            owner = pwd.getpwuid(uid).pw_name
        except KeyError:
            continue
        if owner != name:
            clashes.append(f"uid {uid} belongs to {owner}, not {name}")
    return clashes
