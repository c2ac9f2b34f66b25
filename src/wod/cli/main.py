"""The ``wod`` command."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod import __version__
from wod.cli import (
    actions,
    admins,
    backend,
    content,
    db,
    deploy,
    docs,
    hub,
    i18n,
    init,
    locations,
    seats,
    serve,
    tokens,
    workshops,
)
from wod.cli.common import State

app = typer.Typer(
    name="wod",
    help="Hands-on Jupyter-notebook workshops on demand.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(workshops.app, name="workshops")
app.add_typer(content.app, name="content")
app.add_typer(locations.app, name="locations")
app.add_typer(hub.app, name="hub")
app.add_typer(backend.app, name="backend")
app.add_typer(seats.app, name="seats")
app.add_typer(tokens.app, name="tokens")
app.add_typer(admins.app, name="admins")
app.add_typer(docs.app, name="docs")
app.add_typer(i18n.app, name="i18n")
app.command("up")(serve.up)
app.command("api")(serve.api)
app.command("worker")(serve.worker)
app.command("test-action")(actions.test_action)
app.command("deploy")(deploy.deploy_command)
app.command("init")(init.init_command)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wod {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", envvar="WOD_CONFIG", help="TOML settings file."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Settings come from WOD_… environment variables over the --config file over defaults."""
    State.config = config


def main() -> None:
    app()
