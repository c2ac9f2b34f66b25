"""Engine and sessions. ``read()`` for queries, ``write()`` for changes.

On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers wait
for each other (busy timeout) instead of failing when they upgrade a read lock; the file runs in
WAL mode so readers never wait. On PostgreSQL both are ordinary READ COMMITTED transactions and
the services lock rows where they must (``FOR UPDATE``, ``SKIP LOCKED``).

After a write transaction commits, the topics its helpers noted (:mod:`wod.notify`) are
published to the database's notifier.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wod.notify import Notifier, noted

_IMMEDIATE = "wod_immediate"


class Database:
    """The database of one process: an engine and two session factories."""

    def __init__(self, url: str, *, echo: bool = False, notifier: Notifier | None = None) -> None:
        self.url = make_url(url)
        self.notifier = notifier or Notifier()
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _create_engine(url, echo=echo, sqlite=self.is_sqlite)
        writer = (
            self.engine.execution_options(**{_IMMEDIATE: True}) if self.is_sqlite else self.engine
        )
        self._write_lock = threading.Lock()
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for queries; rolled back at the end."""
        with self._read() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction commits at the end, or rolls back on error; what it
        noted is published once it committed."""
        with self._writer_turn(), self._write() as session:
            with session.begin():
                yield session
            topics = noted(session)
        if topics:
            self.notifier.publish(topics)

    def ping(self) -> None:
        """Raise when the database cannot answer a query."""
        with self.read() as session:
            session.execute(text("SELECT 1"))

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        # SQLite admits one writer at a time; threads of this process queue on a lock instead
        # of polling the file lock (its busy handler sleeps up to 100 ms between tries).
        if not self.is_sqlite:
            yield
            return
        if not self._write_lock.acquire(timeout=60):
            raise TimeoutError("no SQLite write turn within 60 s (a write inside a write?)")
        try:
            yield
        finally:
            self._write_lock.release()

    def dispose(self) -> None:
        self.engine.dispose()


def _create_engine(url: str, *, echo: bool, sqlite: bool) -> Engine:
    if not sqlite:
        return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)
    database = make_url(url).database
    if database in (None, "", ":memory:"):
        raise ValueError("wod needs a SQLite file, not an in-memory database")
    _private_database(Path(database))
    engine = create_engine(url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False})
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _private_database(path: Path) -> None:
    """The SQLite file holds personal data and secrets' hashes: only its owner reads it. SQLite
    gives the ``-wal`` and ``-shm`` files the mode of the database, so a new file is made 0600
    before SQLite opens it, and files an older release left readable are tightened."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if file.exists() and file.stat().st_mode & 0o077:
            file.chmod(0o600)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, issue BEGIN (the pysqlite recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    immediate = connection.get_execution_options().get(_IMMEDIATE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")
