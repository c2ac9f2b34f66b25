"""``wod init``: a new environment folder (``deploy/inventories/<env>/``) with fresh secrets.

The folder starts as a copy of the documented example inventory; its secrets are random,
generated here and written only encrypted (``group_vars/all/vault.yml``, Ansible Vault).
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path

import yaml

from wod.deploy.vault import decrypt, encrypt
from wod.errors import ConfigError

EXAMPLE = Path("deploy/inventories/example")
#: Files of the example copied into a new environment.
COPIED = ("hosts.yml", "group_vars/all/main.yml")
VAULT_FILE = Path("group_vars/all/vault.yml")
NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")

#: Each secret of an environment and how a fresh value is made.
SECRETS: dict[str, Callable[[], str]] = {
    "vault_wod_secret_key": lambda: secrets.token_urlsafe(48),
    "vault_wod_db_password": lambda: secrets.token_urlsafe(32),
    "vault_wod_hub_token_seed": lambda: secrets.token_hex(32),
    "vault_wod_admin_password": lambda: secrets.token_urlsafe(18),
    "vault_wod_metrics_token": lambda: secrets.token_urlsafe(32),
    "vault_wod_unlock_key": lambda: secrets.token_urlsafe(32),
}
#: Secrets the operator fills in (``ansible-vault edit``): empty at first.
OPERATOR_SECRETS = ("vault_wod_smtp_password",)

VAULT_INTRO = """\
# Secrets of the wod environment {name!r}, made by `wod init`. Edit with
#   ansible-vault edit {path}
# vault_wod_secret_key      api secret_key: encrypts live seat passwords, derives manage links
# vault_wod_db_password     password of the PostgreSQL role wod
# vault_wod_hub_token_seed  each hub host's hub.api_token is derived from it and its name
# vault_wod_admin_password  first password of the admin console user (wod_admin_user)
# vault_wod_metrics_token   the api's metrics.token: Prometheus presents it at GET /metrics
# vault_wod_unlock_key      hub.unlock_key of the api and every hub host (the unlock links)
# vault_wod_smtp_password   password of the SMTP relay (wod_smtp.username), if it needs one
"""


def check_name(name: str) -> str:
    """An environment name: lower-case letters, digits, ``-`` and ``_``, starting with a letter."""
    if not NAME.fullmatch(name):
        raise ConfigError(f"environment name {name!r}: use a-z, 0-9, - and _, starting with a-z")
    return name


def vault_text(name: str, path: Path, values: dict[str, str]) -> str:
    """The clear YAML of an environment's vault (only ever held in memory)."""
    body = yaml.safe_dump(values, sort_keys=True, default_flow_style=False)
    return VAULT_INTRO.format(name=name, path=path) + body


def fresh_secrets() -> dict[str, str]:
    """A new random value for every generated secret, and the operator's secrets empty."""
    values = {key: make() for key, make in SECRETS.items()}
    values.update(dict.fromkeys(OPERATOR_SECRETS, ""))
    return values


def create_environment(root: Path, name: str, target: Path | None, password: str) -> Path:
    """Create the environment folder; its path. Refuses a folder that holds anything."""
    check_name(name)
    example = root / EXAMPLE
    folder = (target or root / "deploy" / "inventories" / name).resolve()
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"{folder} exists and is not empty: choose another name or --path")
    for rel in COPIED:
        if not (example / rel).is_file():
            raise ConfigError(f"{example / rel}: missing (the example inventory is the template)")
    for rel in COPIED:
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(example / rel, folder / rel)
    main = folder / "group_vars/all/main.yml"
    text = re.sub(
        r"^wod_environment: .*$", f"wod_environment: {name}", main.read_text(), flags=re.M
    )
    main.write_text(text)
    write_vault(
        folder / VAULT_FILE, vault_text(name, folder / VAULT_FILE, fresh_secrets()), password
    )
    return folder


def write_vault(path: Path, text: str, password: str) -> None:
    """Encrypt ``text`` into ``path`` (mode 0600), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(encrypt(text, password))
    tmp.replace(path)


def rotate_secret(folder: Path, key: str, password: str) -> None:
    """Give one generated secret of the environment a fresh value (the others are kept)."""
    if key not in SECRETS:
        raise ConfigError(f"{key}: not a generated secret; known: {', '.join(SECRETS)}")
    path = folder / VAULT_FILE
    if not path.is_file():
        raise ConfigError(f"{path}: missing (run wod init first)")
    values = yaml.safe_load(decrypt(path.read_text(), password, path)) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: not a mapping of secrets")
    values[key] = SECRETS[key]()
    write_vault(path, vault_text(folder.name, path, values), password)
