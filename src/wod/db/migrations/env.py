"""Alembic environment: the engine comes from ``wod.db.migrate``, never from a file.

On SQLite a batch migration rebuilds a table (copy, drop, rename), which SQLite allows only
with foreign keys off (its documented procedure for such changes): they are switched off for
the migrations, every reference is checked before the commit, and they are on again after."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Engine

from wod.db.models import Base

engine: Engine = context.config.attributes["engine"]


def _raw(connection: Any) -> Any:
    """The driver's own connection: a PRAGMA there is outside any transaction."""
    return connection.connection.driver_connection


with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        _raw(connection).execute("PRAGMA foreign_keys=OFF")
    try:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=sqlite,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                if broken:
                    raise RuntimeError(f"the migration leaves broken references: {broken[:5]}")
        connection.commit()
    finally:
        if sqlite:
            _raw(connection).execute("PRAGMA foreign_keys=ON")
