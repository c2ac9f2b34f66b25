"""Host modes, chosen by name (see :mod:`.base`): the entry-point group ``wod.host_modes``."""

from __future__ import annotations

import functools
from importlib.metadata import entry_points

from wod.errors import ConfigError
from wod.hub.modes.base import Accounts, Finding, HostMode, SeatFiles, SeatLimiter
from wod.settings import Settings

GROUP = "wod.host_modes"

__all__ = [
    "GROUP",
    "Accounts",
    "Finding",
    "HostMode",
    "SeatFiles",
    "SeatLimiter",
    "isolates_seats",
    "load_host_mode",
    "mode_class",
    "names",
]


def names() -> list[str]:
    """The host modes installed, by name."""
    return sorted({point.name for point in entry_points(group=GROUP)})


def mode_class(name: str) -> type[HostMode]:
    """The host mode class installed under ``name``."""
    found = [point for point in entry_points(group=GROUP) if point.name == name]
    if not found:
        known = ", ".join(names()) or "none"
        raise ConfigError(
            f"backend.account_mode: no host mode {name!r} is installed "
            f"(entry-point group {GROUP}: {known})"
        )
    loaded = found[0].load()
    if not (isinstance(loaded, type) and issubclass(loaded, HostMode)):
        raise ConfigError(f"host mode {name!r} ({found[0].value}) is not a HostMode")
    return loaded


def load_host_mode(settings: Settings) -> HostMode:
    """The host mode that ``backend.account_mode`` names, built for ``settings``."""
    return mode_class(settings.backend.account_mode)(settings)


@functools.cache
def isolates_seats(name: str) -> bool:
    """Whether the host mode ``name`` keeps seats apart (:attr:`HostMode.isolates_seats`); a
    mode that is not installed does not."""
    try:
        return mode_class(name).isolates_seats
    except ConfigError:
        return False
