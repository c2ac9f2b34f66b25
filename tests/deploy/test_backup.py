"""``wod db backup`` / ``wod db restore`` on the configured database (SQLite, or PostgreSQL in
the suite's second pass): a copy, then back to it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

PASSWORD = "never-printed-9f2c"


def wod(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "WOD_DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "-m", "wod", *args], capture_output=True, text=True, env=env, check=False
    )


def tokens(url: str) -> list[str]:
    listed = wod(url, "tokens", "list")
    assert listed.returncode == 0, listed.stderr
    return [line.split()[0] for line in listed.stdout.splitlines() if line.strip()]


def with_password(database_url: str) -> str:
    """The URL with a password, for PostgreSQL: the suite's throwaway server trusts loopback
    connections and ignores it, but the commands must never print it."""
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        return database_url
    return url.set(password=PASSWORD).render_as_string(hide_password=False)


def test_backup_then_restore_brings_the_database_back(database_url: str, tmp_path: Path) -> None:
    database_url = with_password(database_url)
    assert wod(database_url, "tokens", "add", "before").returncode == 0
    made = wod(database_url, "db", "backup", "--output", str(tmp_path))
    assert made.returncode == 0, made.stderr
    copies = list(tmp_path.glob("wod-*"))
    assert len(copies) == 1 and copies[0].stat().st_mode & 0o077 == 0
    assert PASSWORD not in made.stdout + made.stderr  # the password is never printed
    if "postgresql" in database_url:
        assert "***" in made.stdout
    assert wod(database_url, "tokens", "add", "after").returncode == 0
    assert tokens(database_url) == ["before", "after"]
    restored = wod(database_url, "db", "restore", "--yes", str(copies[0]))
    assert restored.returncode == 0, restored.stderr
    assert tokens(database_url) == ["before"]
    assert wod(database_url, "db", "current").stdout.strip() != ""


def test_restore_asks_first_and_stops_on_no(database_url: str, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    assert wod(database_url, "db", "backup", "-o", str(copy)).returncode == 0
    env = {**os.environ, "WOD_DATABASE_URL": database_url}
    answer = subprocess.run(
        [sys.executable, "-m", "wod", "db", "restore", str(copy)],
        input="n\n",
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert answer.returncode == 1 and "Aborted" in answer.stdout + answer.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["db", "restore", "--yes", "/nonexistent/wod.dump"],
            "/nonexistent/wod.dump: no such file",
        ),
    ],
)
def test_clear_errors(database_url: str, args: list[str], message: str) -> None:
    result = wod(database_url, *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


def test_backup_refuses_to_overwrite(database_url: str, tmp_path: Path) -> None:
    taken = tmp_path / "taken.dump"
    taken.write_text("mine")
    result = wod(database_url, "db", "backup", "-o", str(taken))
    assert result.returncode == 2 and "exists" in result.stderr
    assert taken.read_text() == "mine"
