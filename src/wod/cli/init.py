"""``wod init``: a new environment for ``wod deploy``, with fresh secrets in a vault."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from wod.cli.common import console, edge
from wod.cli.deploy import VaultPasswordFile, vault_password
from wod.deploy.checkout import find_root
from wod.deploy.environment import VAULT_FILE, check_name, create_environment, rotate_secret
from wod.errors import ConfigError


@edge
def init_command(
    env: Annotated[str, typer.Argument(help="The environment's name: dev, staging, production…")],
    path: Annotated[
        Path | None, typer.Option(help="Where (default: deploy/inventories/ENV of this checkout).")
    ] = None,
    vault_password_file: VaultPasswordFile = None,
    rotate: Annotated[
        str | None,
        typer.Option(help="Give this secret of an existing environment a fresh value instead."),
    ] = None,
) -> None:
    """Create deploy/inventories/ENV: the example's hosts and settings, fresh secrets in a vault."""
    root = find_root()
    folder = (path or root / "deploy" / "inventories" / check_name(env)).resolve()
    if rotate:
        if not (folder / VAULT_FILE).is_file():
            raise ConfigError(f"{folder / VAULT_FILE}: missing (run wod init {env} first)")
        rotate_secret(folder, rotate, vault_password(vault_password_file))
        console.print(f"{rotate}: a new value in {folder / VAULT_FILE}; run wod deploy to apply it")
        return
    created = create_environment(
        root, env, folder, vault_password(vault_password_file, confirm=True)
    )
    console.print(f"environment {env}: {created}", highlight=False)
    console.print(
        f"  secrets: {created / VAULT_FILE} (encrypted with Ansible Vault)", highlight=False
    )
    console.print(
        "  next: write the hosts into hosts.yml and the settings into group_vars/all/main.yml,"
    )
    console.print(f"  then: wod deploy -i {created}", highlight=False)
