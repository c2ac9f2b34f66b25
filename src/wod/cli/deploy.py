"""``wod deploy``: the platform on its hosts, with the project's Ansible playbooks."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, edge
from wod.deploy.checkout import find_root, open_checkout
from wod.deploy.playbook import DeployOptions, deploy
from wod.deploy.vault import read_password_file
from wod.deploy.wheelhouse import default_cache

VaultPasswordFile = Annotated[
    Path | None,
    typer.Option(
        "--vault-password-file",
        envvar="ANSIBLE_VAULT_PASSWORD_FILE",
        help="File holding the vault password (default: asked).",
    ),
]


def vault_password(path: Path | None, *, confirm: bool = False) -> str:
    """The vault password: from the file, else asked on the terminal (never echoed)."""
    if path is not None:
        return read_password_file(path)
    value: str = typer.prompt("Vault password", hide_input=True, confirmation_prompt=confirm)
    return value


@edge
def deploy_command(
    inventory: Annotated[
        Path, typer.Option("--inventory", "-i", help="The environment: its inventory folder.")
    ],
    check: Annotated[
        bool, typer.Option("--check", help="Report what would change (drift); change nothing.")
    ] = False,
    limit: Annotated[
        str | None, typer.Option("--limit", "-l", help="Only these hosts (Ansible pattern).")
    ] = None,
    vault_password_file: VaultPasswordFile = None,
    source: Annotated[
        Path | None, typer.Option(help="The wod checkout to deploy (default: this one).")
    ] = None,
    extra_vars: Annotated[
        list[str] | None,
        typer.Option("--extra-vars", "-e", help="More variables, as for ansible-playbook."),
    ] = None,
    verbose: Annotated[
        int, typer.Option("--verbose", "-v", count=True, help="More of Ansible's output.")
    ] = 0,
    report: Annotated[
        Path | None, typer.Option(help="Write the run's report (JSON) to this file.")
    ] = None,
) -> None:
    """Deploy (or, with --check, check) the environment of INVENTORY from this checkout."""
    checkout = open_checkout(source or find_root())
    options = DeployOptions(
        inventory=inventory.resolve(),
        password=vault_password(vault_password_file),
        check=check,
        limit=limit,
        extra_vars=extra_vars or [],
        verbosity=verbose,
        report=report,
    )
    deploy(checkout, options, default_cache(), say=_say)


def _say(line: str) -> None:
    console.print(f"[bold]wod deploy:[/bold] {line}", highlight=False)
