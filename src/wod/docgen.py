"""Reference pages generated from the code, so they cannot drift: the settings (from their
declarations), the OpenAPI document (from the app), the lifecycle diagrams (from the
transition table) and the kinds of email (from their table). ``wod docs generate`` writes them;
a test fails when a checked-in copy differs.
"""

from __future__ import annotations

import json
from datetime import timedelta
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo

from wod.domain.states import INITIAL, TRANSITIONS
from wod.settings import Settings

SETTINGS_PAGE = Path("reference/settings.md")
OPENAPI_PAGE = Path("reference/openapi.json")
LIFECYCLE_PAGE = Path("explanation/lifecycle.md")
EMAILS_PAGE = Path("reference/emails.md")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, SecretStr):
        return "(a development default, refused in production)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, list):
        value = [str(v) for v in value]
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, timedelta):
        return f"`{int(value.total_seconds())}` (seconds)"
    text = json.dumps(value) if not isinstance(value, str) else value
    return f"`{text}`" if text != "" else "(empty)"


def _type(field: FieldInfo) -> str:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return " \\| ".join(m.value for m in annotation)
    if annotation is timedelta:
        return "duration (seconds, `PT10M` or `00:10:00`)"
    if get_origin(annotation) is Literal:
        return " \\| ".join(str(a) for a in get_args(annotation))
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    for module in ("typing.", "pathlib.", "pydantic.types.", "wod.settings."):
        text = text.replace(module, "")
    return text.replace("|", "\\|")


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            continue
        env = "WOD_" + (prefix + "__" if prefix else "") + name.upper()
        rows.append(
            f"| `{name}` | `{env}` | {_type(field)} | {_default(field)} | "
            f"{field.description or ''} |"
        )
    return rows


def settings_markdown() -> str:
    """``docs/reference/settings.md``."""
    lines = [
        "# Settings reference",
        "",
        "Generated from `src/wod/settings.py` by `wod docs generate`; do not edit by hand.",
        "",
        "Every setting comes from, in order of precedence: an environment variable `WOD_…`, the",
        "TOML file given with `wod --config FILE` (or `WOD_CONFIG`), the default below. Nested",
        "settings use `__` in the environment (`WOD_SMTP__HOST`) and a table in TOML",
        "(`[smtp]` then `host = …`). Lists are JSON in the environment",
        '(`WOD_CONTENT__PATHS=\'["content", "../private"]\'`).',
        "",
    ]
    header = ["| setting | environment | type | default | meaning |", "|---|---|---|---|---|"]
    lines += ["## General", "", *header, *_rows(Settings, ""), ""]
    for name, field in Settings.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines += [f"## `[{name}]`", "", *header, *_rows(annotation, name.upper()), ""]
            lines += _item_tables(annotation, name)
    return "\n".join(lines)


def _item_tables(model: type[BaseModel], group: str) -> list[str]:
    """A table for each list of tables of a group (``[[content.layers]]``)."""
    lines = []
    for name, field in model.model_fields.items():
        args = get_args(field.annotation)
        item = args[0] if get_origin(field.annotation) is list and args else None
        if not (isinstance(item, type) and issubclass(item, BaseModel)):
            continue
        title = (item.__doc__ or "").strip().splitlines()[0]
        lines += [f"### `[[{group}.{name}]]`", "", title, ""]
        lines += ["| key | type | default | meaning |", "|---|---|---|---|"]
        for key, sub in item.model_fields.items():
            default = "(required)" if sub.is_required() else _default(sub)
            lines.append(f"| `{key}` | {_type(sub)} | {default} | {sub.description or ''} |")
        lines.append("")
    return lines


def openapi_json() -> str:
    """``docs/reference/openapi.json``: the api's OpenAPI document."""
    from wod.context import build_context
    from wod.web.app import create_app

    settings = Settings(database_url="sqlite:////tmp/wod-openapi-unused.sqlite3")
    ctx = build_context(settings)
    try:
        document = create_app(ctx, background=False).openapi()
    finally:
        ctx.close()
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def lifecycle_markdown() -> str:
    """``docs/explanation/lifecycle.md``: each state machine as a Mermaid diagram."""
    lines = [
        "# Lifecycles",
        "",
        "Generated from the transition table in `src/wod/domain/states.py` by",
        "`wod docs generate`; do not edit by hand. Every state change of a registration, a seat,",
        "a job or an email goes through this table; the services apply it as a conditional",
        "update, so two processes can never both make the same change.",
        "",
    ]
    for enum, table in TRANSITIONS.items():
        lines += [f"## {enum.__name__}", "", "```mermaid", "stateDiagram-v2"]
        for first in INITIAL.get(enum, (next(iter(table)),)):
            lines.append(f"    [*] --> {first.value}")
        for old, targets in table.items():
            for new in sorted(targets, key=lambda s: list(table).index(s)):
                lines.append(f"    {old.value} --> {new.value}")
            if not targets:
                lines.append(f"    {old.value} --> [*]")
        lines += ["```", ""]
    return "\n".join(lines)


def emails_markdown() -> str:
    """``docs/reference/emails.md``: the table of email kinds."""
    from wod.services.mail.kinds import KINDS, Liveness

    resend = {
        Liveness.always: "any time",
        Liveness.seat_held: "while the registration holds its seat",
        Liveness.active: "while the registration is active",
        Liveness.unconfirmed: "while the registration is unconfirmed",
    }
    lines = [
        "# Emails reference",
        "",
        "Generated from the table of kinds in `src/wod/services/mail/kinds.py` by",
        "`wod docs generate`; do not edit by hand. Each kind is three templates,",
        "`<kind>.subject.j2`, `<kind>.txt.j2` and `<kind>.html.j2` (see",
        "[Customise the emails](../howto/customise-emails.md)), and one row of that table.",
        "",
        "| kind | to | when | resent by an admin | its own variables |",
        "|---|---|---|---|---|",
    ]
    for kind in sorted(KINDS.values(), key=lambda k: k.name):
        own = ", ".join(f"`{v}`" for v in kind.variable_names) or "—"
        lines.append(
            f"| `{kind.name}` | {kind.audience.value} | {kind.description} | "
            f"{resend[kind.liveness]} | {own} |"
        )
    return "\n".join(lines) + "\n"


PAGES = {
    SETTINGS_PAGE: settings_markdown,
    OPENAPI_PAGE: openapi_json,
    LIFECYCLE_PAGE: lifecycle_markdown,
    EMAILS_PAGE: emails_markdown,
}


def generate(docs: Path) -> list[Path]:
    """Write every generated page under ``docs``; the paths written."""
    written = []
    for relative, build in PAGES.items():
        target = docs / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(build())
        written.append(target)
    return written
