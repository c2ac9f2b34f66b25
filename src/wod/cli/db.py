"""``wod db``: the database schema."""

from __future__ import annotations

import typer

from wod.cli.common import console, context, edge
from wod.db.migrate import current_revision, upgrade

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
