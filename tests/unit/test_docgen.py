"""The generated reference pages are current, and every CLI command and setting is documented."""

from __future__ import annotations

import pytest
import typer

from tests.conftest import ROOT
from wod.cli.main import app
from wod.docgen import PAGES

DOCS = ROOT / "docs"


@pytest.mark.parametrize("page", sorted(PAGES, key=str), ids=str)
def test_generated_page_is_current(page) -> None:  # type: ignore[no-untyped-def]
    checked_in = (DOCS / page).read_text()
    assert checked_in == PAGES[page](), f"docs/{page} is stale: run `wod docs generate`"


def _commands(group: typer.Typer, prefix: str = "wod") -> list[str]:
    names = [f"{prefix} {c.name or c.callback.__name__}" for c in group.registered_commands]  # type: ignore[union-attr]
    for sub in group.registered_groups:
        names += _commands(sub.typer_instance, f"{prefix} {sub.name}")  # type: ignore[arg-type]
    return names


def test_every_cli_command_is_in_the_cli_reference() -> None:
    reference = (DOCS / "reference" / "cli.md").read_text()
    missing = [name for name in _commands(app) if f"`{name}" not in reference]
    assert missing == []
