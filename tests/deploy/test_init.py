"""``wod init``: an environment folder whose secrets are random and only ever encrypted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.deploy.source import ROOT

pytest.importorskip("ansible", reason="wod init needs ansible-core (the deploy extra)")

from wod.deploy.environment import SECRETS
from wod.deploy.vault import decrypt

PASSWORD = "correct horse battery staple"


def wod(*args: str, input_text: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wod", *args],
        capture_output=True,
        text=True,
        input=input_text,
        cwd=ROOT,
        check=False,
    )


def init(
    folder: Path, password_file: Path, name: str = "staging"
) -> subprocess.CompletedProcess[str]:
    return wod("init", name, "--path", str(folder), "--vault-password-file", str(password_file))


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-pass"
    path.write_text(PASSWORD + "\n")
    return path


def secrets_of(folder: Path) -> dict[str, str]:
    vault = folder / "group_vars/all/vault.yml"
    values: dict[str, str] = yaml.safe_load(decrypt(vault.read_text(), PASSWORD, vault))
    return values


def test_init_writes_the_example_and_an_encrypted_vault(
    tmp_path: Path, password_file: Path
) -> None:
    folder = tmp_path / "staging"
    result = init(folder, password_file)
    assert result.returncode == 0, result.stderr
    assert (folder / "hosts.yml").read_text() == (
        ROOT / "deploy/inventories/example/hosts.yml"
    ).read_text()
    main = yaml.safe_load((folder / "group_vars/all/main.yml").read_text())
    assert main["wod_environment"] == "staging"
    vault = folder / "group_vars/all/vault.yml"
    assert vault.read_text().startswith("$ANSIBLE_VAULT;1.1;AES256")
    assert vault.stat().st_mode & 0o077 == 0
    values = secrets_of(folder)
    assert set(SECRETS) <= set(values)
    everything = b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())
    for key in SECRETS:
        assert len(values[key]) >= 24, key
        # Never in clear: not in any file of the folder, not in what the command printed.
        assert values[key].encode() not in everything, key
        assert values[key] not in result.stdout + result.stderr, key


def test_each_environment_gets_its_own_secrets(tmp_path: Path, password_file: Path) -> None:
    assert init(tmp_path / "one", password_file, "one").returncode == 0
    assert init(tmp_path / "two", password_file, "two").returncode == 0
    one, two = secrets_of(tmp_path / "one"), secrets_of(tmp_path / "two")
    assert all(one[key] != two[key] for key in SECRETS)


def test_init_refuses_a_folder_that_holds_something(tmp_path: Path, password_file: Path) -> None:
    folder = tmp_path / "prod"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    result = init(folder, password_file, "prod")
    assert result.returncode == 2
    assert "exists and is not empty" in result.stderr
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]


def test_a_bad_name_is_refused(tmp_path: Path, password_file: Path) -> None:
    result = init(tmp_path / "x", password_file, "Prod Env")
    assert result.returncode == 2 and "environment name" in result.stderr


def test_rotate_gives_one_secret_a_new_value(tmp_path: Path, password_file: Path) -> None:
    folder = tmp_path / "staging"
    assert init(folder, password_file).returncode == 0
    before = secrets_of(folder)
    rotate = ["init", "staging", "--path", str(folder), "--vault-password-file", str(password_file)]
    result = wod(*rotate, "--rotate", "vault_wod_db_password")
    assert result.returncode == 0, result.stderr
    after = secrets_of(folder)
    assert after["vault_wod_db_password"] != before["vault_wod_db_password"]
    assert {k: v for k, v in after.items() if k != "vault_wod_db_password"} == {
        k: v for k, v in before.items() if k != "vault_wod_db_password"
    }
    assert after["vault_wod_db_password"] not in result.stdout


def test_a_wrong_password_opens_nothing(tmp_path: Path, password_file: Path) -> None:
    folder = tmp_path / "staging"
    assert init(folder, password_file).returncode == 0
    wrong = tmp_path / "wrong"
    wrong.write_text("nope\n")
    rotate = ["init", "staging", "--path", str(folder), "--vault-password-file", str(wrong)]
    result = wod(*rotate, "--rotate", "vault_wod_secret_key")
    assert result.returncode == 2
    assert "vault.yml: the vault password does not open it" in result.stderr


def test_the_password_can_be_typed(tmp_path: Path) -> None:
    folder = tmp_path / "dev"
    result = wod("init", "dev", "--path", str(folder), input_text=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout
    assert secrets_of(folder)["vault_wod_secret_key"]
