"""The seat's key pair and known hosts in its home, and the agent's ssh config for an
appliance (the SSH steps themselves run against a real host: tests/bed/test_appliances.py)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from wod.backend.appliances import ALIAS, Appliance, add_known_hosts, make_seat_key
from wod.errors import VerbError
from wod.settings import ApplianceSettings


def test_the_seat_key_pair_is_private_and_its_fingerprint_is_sshs(tmp_path: Path) -> None:
    home = tmp_path / "student7"
    home.mkdir()
    first = make_seat_key(home, "student7", None)
    private = home / ".ssh" / "id_ed25519"
    assert private.stat().st_mode & 0o777 == 0o600
    assert (home / ".ssh").stat().st_mode & 0o777 == 0o700
    listed = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(private)], capture_output=True, text=True, check=True
    )
    assert listed.stdout.split()[1] == first.fingerprint
    assert first.public.endswith(" student7@wod")
    second = make_seat_key(home, "student7", None)  # a new holder: a new pair replaces it
    assert second.public != first.public
    assert (home / ".ssh" / "id_ed25519.pub").read_text().strip() == second.public
    assert sorted(p.name for p in (home / ".ssh").iterdir()) == ["id_ed25519", "id_ed25519.pub"]


def test_known_hosts_are_added_once_and_a_linked_ssh_folder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "student7"
    home.mkdir()
    line = "h1,10.0.0.5 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE"
    assert add_known_hosts(home, [line], None) == 1
    assert add_known_hosts(home, [line], None) == 0
    assert (home / ".ssh" / "known_hosts").read_text() == line + "\n"
    other = tmp_path / "student8"
    other.mkdir()
    (other / ".ssh").symlink_to(tmp_path)
    with pytest.raises(VerbError, match="symbolic link"):
        make_seat_key(other, "student8", None)


def test_the_agents_ssh_config_checks_host_keys(tmp_path: Path) -> None:
    settings = ApplianceSettings(
        ssh_key_file=tmp_path / "key", known_hosts_file=tmp_path / "known", user="wodadmin"
    )
    appliance = Appliance(settings, "10.0.0.5", tmp_path)
    text = appliance.config.read_text()
    assert text.startswith(f"Host {ALIAS}\n  HostName 10.0.0.5\n  User wodadmin\n")
    assert "StrictHostKeyChecking yes" in text and "BatchMode yes" in text
    assert f'IdentityFile "{tmp_path / "key"}"' in text
    with pytest.raises(VerbError, match="not an appliance address"):
        Appliance(settings, "10.0.0.5 -oProxyCommand=x", tmp_path)
    with pytest.raises(VerbError, match="ssh_key_file is not set"):
        Appliance(ApplianceSettings(), "10.0.0.5", tmp_path)
