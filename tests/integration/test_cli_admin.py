"""``wod hub config`` and ``wod locations``."""

from __future__ import annotations

import stat
from pathlib import Path

from typer.testing import CliRunner

from wod.cli.main import app
from wod.context import AppContext
from wod.services.provisioning.locations import location_for_token


def test_hub_config_is_private_and_names_the_wod_authenticator(tmp_path: Path) -> None:
    target = tmp_path / "hub" / "jupyterhub_config.py"
    env = {
        "WOD_HUB__API_TOKEN": "secret-token-for-the-test",
        "WOD_HUB__PORT": "9101",
        "WOD_BACKEND__STUDENTS_DIR": str(tmp_path / "students"),
    }
    result = CliRunner().invoke(app, ["hub", "config", "-o", str(target)], env=env)
    assert result.exit_code == 0, result.output
    text = target.read_text()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert 'c.JupyterHub.authenticator_class = "wod"' in text
    assert "'http://127.0.0.1:9101'" in text
    assert f"'{tmp_path / 'students'}/{{username}}'" in text
    assert "admin:users" in text and "access:servers" not in text
    compile(text, str(target), "exec")


def test_locations_add_list_and_token_rotation(ctx: AppContext) -> None:
    env = {"WOD_DATABASE_URL": ctx.settings.resolved_database_url, "COLUMNS": "200"}
    runner = CliRunner()
    added = runner.invoke(
        app,
        ["locations", "add", "hub-1", "--hub-url", "https://hub1.example.org", "--seats", "1-50"],
        env=env,
    )
    assert added.exit_code == 0, added.output
    first = added.output.strip().splitlines()[-1]
    assert first.startswith("wodl_")
    listed = runner.invoke(app, ["locations", "list"], env=env)
    assert "hub-1" in listed.output and "seats 1-50" in listed.output
    again = runner.invoke(
        app,
        ["locations", "add", "hub-1", "--hub-url", "https://hub1.example.org", "--seats", "1-60"],
        env=env,
    )
    assert "agent token unchanged" in again.output and "wodl_" not in again.output
    rotated = runner.invoke(app, ["locations", "token", "hub-1"], env=env).output.strip()
    assert location_for_token(ctx, first) is None
    location = location_for_token(ctx, rotated)
    assert location is not None and location.hub_api_url == "https://hub1.example.org/hub/api"
    bad = runner.invoke(app, ["locations", "add", "x", "--hub-url", "h", "--seats", "9-1"], env=env)
    assert bad.exit_code == 1 and "seats" in bad.output
    unknown = runner.invoke(app, ["locations", "token", "nope"], env=env)
    assert unknown.exit_code == 1 and "no location named 'nope'" in unknown.output
