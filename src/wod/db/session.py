"""Engine and sessions. ``read()`` for queries, ``write()`` for changes.

On SQLite a write transaction starts with ``BEGIN IMMEDIATE`` so that concurrent writers wait
for each other (busy timeout) instead of failing when they upgrade a read lock; the file runs in
WAL mode so readers never wait. On PostgreSQL both are ordinary READ COMMITTED transactions and
the services lock rows where they must (``FOR UPDATE``, ``SKIP LOCKED``).

After a write transaction commits, the topics its helpers noted (:mod:`wod.notify`) are
published to the database's notifier.

Bookkeeping that no request should wait for or fail on (a token's last use) goes through
``best_effort()``: it waits a moment for its turn and is skipped when the database is busy.
``unavailable(exc)`` tells the errors that mean the database cannot be reached now (down,
restarting, its connection cut), which the web edge answers with 503 and ``Retry-After``.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from wod.notify import Notifier, noted

log = logging.getLogger(__name__)
_IMMEDIATE = "wod_immediate"
_BUSY_MS = "wod_busy_ms"
#: Milliseconds a SQLite transaction waits for the file's write lock before it fails.
BUSY_TIMEOUT_MS = 30_000
#: Seconds a bookkeeping write waits for its turn before it is skipped.
BOOKKEEPING_WAIT = 1.0
#: The errors of an unreachable database (see :func:`unavailable`); each needs the check.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot answer now, and a retry later may succeed: the
    server is down or restarting, the connection was cut, no connection was free in time.
    SQLite's ``database is locked`` is not one of them: contention must be a wait (a lock
    error is a bug to see, not an outage)."""
    if isinstance(exc, sa_exc.TimeoutError):  # the pool had no connection in time
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, sa_exc.InterfaceError):
        return True
    return isinstance(exc, sa_exc.OperationalError) and "locked" not in str(exc.orig)


def first_line(exc: BaseException) -> str:
    """The first line of what the database driver said (SQLAlchemy's wrapping adds the SQL,
    which may hold values that are nobody's business in a log)."""
    cause = getattr(exc, "orig", None) or exc
    return str(cause).strip().split("\n", 1)[0]


class Database:
    """The database of one process: an engine and two session factories."""

    def __init__(self, url: str, *, echo: bool = False, notifier: Notifier | None = None) -> None:
        self.url = make_url(url)
        self.notifier = notifier or Notifier()
        self.is_sqlite = self.url.get_backend_name() == "sqlite"
        self.engine = _create_engine(url, echo=echo, sqlite=self.is_sqlite)
        writer, bookkeeper = self.engine, self.engine
        if self.is_sqlite:
            writer = self.engine.execution_options(**{_IMMEDIATE: True})
            bookkeeper = writer.execution_options(**{_BUSY_MS: int(BOOKKEEPING_WAIT * 1000)})
        self._write_lock = threading.Lock()
        self._read = sessionmaker(self.engine, expire_on_commit=False)
        self._write = sessionmaker(writer, expire_on_commit=False)
        self._bookkeeping = sessionmaker(bookkeeper, expire_on_commit=False)

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

    def best_effort(self, change: Callable[[Session], object], what: str) -> bool:
        """Run ``change`` in a write transaction of its own when the database gives it a turn
        within :data:`BOOKKEEPING_WAIT`; otherwise skip it (logged at DEBUG) and return False.
        For bookkeeping only (``what`` names it): a request must neither wait long nor fail
        because of it, and nothing is published after it."""
        if self.is_sqlite and not self._write_lock.acquire(timeout=BOOKKEEPING_WAIT):
            log.debug("%s skipped: another write of this process is running", what)
            return False
        try:
            with self._bookkeeping() as session, session.begin():
                if not self.is_sqlite:  # a row another transaction holds: no long wait
                    wait = int(BOOKKEEPING_WAIT * 1000)
                    session.execute(text(f"SET LOCAL lock_timeout = {wait}"))
                change(session)
        except sa_exc.OperationalError as exc:  # busy, or the database went away
            log.debug("%s skipped: %s", what, exc.orig)
            return False
        finally:
            if self.is_sqlite:
                self._write_lock.release()
        return True

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
        # No pre-ping (a round trip before every transaction, a third of an uncached catalogue
        # read): a connection that died with its server fails its request with 503
        # (:func:`unavailable`), and SQLAlchemy then renews the whole pool at once.
        return create_engine(url, echo=echo, pool_size=10, max_overflow=20)
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
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    options = connection.get_execution_options()
    # per transaction: a bookkeeping write waits less than the others for the file's lock
    connection.exec_driver_sql(f"PRAGMA busy_timeout={options.get(_BUSY_MS, BUSY_TIMEOUT_MS)}")
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(_IMMEDIATE) else "BEGIN")
