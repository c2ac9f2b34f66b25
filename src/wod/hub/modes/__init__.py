"""Host modes, chosen by name (see :mod:`.base`): the entry-point group ``wod.host_modes``."""

from __future__ import annotations

from importlib.metadata import entry_points

from wod.errors import ConfigError
from wod.hub.modes.base import Accounts, Finding, HostMode, SeatFiles
from wod.settings import Settings

GROUP = "wod.host_modes"

__all__ = ["GROUP", "Accounts", "Finding", "HostMode", "SeatFiles", "load_host_mode", "names"]


def names() -> list[str]:
    """The host modes installed, by name."""
    return sorted({point.name for point in entry_points(group=GROUP)})


def load_host_mode(settings: Settings) -> HostMode:
    """The host mode that ``backend.account_mode`` names, built for ``settings``."""
    wanted = settings.backend.account_mode
    found = [point for point in entry_points(group=GROUP) if point.name == wanted]
    if not found:
        known = ", ".join(names()) or "none"
        raise ConfigError(
            f"backend.account_mode: no host mode {wanted!r} is installed "
            f"(entry-point group {GROUP}: {known})"
        )
    mode_class = found[0].load()
    if not (isinstance(mode_class, type) and issubclass(mode_class, HostMode)):
        raise ConfigError(f"host mode {wanted!r} ({found[0].value}) is not a HostMode")
    mode: HostMode = mode_class(settings)
    return mode
