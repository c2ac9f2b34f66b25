"""Fixtures shared by every test: a fresh database per test (SQLite, or PostgreSQL when
WOD_TEST_DATABASE_URL names a server), settings in a temp folder, a context with a fake clock."""

from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from wod.context import AppContext, build_context
from wod.db.migrate import upgrade
from wod.db.session import Database
from wod.domain.clock import FakeClock
from wod.domain.secrets import use_password_hasher
from wod.mail.sender import MemoryMailer
from wod.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_CONTENT = ROOT / "content"
PG_URL = os.environ.get("WOD_TEST_DATABASE_URL", "")
_counter = itertools.count()


def pytest_report_header() -> str:
    return f"wod database: {'PostgreSQL ' + PG_URL if PG_URL else 'SQLite'}"


@pytest.fixture(autouse=True, scope="session")
def _cheap_password_hashes() -> Iterator[None]:
    """argon2 with the least work it allows: the tests check what is hashed and verified, not
    how slowly (the platform keeps the library's defaults)."""
    previous = use_password_hasher(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    yield
    use_password_hasher(previous)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings come only from what each test gives, never from the caller's WOD_ variables."""
    for name in list(os.environ):
        if name.startswith("WOD_"):
            monkeypatch.delenv(name)


def _admin_engine() -> Engine:
    return create_engine(PG_URL, isolation_level="AUTOCOMMIT")


@pytest.fixture(scope="session")
def db_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated database that each test copies."""
    if PG_URL:
        engine = _admin_engine()
        with engine.connect() as conn:
            conn.execute(text("DROP DATABASE IF EXISTS wod_template WITH (FORCE)"))
            conn.execute(text("CREATE DATABASE wod_template"))
        engine.dispose()
        url = make_url(PG_URL).set(database="wod_template").render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'wod.sqlite3'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


@pytest.fixture
def database_url(db_template: str, tmp_path: Path) -> Iterator[str]:
    if not PG_URL:
        target = tmp_path / "wod.sqlite3"
        shutil.copyfile(make_url(db_template).database or "", target)
        yield f"sqlite:///{target}"
        return
    name = f"wod_test_{os.getpid()}_{next(_counter)}"
    engine = _admin_engine()
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE wod_template'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        content={"paths": [SAMPLE_CONTENT]},
        backend={
            "students_dir": tmp_path / "students",
            "credentials_dir": tmp_path / "credentials",
            "poll_interval": 0.05,
        },
        hub={"dir": tmp_path / "hub"},
        dev={"maildir": tmp_path / "mail"},
        scheduler={"enabled": False},
        # a welcome email held for a seat ready at once would wait on the injected clock:
        # tests see two emails unless they test combining them
        outbox={"enabled": False, "combine_within": 0},
        # tests change the database behind the api's back: no cached catalogue
        api={"catalogue_ttl": 0},
    )


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))


@pytest.fixture
def mailer() -> MemoryMailer:
    return MemoryMailer()


@pytest.fixture
def ctx(settings: Settings, clock: FakeClock, mailer: MemoryMailer) -> Iterator[AppContext]:
    context = build_context(settings, clock=clock, mailer=mailer)
    yield context
    context.close()
