"""``wod db``: the database schema."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, context, edge, settings
from wod.db.migrate import current_revision, upgrade
from wod.deploy.backup import backup, default_file, restore, target_of

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
@edge
def upgrade_command() -> None:
    """Create or migrate the database to the latest schema."""
    ctx = context()
    before = current_revision(ctx.db)
    upgrade(ctx.db)
    after = current_revision(ctx.db)
    where = ctx.db.url.render_as_string(hide_password=True)
    if before == after:
        console.print(f"{where}: already at {after}")
    else:
        console.print(f"{where}: {before or 'empty'} → {after}")


@app.command("current")
@edge
def current_command() -> None:
    """Print the schema revision of the database."""
    console.print(current_revision(context().db) or "empty (run `wod db upgrade`)")


@app.command("backup")
@edge
def backup_command(
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File or folder (default: wod-DB-TIME.dump here)."),
    ] = None,
) -> None:
    """Copy the database into a file (pg_dump custom format, or a SQLite copy)."""
    target = target_of(settings().resolved_database_url)
    written = backup(target, output or default_file(target))
    console.print(f"{target.url.render_as_string(hide_password=True)} → {written}", highlight=False)


@app.command("restore")
@edge
def restore_command(
    file: Annotated[Path, typer.Argument(help="A copy made by wod db backup or the nightly dump.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Replace the database's content with FILE's (stop the api processes first)."""
    target = target_of(settings().resolved_database_url)
    where = target.url.render_as_string(hide_password=True)
    if not yes:
        typer.confirm(f"Replace every table of {where} with {file}?", abort=True)
    restore(target, file)
    console.print(f"{where}: restored from {file}", highlight=False)
