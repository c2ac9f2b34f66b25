"""The host mode: how the seats of a hub host exist — an extension point in JupyterHub's style,
a small documented base class whose implementations are chosen by name.

A mode bundles what differs between ways of running seats: where a seat's account lives
(:class:`Accounts`), where its files go (:class:`SeatFiles`), the spawner part of
``jupyterhub_config.py``, how the abuse watchdog tells a process's seat, and the checks of
``wod backend check``. The agent, the verbs, the watchdog, the conformity check and
``wod hub config`` only talk to these interfaces. Modes are registered under the entry-point
group ``wod.host_modes`` (``hub`` and ``system`` by wod itself) and chosen by the setting
``backend.account_mode`` (:func:`wod.hub.modes.load_host_mode`): a new mode (systemd units,
containers, Kubernetes) is one package and one entry point.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import ClassVar, Protocol

import psutil

from wod.content.render import RenderedFile
from wod.domain.seat_limits import SeatLimits
from wod.settings import Settings

#: The seat (``studentN``) a process belongs to, or None for a process of no seat.
SeatOf = Callable[[psutil.Process], "str | None"]


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


class SeatFiles(Protocol):
    """A seat's home. Contract: ``reset_home`` leaves an empty home with the skeleton files;
    ``deploy`` replaces the workshop folder; ``read_text`` returns None for a missing file;
    ``erase`` leaves no file of the seat behind. All are idempotent."""

    def reset_home(self, username: str, skeletons: Sequence[Path]) -> None: ...

    def deploy(self, username: str, folder: str, files: Sequence[RenderedFile]) -> None: ...

    def read_text(self, username: str, path: PurePosixPath) -> str | None: ...

    def erase(self, username: str) -> None: ...


class SeatLimiter(Protocol):
    """A mode's seat limits (memory, CPU, tasks) and what enforcing them contained. Contract:
    ``apply`` before the seat's server starts; ``clear`` is idempotent; ``contained`` and
    ``events`` only read."""

    def apply(self, username: str, limits: SeatLimits) -> SeatLimits:
        """Give the seat ``limits`` (unset ones: the location's); the limits it gets."""
        ...

    def clear(self, username: str) -> None: ...

    def contained(self, username: str) -> list[str]:
        """What the seat's running server had contained so far (lines for a job log)."""
        ...

    def events(self) -> dict[str, list[str]]:
        """What was contained on each seat since the last call (lines, by seat)."""
        ...


@dataclass
class Finding:
    """One way a hub host differs from what it should be, with its repair when one is safe."""

    what: str
    repair: Callable[[], None] | None = None


def kill(processes: Iterable[psutil.Process]) -> int:
    """Kill ``processes`` and wait for them; how many were signalled."""
    victims = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            process.kill()
            victims.append(process)
    psutil.wait_procs(victims, timeout=5)
    return len(victims)


class HostMode(ABC):
    """How the seats of one hub host exist. A subclass is registered under the entry-point
    group ``wod.host_modes`` by its :attr:`name`.

    Contract: :attr:`accounts` and :attr:`seat_files` keep the contracts of
    :class:`Accounts` and :class:`SeatFiles` and are built once per mode object;
    :meth:`hub_config` returns Python lines of ``jupyterhub_config.py`` that choose and set up
    the spawner (``c`` is the config object) and stop a hub started as a user that
    :meth:`hub_user_problem` refuses; :meth:`seat_of` never raises for a process that
    vanished (it returns None); the checks only read, their repairs change what they name.
    """

    #: The name the setting ``backend.account_mode`` chooses the mode by.
    name: ClassVar[str]
    #: Whether the mode can keep a file from the seat that runs it (the ``compile`` option).
    hides_files: ClassVar[bool] = False
    #: Whether a seat's processes can neither read nor change another seat's files nor the
    #: platform's secrets (the template variable ``SEATISOLATED`` tells the notebooks).
    isolates_seats: ClassVar[bool] = False

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    @cached_property
    def accounts(self) -> Accounts:
        return self.make_accounts()

    @cached_property
    def seat_files(self) -> SeatFiles:
        return self.make_seat_files()

    @cached_property
    def limiter(self) -> SeatLimiter | None:
        """The seats' resource limits; None: this mode enforces none."""
        return self.make_limiter()

    def make_limiter(self) -> SeatLimiter | None:
        """The seats' limits (built once: :attr:`limiter`)."""
        return None

    @abstractmethod
    def make_accounts(self) -> Accounts:
        """The seats' accounts (built once: :attr:`accounts`)."""

    @abstractmethod
    def make_seat_files(self) -> SeatFiles:
        """Where the seats' files go (built once: :attr:`seat_files`)."""

    @abstractmethod
    def hub_config(self, values: Mapping[str, str]) -> str:
        """The spawner part of ``jupyterhub_config.py``. ``values`` are Python literals:
        ``singleuser`` (the server command) and ``home_template`` (``…/{username}``)."""

    @abstractmethod
    def seat_of(self, process: psutil.Process) -> str | None:
        """The seat a process belongs to (for the abuse watchdog)."""

    def hub_user_problem(self, euid: int) -> str | None:
        """Why a JupyterHub of this mode must not run as the user ``euid``; None: it may."""
        return None

    def prepare_hub(self) -> None:  # noqa: B027 - most modes need nothing
        """Make what the hub needs before it starts (``wod hub config``)."""

    def check_host(self) -> list[Finding]:
        """What differs on this host as a whole (folders, the seats' environment)."""
        return []

    def check_seat(self, number: int, username: str, home: Path) -> list[Finding]:
        """What differs for one seat's account; the seat's home is checked after, when this
        finds nothing."""
        return []
