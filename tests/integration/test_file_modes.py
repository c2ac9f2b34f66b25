"""Files that hold personal data or secrets are readable by their owner only, whatever the
umask: the SQLite database and its WAL and SHM files, the credentials of the seats."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from wod.db.session import Database
from wod.hub.credentials import FileCredentialStore


@pytest.fixture(autouse=True)
def permissive_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def write_something(db: Database) -> None:
    with db.write() as session:
        session.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
        session.execute(text("INSERT INTO t VALUES (1)"))


def test_a_new_sqlite_database_and_its_wal_are_private(tmp_path: Path) -> None:
    path = tmp_path / "data" / "wod.sqlite"
    db = Database(f"sqlite:///{path}")
    try:
        write_something(db)
        files = [path, path.with_name("wod.sqlite-wal"), path.with_name("wod.sqlite-shm")]
        assert all(f.exists() for f in files)  # WAL mode: the three files are there
        assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        db.dispose()


def test_a_readable_database_of_an_older_release_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "wod.sqlite"
    first = Database(f"sqlite:///{path}")
    write_something(first)
    first.dispose()
    for file in tmp_path.iterdir():
        file.chmod(0o644)
    again = Database(f"sqlite:///{path}")
    try:
        write_something(again)
        assert {f.name: mode(f) for f in tmp_path.iterdir()} == {
            f.name: 0o600 for f in tmp_path.iterdir()
        }
    finally:
        again.dispose()


def test_seat_credentials_are_private(tmp_path: Path) -> None:
    store = FileCredentialStore(tmp_path / "credentials")
    store.set_password("student1", "a-password-of-the-seat")
    assert mode(tmp_path / "credentials") == 0o700
    assert [mode(f) for f in (tmp_path / "credentials").iterdir()] == [0o600]
