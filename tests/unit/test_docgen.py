"""The generated reference pages are current, and every CLI command and setting is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.models import CommandInfo

from tests.conftest import ROOT
from wod.cli.main import app
from wod.docgen import PAGES

DOCS = ROOT / "docs"


@pytest.mark.parametrize("page", sorted(PAGES, key=str), ids=str)
def test_generated_page_is_current(page: Path) -> None:
    checked_in = (DOCS / page).read_text()
    assert checked_in == PAGES[page](), f"docs/{page} is stale: run `wod docs generate`"


def _command_name(command: CommandInfo) -> str:
    if command.name:
        return command.name
    assert command.callback is not None
    return command.callback.__name__


def _commands(group: typer.Typer, prefix: str = "wod") -> list[str]:
    names = [f"{prefix} {_command_name(c)}" for c in group.registered_commands]
    for sub in group.registered_groups:
        assert sub.typer_instance is not None
        names += _commands(sub.typer_instance, f"{prefix} {sub.name}")
    return names


def test_every_cli_command_is_in_the_cli_reference() -> None:
    reference = (DOCS / "reference" / "cli.md").read_text()
    missing = [name for name in _commands(app) if f"`{name}" not in reference]
    assert missing == []
