"""Migration 0016 (idle seats) up and down, with rows in place."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from tests.factories import insert_old_workshop
from wod.db.migrate import alembic_config, current_revision, head_revision, upgrade
from wod.db.session import Database

DAY = {"day": "2026-01-01 00:00:00"}


def test_0016_adds_idle_timeout_and_seat_activity_and_downgrades_keeping_rows(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'idle.sqlite3'}")
    upgrade(db, "0015")
    with db.engine.begin() as conn:
        insert_old_workshop(conn)
        conn.execute(
            text(
                "INSERT INTO registration (id, workshop_id, email, name, company, state,"
                " created_at, language) VALUES (1, 1, 'old@example.org', 'O', 'C', 'failed',"
                " :day, 'en')"
            ),
            DAY,
        )
    upgrade(db)
    with db.engine.begin() as conn:
        assert conn.execute(text("SELECT idle_timeout FROM workshop")).scalar() is None
        conn.execute(
            text(
                "INSERT INTO seat_activity (registration_id, reported_at, idle_due_at)"
                " VALUES (1, :day, :day)"
            ),
            DAY,
        )
        conn.execute(text("UPDATE workshop SET idle_timeout = 30"))
    command.downgrade(alembic_config(db), "0015")
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT slug FROM workshop")).scalar() == "WKSHP-Old"
        assert conn.execute(text("SELECT count(*) FROM registration")).scalar() == 1
    upgrade(db)
    assert current_revision(db) == head_revision()
    db.dispose()
