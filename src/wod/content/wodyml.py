"""The ``wod.yml`` model: every field of the original format, read leniently.

Files written for the original platform are accepted as its tooling accepted them — range forms
``[a,b]`` and ``[a-b]``, keys missing in older files, booleans written as strings, tabs mixed
into the spaces after a colon or a comma — each with a warning naming the file and line. What
cannot be understood is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wod.domain.seat_limits import SeatLimits, parse_limits
from wod.errors import ContentProblem

#: wod.yml key → attribute, in the order of the original format (22 keys + locations).
FIELDS: dict[str, str] = {
    "name": "name",
    "description": "description",
    "category": "categories",
    "duration": "duration",
    "workshopImg": "workshop_img",
    "badgeImg": "badge_img",
    "presenter": "presenter",
    "role": "role",
    "avatar": "avatar",
    "replayLink": "replay_link",
    "replayId": "replay_id",
    "active": "active",
    "capacity": "capacity",
    "priority": "priority",
    "range": "seat_range",
    "reset": "reset",
    "ldap": "ldap",
    "varpass": "varpass",
    "compile": "compile",
    "beta": "beta",
    "monoappliance": "monoappliance",
    "multiappliance": "multiappliance",
    "location": "location",
    "alternateLocation": "alternate_locations",
    "extendable": "extendable",  # wod's own: may a participant extend once (default yes)
    "warm": "warm",  # wod's own: seats built and started ahead of registrations (default 0)
    "idle_timeout": "idle_timeout",  # wod's own: minutes without activity before the seat ends
    "limits": "limits",  # wod's own: memory, cpu, tasks of each seat (wod.domain.seat_limits)
    "learn": "learn",  # wod's own: what a participant will learn (the workshop page lists it)
    "prerequisites": "prerequisites",  # wod's own: what a participant should know or have
}
OPTIONAL_KEYS = {
    "workshopImg",
    "monoappliance",
    "multiappliance",
    "location",
    "alternateLocation",
    "extendable",
    "warm",
    "idle_timeout",
    "limits",
    "learn",
    "prerequisites",
}
DEFAULT_DURATION = 4
_BOOL_WORDS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
#: Whitespace holding a tab after ``:`` or ``,`` (YAML allows only spaces there), or at the end
#: of a line (YAML refuses a trailing tab after a value too).
_SLIP = re.compile(r"[ \t]*\t[ \t]*")
#: Characters after which a quote opens a quoted scalar (elsewhere it is part of plain text).
_QUOTE_OPENERS = frozenset(":,[{-?")
_SLIP_MESSAGE = (
    "tab among the spaces after ':' or ',' or at the end of the line "
    "(YAML allows only spaces there); read as a space"
)


@dataclass
class WodYml:
    """A parsed ``wod.yml``, normalised (ranges as pairs, lists as lists)."""

    name: str = ""
    description: str = ""
    categories: list[str] = field(default_factory=list)
    duration: int = DEFAULT_DURATION
    workshop_img: str = ""
    badge_img: str = ""
    presenter: str = ""
    role: str = ""
    avatar: str = ""
    replay_link: str = ""
    replay_id: int | None = None
    active: bool = False
    capacity: int | None = None
    priority: int = 0
    seat_range: tuple[int, int] | None = None
    reset: bool = False
    ldap: bool = False
    varpass: bool = False
    compile: list[str] = field(default_factory=list)
    beta: bool = False
    monoappliance: bool = False
    multiappliance: bool = False
    location: str | None = None
    alternate_locations: list[str] = field(default_factory=list)
    extendable: bool = True
    warm: int = 0
    #: Minutes; 0: off; None: the platform's default (setting ``idle.timeout``).
    idle_timeout: int | None = None
    limits: SeatLimits = field(default_factory=SeatLimits)
    learn: list[str] = field(default_factory=list)
    prerequisites: list[str] = field(default_factory=list)

    @property
    def seats(self) -> int:
        if self.seat_range is None:
            return 0
        return self.seat_range[1] - self.seat_range[0] + 1


class _Reader:
    """Collects problems while coercing the values of one file."""

    def __init__(self, path: Path, label: str) -> None:
        self.path = path
        self.label = label
        self.problems: list[ContentProblem] = []
        self.lines: dict[str, int] = {}

    def warn(self, key: str, message: str, line: int | None = None) -> None:
        self.problems.append(
            ContentProblem(self.label, key, message, line or self.lines.get(key), warning=True)
        )

    def error(self, key: str, message: str, line: int | None = None) -> None:
        self.problems.append(ContentProblem(self.label, key, message, line or self.lines.get(key)))

    # -- coercions: each returns None after reporting when the value is unusable

    def text(self, key: str, value: Any) -> str | None:
        if value is None:
            return ""
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            return str(value)
        self.error(key, f"expected text, got {type(value).__name__}")
        return None

    def boolean(self, key: str, value: Any) -> bool | None:
        if isinstance(value, bool):
            return value
        if value is None:
            return False
        if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
            self.warn(key, f"boolean written as the string {value!r}")
            return _BOOL_WORDS[value.strip().lower()]
        self.error(key, f"expected true or false, got {value!r}")
        return None

    def integer(self, key: str, value: Any) -> int | None:
        if isinstance(value, bool):
            self.error(key, f"expected a whole number, got {value!r}")
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            self.warn(key, f"number written as the string {value!r}")
            return int(value)
        self.error(key, f"expected a whole number, got {value!r}")
        return None

    def integer_or_default(self, key: str, value: Any) -> int | None:
        if value is None:
            self.warn(key, "empty; the default is used")
            return None
        return self.integer(key, value)

    def optional_integer(self, key: str, value: Any) -> int | None:
        return None if value is None else self.integer(key, value)

    def strings(self, key: str, value: Any) -> list[str] | None:
        if value is None:
            return []
        if isinstance(value, str):
            self.warn(key, "a single value where a list is expected")
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        self.error(key, f"expected a list of text, got {value!r}")
        return None

    def compile_list(self, key: str, value: Any) -> list[str] | None:
        if value in (None, False, "", "false", "False"):
            return []
        if isinstance(value, str):
            return [name.strip() for name in value.split(",") if name.strip()]
        return self.strings(key, value)

    def limits(self, key: str, value: Any) -> SeatLimits:
        limits, problems = parse_limits(value)
        for where, message in problems:
            self.error(where, message, self.lines.get(key))
        return limits

    def seat_range(self, key: str, value: Any) -> tuple[int, int] | None:
        pair = _parse_range(value)
        if pair is None:
            self.error(key, f"expected [first, last] seat numbers, got {value!r}")
            return None
        low, high, legacy = pair
        if legacy:
            self.warn(key, f"range written as {value!r}; [{low}, {high}] is the canonical form")
        if low < 1 or high < low:
            self.error(key, f"[{low}, {high}] is not a range of seat numbers (1 ≤ first ≤ last)")
            return None
        return low, high


def _parse_range(value: Any) -> tuple[int, int, bool] | None:
    """``(low, high, legacy_form)`` from ``[a, b]``, ``[a-b]``, ``'a-b'`` or ``'a,b'``."""
    if isinstance(value, list) and len(value) == 2 and all(type(v) is int for v in value):
        return value[0], value[1], False
    text = None
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str):
        text = value[0]
    elif isinstance(value, str):
        text = value.strip().strip("[]")
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*[-,]\s*(\d+)\s*", text)
    if not match:
        return None
    return int(match[1]), int(match[2]), True


def _fix_whitespace_slips(line: str) -> str:
    """``line`` with each run of spaces and tabs that holds a tab, after a ``:`` or ``,``,
    before a comment or at the end of the line, made one space (none at the end), as the
    original platform's reader read it. Quoted text and comments are left alone: YAML allows a
    tab there."""
    out: list[str] = []
    quote = ""  # the quote of the quoted scalar we are in, if any
    i = 0
    while i < len(line):
        char = line[i]
        if quote:
            out.append(char)
            escaped = (quote == '"' and char == "\\") or (quote == "'" and line[i : i + 2] == "''")
            if escaped and i + 1 < len(line):
                out.append(line[i + 1])
                i += 1
            elif char == quote:
                quote = ""
            i += 1
            continue
        slip = _SLIP.match(line, i)
        if slip is not None:
            at_end = slip.end() == len(line)
            if at_end or line[slip.end()] == "#" or (out and out[-1] in ":,"):
                out.append("" if at_end else " ")
                i = slip.end()
                continue
        if char == "#" and (not out or out[-1] in " \t"):
            return "".join(out) + line[i:]  # a comment: anything goes
        if char in "'\"" and _opens_quote(out):
            quote = char
        out.append(char)
        i += 1
    return "".join(out)


def _opens_quote(before: list[str]) -> bool:
    """Whether a quote after ``before`` starts a quoted scalar (not an apostrophe in text)."""
    text = "".join(before).rstrip(" \t")
    return not text or text[-1] in _QUOTE_OPENERS


def _load_yaml(reader: _Reader, text: str) -> dict[str, Any] | None:
    fixed_lines = []
    for number, line in enumerate(text.splitlines(), start=1):
        repaired = _fix_whitespace_slips(line)
        if repaired != line:
            reader.warn("yaml", _SLIP_MESSAGE, number)
        fixed_lines.append(repaired)
    fixed = "\n".join(fixed_lines) + "\n"
    try:
        node = yaml.compose(fixed, Loader=yaml.SafeLoader)
        data = yaml.safe_load(fixed)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        reader.error("yaml", f"not valid YAML: {problem}", mark.line + 1 if mark else None)
        return None
    if not isinstance(data, dict) or not isinstance(node, yaml.MappingNode):
        reader.error("yaml", "the file must be a mapping of fields")
        return None
    seen: set[str] = set()
    for key_node, _ in node.value:
        key = str(key_node.value)
        line = key_node.start_mark.line + 1
        if key in seen:
            reader.warn(key, "field given twice; the last value wins", line)
        seen.add(key)
        reader.lines[key] = line
    return {str(k): v for k, v in data.items()}


def parse_wod_yml(
    path: Path, label: str | None = None
) -> tuple[WodYml | None, list[ContentProblem]]:
    """Read one ``wod.yml``: the model (None when it has errors) and every problem found."""
    reader = _Reader(path, label or str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reader.error("wod.yml", f"cannot be read: {exc}")
        return None, reader.problems
    data = _load_yaml(reader, text)
    if data is None:
        return None, reader.problems
    spec = _build(reader, data)
    has_errors = any(not p.warning for p in reader.problems)
    return (None if has_errors else spec), reader.problems


def _build(reader: _Reader, data: dict[str, Any]) -> WodYml:
    spec = WodYml()
    coerce = {
        "name": reader.text,
        "description": reader.text,
        "workshopImg": reader.text,
        "badgeImg": reader.text,
        "presenter": reader.text,
        "role": reader.text,
        "avatar": reader.text,
        "replayLink": reader.text,
        "location": reader.text,
        "category": reader.strings,
        "alternateLocation": reader.strings,
        "learn": reader.strings,
        "prerequisites": reader.strings,
        "compile": reader.compile_list,
        "range": reader.seat_range,
        "duration": reader.integer_or_default,
        "replayId": reader.optional_integer,
        "capacity": reader.optional_integer,
        "priority": reader.integer_or_default,
        "warm": reader.integer_or_default,
        "idle_timeout": reader.optional_integer,
        "limits": reader.limits,
    }
    for key, value in data.items():
        if key not in FIELDS:
            reader.warn(key, "unknown field, ignored")
            continue
        if key == "extendable" and value is None:
            continue  # written empty: the default (yes)
        convert = coerce.get(key, reader.boolean)
        converted = convert(key, value)
        if converted is not None or (key in {"replayId", "capacity"} and value is None):
            setattr(spec, FIELDS[key], converted)
    for key in FIELDS:
        if key not in data and key not in OPTIONAL_KEYS and key != "name":
            reader.warn(key, "missing; the default is used")
    _check_values(reader, spec, data)
    return spec


def _check_values(reader: _Reader, spec: WodYml, data: dict[str, Any]) -> None:
    if not spec.name.strip():
        reader.error("name", "a workshop needs a name")
    if spec.duration < 1:
        reader.error("duration", f"must be at least 1 hour, got {spec.duration}")
    if spec.location == "":
        spec.location = None
    if spec.seat_range is None and "range" not in data:
        (reader.error if spec.active else reader.warn)(
            "range", "no seat range: the workshop is imported inactive, without seats"
        )
    if spec.seat_range is None:
        spec.active = False
    if spec.capacity is None:
        spec.capacity = spec.seats
    elif spec.capacity < 0:
        reader.error("capacity", f"must not be negative, got {spec.capacity}")
    elif spec.seat_range is not None and spec.capacity > spec.seats:
        reader.warn(
            "capacity",
            f"{spec.capacity} is more than the {spec.seats} seats of the range; "
            f"at most {spec.seats} can run at once",
        )
    _check_warm(reader, spec)
    if spec.idle_timeout is not None:
        _check_idle_timeout(reader, spec.idle_timeout, spec.duration)
    if spec.monoappliance and spec.multiappliance:
        reader.error("multiappliance", "monoappliance and multiappliance exclude each other")


def _check_warm(reader: _Reader, spec: WodYml) -> None:
    """A pool is part of the workshop's seats: it cannot be larger than they are."""
    limit = min(max(spec.capacity or 0, 0), spec.seats)
    if spec.warm < 0:
        reader.error("warm", f"must not be negative, got {spec.warm}")
    elif spec.warm > 0 and spec.warm > limit:
        reader.error(
            "warm",
            f"a pool of {spec.warm} warm seats is larger than the workshop's "
            f"{limit} seats (range {spec.seats}, capacity {spec.capacity}); at most {limit}",
        )


def _check_idle_timeout(reader: _Reader, minutes: int, duration_hours: int) -> None:
    if minutes < 0:
        reader.error(
            "idle_timeout", f"must be 0 (off) or a positive number of minutes, got {minutes}"
        )
    elif minutes >= duration_hours * 60:
        reader.error(
            "idle_timeout",
            f"{minutes} minutes is not shorter than the workshop's duration "
            f"({duration_hours * 60} minutes): write 0 to turn idle seats' reclaim off",
        )


def declared_range(path: Path) -> tuple[int, int] | None:
    """The seat range a ``wod.yml`` declares, read even when its other fields have errors (a
    broken file still holds its seats); None when it declares none that can be read."""
    reader = _Reader(path, str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    data = _load_yaml(reader, text)
    if data is None or "range" not in data:
        return None
    return reader.seat_range("range", data["range"])
