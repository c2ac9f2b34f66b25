"""``wod tokens``: admin api tokens with their roles."""

from __future__ import annotations

from typing import Annotated

import typer

from wod.cli.common import console, context, edge
from wod.domain.roles import Role
from wod.services.admin import audit
from wod.services.admin.tokens import create_token, list_tokens, revoke_token

app = typer.Typer(help="Admin api tokens.", no_args_is_help=True)


@app.command("add")
@edge
def add(
    name: Annotated[str, typer.Argument(help="A name to recognise the token by.")],
    role: Annotated[
        Role, typer.Option(help="admin (read and act) or viewer (read).")
    ] = Role.viewer,
) -> None:
    """Create a token and print it, once (only its hash is kept)."""
    ctx = context()
    token = create_token(ctx, name, role)
    audit.record(ctx, audit.cli_who(), audit.Action.token_add, f"token {name}", detail=role.value)
    console.print(f"{role.value} token {name!r} (shown once; use it as Authorization: Bearer …):")
    console.print(token, highlight=False)


@app.command("list")
@edge
def list_() -> None:
    """Every token (never the token itself)."""
    for row in list_tokens(context()):
        used = row.last_used_at.strftime("%Y-%m-%d %H:%M") if row.last_used_at else "never"
        state = "revoked" if row.revoked else "active"
        console.print(f"{row.name:20} {row.role:7} {state:8} last used {used}", highlight=False)


@app.command("revoke")
@edge
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: it stops working at once."""
    ctx = context()
    revoke_token(ctx, name)
    audit.record(ctx, audit.cli_who(), audit.Action.token_revoke, f"token {name}")
    console.print(f"token {name!r} revoked")
