"""The Alembic migrations build exactly the schema the models declare, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from typer.testing import CliRunner

from wod.cli.main import app
from wod.context import AppContext
from wod.db.migrate import current_revision
from wod.db.models import Base


def test_migrated_schema_matches_the_models(ctx: AppContext) -> None:
    with ctx.db.engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
        )
    assert diff == []


def test_db_upgrade_command_creates_and_reports(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    runner = CliRunner()
    first = runner.invoke(app, ["db", "upgrade"], env={"WOD_DATABASE_URL": url})
    assert first.exit_code == 0 and "empty → 0001" in first.output
    again = runner.invoke(app, ["db", "upgrade"], env={"WOD_DATABASE_URL": url})
    assert "already at 0001" in again.output
    from wod.db.session import Database

    db = Database(url)
    assert current_revision(db) == "0001"
    db.dispose()
