"""The controller's side of ``wod deploy``, without hosts: version labels, the command line of
ansible-playbook, the summary of a run."""

from __future__ import annotations

from pathlib import Path

from wod.deploy.checkout import Checkout, source_hash, wheel_files
from wod.deploy.playbook import DeployOptions, playbook_argv
from wod.deploy.report import Change, HostStats, Report, summary


def checkout(commit: str, dirty: bool) -> Checkout:
    return Checkout(Path("/src/wod"), "0.1.0", commit, dirty, "abcdef0123456789")


def test_the_version_names_the_commit_and_uncommitted_changes() -> None:
    assert checkout("1a2b3c4d5e", dirty=False).version == "0.1.0+g1a2b3c4"
    assert checkout("1a2b3c4d5e", dirty=True).version == "0.1.0+g1a2b3c4.dabcdef01"
    assert checkout("", dirty=True).version == "0.1.0+dabcdef01"


def test_the_source_hash_follows_the_files_of_the_wheel(tmp_path: Path) -> None:
    (tmp_path / "src" / "wod" / "__pycache__").mkdir(parents=True)
    (tmp_path / "src" / "wod" / "__init__.py").write_text("x = 1\n")
    (tmp_path / "pyproject.toml").write_text('version = "0.1.0"\n')
    before = source_hash(tmp_path)
    (tmp_path / "src" / "wod" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (tmp_path / "notes.txt").write_text("not part of the wheel")
    assert source_hash(tmp_path) == before
    assert [str(p) for p in wheel_files(tmp_path)] == ["pyproject.toml", "src/wod/__init__.py"]
    (tmp_path / "src" / "wod" / "__init__.py").write_text("x = 2\n")
    assert source_hash(tmp_path) != before


def test_the_command_line_of_ansible_playbook(tmp_path: Path) -> None:
    options = DeployOptions(
        inventory=tmp_path, password="x", check=True, limit="hub-b", extra_vars=["a=1"]
    )
    argv = playbook_argv(checkout("1a2b3c4", False), options, tmp_path / "vars.json", 7)
    assert argv[1:4] == ["-i", str(tmp_path), "/src/wod/deploy/site.yml"]
    assert "--vault-password-file=/dev/fd/7" in argv  # a pipe: never a file with the password
    assert argv[argv.index("--check") : argv.index("--check") + 2] == ["--check", "--diff"]
    assert argv[argv.index("--limit") + 1] == "hub-b:localhost"
    assert "x" not in argv


def report(check: bool, changes: int) -> Report:
    return Report(
        hosts=[HostStats("h1", 10, changes, 0, 0, 1)],
        changes=[Change("h1", f"task {n}", "api", f"/etc/f{n}") for n in range(changes)],
        failures=[],
        roles={"api": 1.5},
        plays=[],
        slowest=[],
        elapsed=3.0,
        check=check,
    )


def test_the_summary_lists_drift_in_check_mode_and_sums_up_a_big_deploy() -> None:
    assert "  h1: api : task 99 (/etc/f99)" in summary(report(check=True, changes=100))
    big = summary(report(check=False, changes=100))
    assert "changed: 100 tasks (h1 100)" in big and not any("/etc/f99" in line for line in big)
    small = summary(report(check=False, changes=2))
    assert "  h1: api : task 1 (/etc/f1)" in small and "time per role: api 1.5 s" in small
