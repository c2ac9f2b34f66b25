"""wod_toml: a mapping as the text of a TOML file (wod's settings files).

Ansible has no TOML writer; wod's settings are plain: strings, numbers, booleans, lists of
those, and tables (nested mappings). ``{{ config | wod_toml }}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}
BARE_KEY = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def _string(text: str) -> str:
    out = []
    for char in text:
        if char in ESCAPES:
            out.append(ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _key(key: object) -> str:
    text = str(key)
    return text if text and set(text) <= BARE_KEY else _string(text)


def _value(value: Any, where: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"wod_toml: {where}: {value} has no TOML form")
        return repr(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v, f"{where}[]") for v in value) + "]"
    if isinstance(value, Mapping):
        pairs = ", ".join(f"{_key(k)} = {_value(v, f'{where}.{k}')}" for k, v in value.items())
        return "{" + pairs + "}"
    raise ValueError(f"wod_toml: {where}: a {type(value).__name__} has no TOML form")


def _table(data: Mapping[str, Any], path: list[str], out: list[str]) -> None:
    scalars = {k: v for k, v in data.items() if not isinstance(v, Mapping) and v is not None}
    tables = {k: v for k, v in data.items() if isinstance(v, Mapping)}
    if path and (scalars or not tables):
        out.append(f"\n[{'.'.join(_key(p) for p in path)}]")
    for key, value in scalars.items():
        out.append(f"{_key(key)} = {_value(value, '.'.join([*path, str(key)]))}")
    for key, value in tables.items():
        _table(value, [*path, str(key)], out)


def to_toml(data: Mapping[str, Any]) -> str:
    """The TOML text of ``data``; ``None`` values are left out (the setting keeps its default)."""
    out: list[str] = []
    _table(data, [], out)
    return "\n".join(out).lstrip("\n") + "\n"


class FilterModule:
    """Ansible's entry point for filter plugins."""

    def filters(self) -> dict[str, Any]:
        return {"wod_toml": to_toml}
