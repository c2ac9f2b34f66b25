"""``INSERT … ON CONFLICT`` of the database in use: SQLite and PostgreSQL spell it alike, but
SQLAlchemy builds it from each dialect's own ``insert``."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def upsert(session: Session, model: Any) -> Any:
    """An insert into ``model``'s table that takes ``on_conflict_do_nothing`` /
    ``on_conflict_do_update`` (and ``returning``), for the dialect of ``session``."""
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(model)
    if dialect == "sqlite":
        return sqlite.insert(model)
    raise NotImplementedError(f"no upsert for {dialect}")
