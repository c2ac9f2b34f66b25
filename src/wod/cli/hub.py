"""``wod hub``: the JupyterHub of a location."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, edge, settings
from wod.errors import ConfigError
from wod.hub.config import write_config
from wod.hub.venv import build_venv

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


@app.command("venv")
@edge
def venv(
    path: Annotated[
        Path | None, typer.Argument(help="Where; default the setting hub.singleuser_venv.")
    ] = None,
    python: Annotated[str, typer.Option(help="Interpreter to build it from.")] = "/usr/bin/python3",
    constraints: Annotated[Path, typer.Option(help="Pinned versions to install.")] = Path(
        "requirements/constraints.txt"
    ),
) -> None:
    """Build the virtualenv the seats' servers run from, with the kernels of hub.kernels."""
    current = settings()
    target = path or current.hub.singleuser_venv
    if target is None:
        raise ConfigError("give a PATH or set hub.singleuser_venv")
    build_venv(
        target, current.hub.kernels, python=python, constraints=constraints, say=console.print
    )
