"""Ansible Vault, from Python: an environment's secrets are written encrypted, never in clear.

Uses ``ansible-core``'s own vault code (the ``deploy`` extra), so what ``wod init`` writes is
what ``ansible-playbook`` and ``ansible-vault`` read.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from wod.errors import ConfigError

HEADER = "$ANSIBLE_VAULT;"


def _vault(password: str) -> Any:
    try:
        from ansible.parsing.vault import (  # type: ignore[import-untyped]
            VaultLib,
            VaultSecret,
        )
    except ImportError as exc:
        raise ConfigError(
            "wod deploy needs ansible-core in wod's environment: pip install 'wod[deploy]'"
        ) from exc
    return VaultLib([("default", VaultSecret(password.encode()))])


def read_password_file(path: Path) -> str:
    """The vault password in ``path``, as Ansible reads it (an executable prints it)."""
    try:
        if os.access(path, os.X_OK) and path.is_file():
            result = subprocess.run([str(path)], capture_output=True, text=True, check=True)
            password = result.stdout.strip()
        else:
            password = path.read_text().strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        raise ConfigError(f"cannot read the vault password file {path}: {exc}") from exc
    if not password:
        raise ConfigError(f"the vault password file {path} is empty")
    return password


def encrypt(text: str, password: str) -> str:
    """``text`` as an Ansible Vault file (AES256)."""
    data: bytes = _vault(password).encrypt(text)
    return data.decode()


def decrypt(vaulttext: str, password: str, where: Path) -> str:
    """The clear text of a vault file; ConfigError naming ``where`` when the password is wrong."""
    try:
        data: bytes = _vault(password).decrypt(vaulttext)
    except ConfigError:
        raise
    except Exception as exc:  # ansible raises AnsibleError (and subclasses) for a bad secret
        raise ConfigError(
            f"{where}: the vault password does not open it (wrong password?)"
        ) from exc
    return data.decode()


def vaulted_files(inventory: Path) -> list[Path]:
    """Every file of an inventory folder that is an Ansible Vault, sorted."""
    if inventory.is_file():
        inventory = inventory.parent
    found = []
    for path in sorted(inventory.rglob("*")):
        if path.is_file() and path.suffix in ("", ".yml", ".yaml", ".json"):
            with path.open("rb") as handle:
                if handle.read(len(HEADER)) == HEADER.encode():
                    found.append(path)
    return found


def check_password(inventory: Path, password: str) -> list[Path]:
    """Open every vault file of the inventory with ``password``; the files opened."""
    files = vaulted_files(inventory)
    for path in files:
        decrypt(path.read_text(), password, path)
    return files
