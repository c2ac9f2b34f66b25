"""``wod hub``: the JupyterHub of a location."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, edge, settings
from wod.hub.config import write_config

app = typer.Typer(help="The location's JupyterHub.", no_args_is_help=True)


@app.command("config")
@edge
def config(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write it.")
    ] = None,
) -> None:
    """Write a working jupyterhub_config.py (wod authenticator, seat homes, service token)."""
    current = settings()
    current.require_secrets("hub.api_token")
    path = write_config(current, output)
    console.print(f"wrote {path}")
    console.print(f"start the hub with: jupyterhub -f {path}")
