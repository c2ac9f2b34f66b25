"""``wod admins``: the people who log in to the admin console, with their roles."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from wod.cli.common import console, context, edge
from wod.context import AppContext
from wod.domain.roles import Role
from wod.services.admin import audit
from wod.services.admin import users as admins

app = typer.Typer(help="Users of the admin console (/admin).", no_args_is_help=True)

PasswordStdin = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from the first line of standard input."
    ),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    value: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


@app.command("add")
@edge
def add(
    username: Annotated[str, typer.Argument(help="The name to log in with.")],
    role: Annotated[
        Role, typer.Option(help="admin (look and act) or viewer (look).")
    ] = Role.viewer,
    password_stdin: PasswordStdin = False,
) -> None:
    """Add a user; the password is asked twice (at least 12 characters)."""
    ctx = context()
    admins.check_new_user(ctx, username)  # before asking for a password
    admins.create_user(ctx, username, _password(password_stdin), role)
    audit.record(
        ctx, audit.cli_who(), audit.Action.admin_add, f"admin {username}", detail=role.value
    )
    login = ctx.settings.absolute_url("/admin/login")
    console.print(f"{role.value} {username!r} added: log in at {login}", highlight=False)


@app.command("list")
@edge
def list_() -> None:
    """Every user with their role, lock and last login (never a password)."""
    ctx = context()
    now = ctx.clock.now()
    for user in admins.list_users(ctx):
        login = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else "never"
        locked = user.locked_until is not None and user.locked_until > now
        state = f"locked until {user.locked_until:%H:%M}" if locked else "active"
        console.print(
            f"{user.username:20} {user.role:7} {state:20} last login {login}", highlight=False
        )


@app.command("remove")
@edge
def remove(username: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Remove a user: their sessions end at once."""
    ctx = context()
    admins.remove_user(ctx, username)
    audit.record(ctx, audit.cli_who(), audit.Action.admin_remove, f"admin {username}")
    console.print(f"{username!r} removed")
    _forget_first_password(ctx, username)


@app.command("passwd")
@edge
def passwd(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    password_stdin: PasswordStdin = False,
) -> None:
    """Set a new password (asked twice); the user's sessions end."""
    ctx = context()
    admins.find_user(ctx, username)  # before asking for a password
    admins.set_password(ctx, username, _password(password_stdin))
    audit.record(ctx, audit.cli_who(), audit.Action.admin_passwd, f"admin {username}")
    console.print(f"password of {username!r} changed; their sessions ended")
    _forget_first_password(ctx, username)


def _forget_first_password(ctx: AppContext, username: str) -> None:
    """The password ``wod up`` wrote for its first user no longer holds: remove its file."""
    password_file = admins.first_password_file(ctx.settings)
    if username == admins.FIRST_USER and password_file.exists():
        password_file.unlink()
        console.print(f"removed {password_file}: it held the old password")


@app.command("role")
@edge
def role(
    username: Annotated[str, typer.Argument(help="The user's name.")],
    new_role: Annotated[Role, typer.Argument(metavar="ROLE", help="admin or viewer.")],
) -> None:
    """Change a user's role, in force from their next request."""
    ctx = context()
    admins.set_role(ctx, username, new_role)
    audit.record(
        ctx, audit.cli_who(), audit.Action.admin_role, f"admin {username}", detail=new_role.value
    )
    console.print(f"{username!r} is now {new_role.value}")


@app.command("unlock")
@edge
def unlock(username: Annotated[str, typer.Argument(help="The user's name.")]) -> None:
    """Lift the lock that failed logins put on an account."""
    ctx = context()
    admins.unlock(ctx, username)
    audit.record(ctx, audit.cli_who(), audit.Action.admin_unlock, f"admin {username}")
    console.print(f"{username!r} unlocked")
