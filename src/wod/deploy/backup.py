"""``wod db backup`` and ``wod db restore``: a copy of the configured database, and back.

PostgreSQL goes through ``pg_dump`` / ``pg_restore`` (custom format; a plain ``.sql`` file is
restored with ``psql``), with the password in the environment, never on a command line.
SQLite goes through SQLite's own online backup. The nightly dumps of the database host
(deploy/roles/db) are in the same custom format.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from wod.errors import ConfigError, Failure

#: The first bytes of a pg_dump custom-format archive.
PG_MAGIC = b"PGDMP"


@dataclass(frozen=True)
class Target:
    """Where a database is, as the client programs want it."""

    url: URL

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def name(self) -> str:
        """The database's name (its file's stem for SQLite)."""
        database = self.url.database or "wod"
        return Path(database).stem if self.is_sqlite else database

    def conninfo(self) -> str:
        """libpq's ``postgresql://`` URL, without the password."""
        plain = self.url.set(drivername="postgresql", password=None)
        return plain.render_as_string(hide_password=False)

    def env(self) -> dict[str, str]:
        """The environment of pg_dump and friends: the password goes here."""
        env = dict(os.environ)
        if self.url.password:
            env["PGPASSWORD"] = str(self.url.password)
        return env


def target_of(database_url: str) -> Target:
    """The database of a SQLAlchemy URL (``settings.resolved_database_url``)."""
    url = make_url(database_url)
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise ConfigError(f"{url.get_backend_name()}: only PostgreSQL and SQLite can be copied")
    return Target(url)


def default_file(target: Target, now: datetime | None = None) -> Path:
    """``wod-NAME-YYYYmmddTHHMMSSZ.dump`` (or ``.sqlite3``) in the current folder."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return Path(f"wod-{target.name}-{stamp}.{'sqlite3' if target.is_sqlite else 'dump'}")


def backup(target: Target, output: Path) -> Path:
    """Write a copy of the database to ``output`` (a folder gets the default name); its path."""
    if output.is_dir():
        output = output / default_file(target)
    if output.exists():
        raise ConfigError(f"{output} exists: give another file, or remove it first")
    partial = output.with_name(f".{output.name}.part")
    # The copy holds the participants' personal data: nobody else may read it.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)
    try:
        if target.is_sqlite:
            _sqlite_copy(Path(target.url.database or ""), partial)
        else:
            _run([_tool("pg_dump"), "-Fc", "-f", str(partial), "-d", target.conninfo()], target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    partial.rename(output)
    return output


def restore(target: Target, source: Path) -> None:
    """Replace the database's content with the copy in ``source``."""
    if not source.is_file():
        raise ConfigError(f"{source}: no such file")
    if target.is_sqlite:
        _sqlite_copy(source, Path(target.url.database or ""))
        return
    with source.open("rb") as handle:
        custom = handle.read(len(PG_MAGIC)) == PG_MAGIC
    if custom:
        command = [_tool("pg_restore"), "--clean", "--if-exists", "--no-owner"]
        command += ["--no-privileges", "--single-transaction", "--exit-on-error"]
        _run([*command, "-d", target.conninfo(), str(source)], target)
    else:
        command = [_tool("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "--single-transaction"]
        _run([*command, "-d", target.conninfo(), "-f", str(source)], target)


def _sqlite_copy(source: Path, destination: Path) -> None:
    if not source.is_file():
        raise ConfigError(f"{source}: no such SQLite file")
    with sqlite3.connect(source) as src, sqlite3.connect(destination) as dst:
        src.backup(dst)


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise ConfigError(
            f"{name} not found: install the PostgreSQL client programs "
            "(apt-get install postgresql-client), of the server's version or newer"
        )
    return found


def _run(command: list[str], target: Target) -> None:
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, env=target.env(), check=False, timeout=3600
        )
    except subprocess.TimeoutExpired as exc:
        raise Failure(f"{Path(command[0]).name} took more than an hour: stopped") from exc
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise Failure(
            f"{Path(command[0]).name} failed ({result.returncode}): {' '.join(lines[-6:])}"
        )
