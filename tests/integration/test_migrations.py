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


def test_0013_makes_the_seat_optional_and_downgrades_without_seatless_rows(
    tmp_path: Path,
) -> None:
    """Registrations of 0012 keep their seat; a downgrade drops only those without one (the
    unconfirmed ones, which the older schema cannot hold) and their emails."""
    from alembic import command
    from sqlalchemy import text

    from wod.db.migrate import alembic_config, upgrade
    from wod.db.session import Database

    db = Database(f"sqlite:///{tmp_path / 'confirm.sqlite3'}")
    upgrade(db, "0012")
    day = {"day": "2026-01-01 00:00:00"}
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
            day,
        )
        conn.execute(
            text(
                "INSERT INTO location (id, name, hub_public_url, hub_api_url, seat_min, seat_max,"
                " enabled, created_at) VALUES (1, 'local', 'http://h', 'http://h/api', 1, 5, 1,"
                " :day)"
            ),
            day,
        )
        conn.execute(
            text(
                "INSERT INTO seat (id, location_id, number, username, state, updated_at)"
                " VALUES (1, 1, 1, 'student1', 'reserved', :day)"
            ),
            day,
        )
        conn.execute(
            text(
                "INSERT INTO registration (id, workshop_id, email, name, company, location_id,"
                " seat_id, state, created_at, language) VALUES (1, 1, 'old@example.org', 'O',"
                " 'C', 1, 1, 'queued', :day, 'en')"
            ),
            day,
        )
    upgrade(db)
    with db.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO registration (id, workshop_id, email, name, company, state,"
                " created_at, language, confirm_nonce, confirm_token_hash, confirm_due_at)"
                " VALUES (2, 1, 'new@example.org', 'N', 'C', 'unconfirmed',"
                " :day, 'en', 'n', 'h', :day)"
            ),
            day,
        )
        conn.execute(
            text(
                "INSERT INTO email (registration_id, kind, recipient, dedupe_key, state,"
                " attempts, next_attempt_at, created_at) VALUES (2, 'confirm',"
                " 'new@example.org', '2:confirm:1', 'pending', 0, :day, :day)"
            ),
            day,
        )
        kept = conn.execute(text("SELECT seat_id, confirm_nonce FROM registration WHERE id = 1"))
        assert tuple(kept.one()) == (1, None)
    command.downgrade(alembic_config(db), "0012")
    with db.engine.connect() as conn:
        assert list(conn.execute(text("SELECT id, seat_id FROM registration"))) == [(1, 1)]
        assert conn.execute(text("SELECT count(*) FROM email")).scalar() == 0
    upgrade(db)
    assert current_revision(db) == head_revision()
    db.dispose()
