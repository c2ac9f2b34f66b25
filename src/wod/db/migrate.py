"""Alembic, driven from code: ``wod db upgrade`` and the test fixtures call these."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from wod.db.session import Database


def alembic_config(db: Database) -> Config:
    config = Config()
    config.set_main_option("script_location", "wod.db:migrations")
    config.attributes["engine"] = db.engine
    return config


def upgrade(db: Database, revision: str = "head") -> None:
    """Bring the schema to ``revision`` (creating the database file when needed)."""
    command.upgrade(alembic_config(db), revision)


def head_revision() -> str | None:
    """The latest revision the code knows."""
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", "wod.db:migrations")
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(db: Database) -> str | None:
    """The revision the database is at, or None when it was never migrated."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table("alembic_version"):
            return None
        row = conn.exec_driver_sql("SELECT version_num FROM alembic_version").first()
        return None if row is None else str(row[0])
