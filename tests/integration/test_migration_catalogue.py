"""Migration 0017 (catalogue) up and down, with rows in place."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import text

from wod.db.migrate import alembic_config, current_revision, head_revision, upgrade
from wod.db.session import Database

DAY = {"day": "2026-01-01 00:00:00"}


def test_0017_gives_old_workshops_empty_lists_and_downgrades_keeping_rows(
    tmp_path: Path,
) -> None:
    db = Database(f"sqlite:///{tmp_path / 'catalogue.sqlite3'}")
    upgrade(db, "0016")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workshop (id, slug, name, description, categories, duration_hours,"
                " presenter, role, avatar, replay_link, workshop_img, badge_img, active,"
                " capacity, priority, seat_min, seat_max, reset, ldap, varpass, compile, beta,"
                " monoappliance, multiappliance, alternate_locations, layer, created_at,"
                " updated_at) VALUES (1, 'WKSHP-Old', 'Old', '', '[]', 2, '', '', '', '', '', '',"
                " 1, 5, 0, 1, 5, 0, 0, 0, '[]', 0, 0, 0, '[]', '', :day, :day)"
            ),
            DAY,
        )
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
