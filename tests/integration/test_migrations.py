"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from wod.cli.main import app
from wod.context import AppContext
from wod.db.migrate import current_revision, head_revision
from wod.db.models import Base


def test_migrated_schema_matches_the_models(ctx: AppContext) -> None:
    with ctx.db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_db_upgrade_command_creates_and_reports(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade"], env={"WOD_DATABASE_URL": url})
    head = head_revision()
    assert first.exit_code == 0 and f"empty → {head}" in first.output
    again = runner.invoke(app, ["db", "upgrade"], env={"WOD_DATABASE_URL": url})
    assert f"already at {head}" in again.output
    from wod.db.session import Database

    db = Database(url)
    assert current_revision(db) == head
    db.dispose()


def test_upgrade_from_the_first_revision_keeps_rows(tmp_path: Path) -> None:
    """A database created by an earlier release migrates with its data."""
    from sqlalchemy import text

    from wod.db.migrate import upgrade
    from wod.db.session import Database

    db = Database(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    upgrade(db, "0001")
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO workshop (slug, name, description, categories, duration_hours,"
                " presenter, role, avatar, replay_link, workshop_img, badge_img, active, capacity,"
                " priority,"
                " seat_min, seat_max, reset, ldap, varpass, compile, beta, monoappliance,"
                " multiappliance, alternate_locations, layer, created_at, updated_at) VALUES"
                " ('WKSHP-Old', 'Old', '', '[]', 2, '', '', '', '', '', '', 1, 5, 0, 1, 5, 0, 0, 0,"
                " '[]', 0, 0, 0, '[]', '', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            )
        )
    upgrade(db)
    with db.engine.connect() as conn:
        row = conn.execute(text("SELECT slug, extendable FROM workshop")).one()
    assert tuple(row) == ("WKSHP-Old", True)
    db.dispose()
