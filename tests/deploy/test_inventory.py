"""The example inventory works and documents every variable; the playbooks parse."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.source import ROOT

pytest.importorskip("ansible", reason="the playbooks need ansible-core (the deploy extra)")

DEPLOY = ROOT / "deploy"
EXAMPLE = DEPLOY / "inventories" / "example"
BIN = Path(sys.executable).parent


def ansible(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ANSIBLE_CONFIG": str(DEPLOY / "ansible.cfg")}
    return subprocess.run(
        [str(BIN / tool), *args], capture_output=True, text=True, env=env, cwd=ROOT, check=False
    )


def test_the_example_inventory_lists_its_groups_and_hubs() -> None:
    result = ansible("ansible-inventory", "-i", str(EXAMPLE), "--list")
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    for group in ("wod_db", "wod_api", "wod_hubs", "wod_appliances"):
        assert group in data["all"]["children"], group
    hubs = data["wod_hubs"]["hosts"]
    assert len(hubs) == 2
    for host in hubs:
        facts = data["_meta"]["hostvars"][host]
        assert facts["wod_location"] and re.fullmatch(r"\d+-\d+", facts["wod_seats"])


def test_the_site_playbook_parses() -> None:
    result = ansible(
        "ansible-playbook", "-i", str(EXAMPLE), str(DEPLOY / "site.yml"), "--syntax-check"
    )
    assert result.returncode == 0, result.stderr + result.stdout


def _defaults() -> list[str]:
    """The variables an operator may set: the defaults above the derived section."""
    text = (DEPLOY / "roles/wod_defaults/defaults/main.yml").read_text()
    settable = text.split("# ----- derived", 1)[0]
    return list(yaml.safe_load(settable))


def test_every_variable_is_explained_in_the_example() -> None:
    example = (EXAMPLE / "hosts.yml").read_text() + (
        EXAMPLE / "group_vars/all/main.yml"
    ).read_text()
    missing = [name for name in _defaults() if name not in example]
    assert missing == []


def test_every_vault_secret_is_explained_in_the_example() -> None:
    from wod.deploy.environment import OPERATOR_SECRETS, SECRETS

    example = (EXAMPLE / "group_vars/all/main.yml").read_text()
    assert [k for k in [*SECRETS, *OPERATOR_SECRETS] if k not in example] == []


def _wod_toml() -> Any:
    """The playbooks' filter plugin, loaded from its file (it is not a package module)."""
    spec = importlib.util.spec_from_file_location("wod_toml", DEPLOY / "filter_plugins/wod_toml.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_settings_are_written_as_toml_that_wod_reads(tmp_path: Path) -> None:
    config = {
        "mode": "production",
        "secret_key": 'quote " backslash \\ newline \n tab \t',
        "api": {"public_url": "https://w.example.org", "catalogue_ttl": 2.5},
        "branding": {"name": "Été", "links": {"Code of conduct": "https://c.example.org"}},
        "content": {"paths": ["/srv/wod/content/public", "/srv/wod/content/private"]},
        "smtp": {"host": "smtp.example.org", "port": 587, "password": None},
        "alerts": {"recipients": []},
        "scheduler": {"enabled": True},
    }
    text = _wod_toml().to_toml(config)
    config["smtp"] = {"host": "smtp.example.org", "port": 587}  # None: the default is kept
    assert tomllib.loads(text) == config
    path = tmp_path / "api.toml"
    path.write_text(text)
    from wod.settings import load_settings

    settings = load_settings(path)
    assert settings.secret_key.get_secret_value() == config["secret_key"]
    assert [str(p) for p in settings.content.paths] == config["content"]["paths"]  # type: ignore[index]
    assert settings.branding.links == {"Code of conduct": "https://c.example.org"}
