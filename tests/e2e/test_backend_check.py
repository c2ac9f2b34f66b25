"""``wod backend check`` and ``wod backend seats sync`` on this host, and the daily check the
agent reports to the api."""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from sqlalchemy import select
from typer.testing import CliRunner

from tests.e2e.conftest import UID_BASE, SeatBlock
from tests.servers import serve
from wod.backend.client import ApiClient
from wod.cli.main import app
from wod.context import AppContext
from wod.db.models import Email
from wod.ports import free_port
from wod.web.app import create_app


def run(env: dict[str, str], *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={**env, "COLUMNS": "200"})
    return result.exit_code, result.output


def test_check_finds_and_fixes_in_hub_mode(tmp_path: Path) -> None:
    scripts = tmp_path / "content" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "create-WKSHP-X.sh").write_text("echo hi\n")
    env = {
        "WOD_BACKEND__STUDENTS_DIR": str(tmp_path / "students"),
        "WOD_BACKEND__CREDENTIALS_DIR": str(tmp_path / "credentials"),
        "WOD_CONTENT__PATHS": f'["{tmp_path / "content"}"]',
        "WOD_HUB__API_URL": f"http://127.0.0.1:{free_port()}/hub/api",
    }
    code, out = run(env, "backend", "check", "--seats", "1-5")
    assert code == 1
    assert f"[fixable] {tmp_path / 'students'}: missing" in out
    assert "create-WKSHP-X.sh: not executable" in out
    assert "[needs you] hub" in out and "unreachable" in out
    code, out = run(env, "backend", "check", "--seats", "1-5", "--fix")
    assert "3 repaired" in out and code == 1  # the hub cannot be repaired from here
    assert os.access(scripts / "create-WKSHP-X.sh", os.X_OK)
    assert (tmp_path / "credentials").stat().st_mode & 0o777 == 0o700


def test_seats_sync_creates_the_accounts_then_finds_nothing(
    system_students: Path, singleuser_venv: Path, seat_block: SeatBlock
) -> None:
    env = {
        "WOD_BACKEND__ACCOUNT_MODE": "system",
        "WOD_BACKEND__UID_BASE": str(UID_BASE),
        "WOD_BACKEND__STUDENTS_DIR": str(system_students),
        "WOD_HUB__SINGLEUSER_VENV": str(singleuser_venv),
    }
    seats = "{}-{}".format(*seat_block.seats(12))
    code, out = run(env, "backend", "seats", "sync", "--seats", seats)
    assert code == 0, out
    assert "12 seats" in out and "13 created or repaired" in out  # and the students folder
    assert pwd.getpwnam(seat_block.user(12)).pw_uid == seat_block.uid(12)
    code, out = run(env, "backend", "seats", "sync", "--seats", seats)
    assert code == 0 and "0 created or repaired" in out
    home = system_students / seat_block.user(3)
    home.mkdir(mode=0o755)  # a home left wrong: root-owned and readable by all
    code, out = run(env, "backend", "check", "--seats", seats, "--fix")
    assert "mode 755" in out and "owned by 0" in out
    assert home.stat().st_uid == seat_block.uid(3) and home.stat().st_mode & 0o777 == 0o700


def test_the_daily_check_reaches_the_admins(ctx: AppContext) -> None:
    from tests.factories import seed

    ctx.settings.alerts.recipients.append("ops@example.org")
    token = seed(ctx)
    with serve(create_app(ctx, background=False)) as server:
        client = ApiClient(server.url, token)
        assert client.location().seat_max == 20
        client.report_check([])
        client.report_check(["student4: no Linux account"])
        client.report_check(["student4: no Linux account"])  # the same: once a day
        client.report_check(["student4: no Linux account", "hub: unreachable"])  # news
        client.close()
    with ctx.db.read() as s:
        alerts = list(s.scalars(select(Email).where(Email.kind == "admin_alert")))
    assert len(alerts) == 2 and "student4" in (alerts[0].payload or {})["text"]
