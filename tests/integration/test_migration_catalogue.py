"""Migration 0017 (catalogue) up and down, with rows in place."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from tests.factories import insert_old_workshop
from wod.db.migrate import alembic_config, current_revision, head_revision, upgrade
from wod.db.session import Database


def test_0017_gives_old_workshops_empty_lists_and_downgrades_keeping_rows(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'catalogue.sqlite3'}")
    upgrade(db, "0016")
    with db.engine.begin() as conn:
        insert_old_workshop(conn)
    upgrade(db, "0017")
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT learn, prerequisites, outline FROM workshop")).one()
        assert tuple(row) == ("[]", "[]", "[]")
        conn.execute(text("""UPDATE workshop SET outline = '["Lab 1"]'"""))
    command.downgrade(alembic_config(db), "0016")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT slug FROM workshop")).scalar() == "WKSHP-Old"
        columns = [c[1] for c in conn.execute(text("PRAGMA table_info(workshop)"))]
        assert "outline" not in columns and "learn" not in columns
    upgrade(db)
    assert current_revision(db) == head_revision()
    db.dispose()
