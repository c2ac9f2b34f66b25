"""``wod docs``: the reference pages generated from the code."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, edge
from wod.docgen import generate

app = typer.Typer(help="Generated documentation.", no_args_is_help=True)


@app.command("generate")
@edge
def generate_command(
    docs: Annotated[Path, typer.Option(help="The docs folder.")] = Path("docs"),
) -> None:
    """Write the settings reference, the OpenAPI document and the lifecycle diagrams."""
    for path in generate(docs):
        console.print(f"wrote {path}")
