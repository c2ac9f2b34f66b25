"""A seat's resource limits (memory, CPU, tasks): what a workshop's ``wod.yml`` asks for under
``limits:`` and what a location gives by default (``hub.seat_memory``, ``hub.seat_cpu``,
``hub.seat_tasks``). Host modes that can enforce them (``systemd``) turn them into the unit
properties ``MemoryMax=``, ``CPUQuota=`` and ``TasksMax=``.

Every value is checked here, before it reaches systemd: what systemd would refuse, or what
would leave no room for a Jupyter server (a few dozen MB, a few threads), is an error naming
the field, so that a bad value is refused at import and never at a participant's spawn.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Units of a memory size (powers of 1024, as systemd reads them).
_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3, "T": 1024**4}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$", re.IGNORECASE)
#: Below this a Jupyter server and its kernel cannot start.
MIN_MEMORY = 64 * 1024**2
#: A server and its kernel run about 20 threads.
MIN_TASKS = 32
#: systemd's CPUQuota= is a whole percentage of one CPU: 1 % is the least it takes.
MIN_CPU = 0.01
#: Sanity bounds: no seat gets a host of this size (a slip such as ``1P`` or ``100000``).
MAX_MEMORY = 1024**5
MAX_CPU = 1024.0
MAX_TASKS = 4_194_304  # the kernel's pid_max ceiling
#: The keys of ``limits:`` in wod.yml.
KEYS = ("memory", "cpu", "tasks")


class LimitError(ValueError):
    """A limit systemd would refuse or a server could not live with; the message says why."""


@dataclass(frozen=True)
class SeatLimits:
    """Limits of one seat's server; None: not set here (the location's default applies)."""

    memory: int | None = None  # bytes
    cpu: float | None = None  # CPUs (1.0 = one core)
    tasks: int | None = None  # processes and threads

    def over(self, defaults: SeatLimits) -> SeatLimits:
        """These limits, each one not set taken from ``defaults``."""
        return SeatLimits(
            memory=self.memory if self.memory is not None else defaults.memory,
            cpu=self.cpu if self.cpu is not None else defaults.cpu,
            tasks=self.tasks if self.tasks is not None else defaults.tasks,
        )

    def as_dict(self) -> dict[str, int | float]:
        """The limits that are set, as JSON values (bytes, CPUs, tasks)."""
        found: dict[str, int | float] = {}
        if self.memory is not None:
            found["memory"] = self.memory
        if self.cpu is not None:
            found["cpu"] = self.cpu
        if self.tasks is not None:
            found["tasks"] = self.tasks
        return found

    def describe(self) -> str:
        """``memory 1.0 GiB, cpu 1.0, tasks 256`` (for logs)."""
        parts = []
        if self.memory is not None:
            parts.append(f"memory {format_size(self.memory)}")
        if self.cpu is not None:
            parts.append(f"cpu {self.cpu:g}")
        if self.tasks is not None:
            parts.append(f"tasks {self.tasks}")
        return ", ".join(parts) or "none"


def format_size(size: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if size >= _UNITS[unit] and size % (_UNITS[unit] // 16 or 1) == 0:
            return f"{size / _UNITS[unit]:g} {unit}iB"
    return f"{size} B"


def parse_memory(value: Any) -> int:
    """Bytes from ``512M``, ``1G``, ``1.5G``, ``2GiB`` or a number of bytes."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LimitError(f"expected a size such as 512M or 2G, got {type(value).__name__}")
    match = _SIZE.match(str(value))
    if match is None:
        raise LimitError(
            f"{value!r} is not a size: a number with K, M, G or T (powers of 1024), e.g. 2G"
        )
    size = int(float(match.group(1)) * _UNITS[match.group(2).upper()])
    if size < MIN_MEMORY:
        raise LimitError(f"{value!r} is less than {format_size(MIN_MEMORY)}: no server starts")
    if size > MAX_MEMORY:
        raise LimitError(f"{value!r} is more than {format_size(MAX_MEMORY)}")
    return size


def parse_cpu(value: Any) -> float:
    """CPUs, a number such as ``0.5`` or ``2`` (systemd's ``CPUQuota=`` 50 %, 200 %)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise LimitError(f"expected a number of CPUs such as 0.5 or 2, got {type(value).__name__}")
    try:
        cpu = float(value)
    except ValueError:
        raise LimitError(f"{value!r} is not a number of CPUs (e.g. 0.5 or 2)") from None
    if not cpu >= MIN_CPU:  # also NaN
        raise LimitError(f"{value!r}: at least {MIN_CPU} CPU (systemd's CPUQuota= of 1 %)")
    if cpu > MAX_CPU:
        raise LimitError(f"{value!r} is more than {MAX_CPU:g} CPUs")
    return cpu


def parse_tasks(value: Any) -> int:
    """Processes and threads a seat may have at once (systemd's ``TasksMax=``)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise LimitError(f"expected a whole number of tasks, got {type(value).__name__}")
    try:
        tasks = int(str(value).strip())
    except ValueError:
        raise LimitError(f"{value!r} is not a whole number of tasks") from None
    if tasks < MIN_TASKS:
        raise LimitError(f"{value!r} is less than {MIN_TASKS}: a server and its kernel need more")
    if tasks > MAX_TASKS:
        raise LimitError(f"{value!r} is more than {MAX_TASKS}")
    return tasks


_PARSERS = {"memory": parse_memory, "cpu": parse_cpu, "tasks": parse_tasks}


def parse_limits(value: Any) -> tuple[SeatLimits, list[tuple[str, str]]]:
    """The ``limits:`` mapping of a wod.yml: the limits (those in error left unset) and the
    problems, as (key, message) pairs (key ``limits`` or ``limits.memory`` …)."""
    if value is None:
        return SeatLimits(), []
    if not isinstance(value, dict):
        kind = type(value).__name__
        return SeatLimits(), [("limits", f"expected a mapping of {', '.join(KEYS)}, got {kind}")]
    problems: list[tuple[str, str]] = []
    found: dict[str, Any] = {}
    for key, item in value.items():
        if key not in _PARSERS:
            problems.append((f"limits.{key}", f"unknown limit; known: {', '.join(KEYS)}"))
            continue
        if item is None:
            continue  # written empty: the location's default
        try:
            found[key] = _PARSERS[key](item)
        except LimitError as exc:
            problems.append((f"limits.{key}", str(exc)))
    return SeatLimits(**found), problems
