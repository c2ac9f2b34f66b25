"""The admin console's parts: users, passwords, lockout and sessions (on the test database),
the ``next`` of the login page, the dashboard's charts, the import plan's digest, and the
vendored Chart.js."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from tests.conftest import ROOT
from wod.admin import charts
from wod.admin.page import local_path
from wod.context import AppContext
from wod.db.models import AdminSession, AdminUser
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.errors import InvalidInput, NotAuthenticated, NotFound
from wod.services.admin import sessions, users
from wod.services.admin.importer import Action, Change, ImportPlan, WorkshopPlan, plan_digest
from wod.wire import Stats

PASSWORD = "correct horse battery"
VENDOR = ROOT / "src" / "wod" / "admin" / "static" / "vendor"


@pytest.fixture
def alice(ctx: AppContext) -> AdminUser:
    return users.create_user(ctx, "alice", PASSWORD, Role.admin)


def user(ctx: AppContext, name: str = "alice") -> AdminUser:
    with ctx.db.read() as s:
        row = s.scalar(select(AdminUser).where(AdminUser.username == name))
        assert row is not None
        return row


# --------------------------------------------------------------------- users and passwords


def test_a_user_keeps_only_an_argon2_hash(ctx: AppContext, alice: AdminUser) -> None:
    stored = user(ctx)
    assert stored.password_hash.startswith("$argon2id$") and PASSWORD not in stored.password_hash
    assert stored.role == "admin" and stored.failed_attempts == 0
    with pytest.raises(InvalidInput, match="exists"):
        users.create_user(ctx, "alice", PASSWORD, Role.viewer)


@pytest.mark.parametrize("name", ["", "a b", "x" * 101, "-dash", "bob/../x", "é"])
def test_user_names_are_plain(name: str) -> None:
    with pytest.raises(InvalidInput, match="username"):
        users.check_username(name)


def test_passwords_have_a_minimum_length(ctx: AppContext) -> None:
    with pytest.raises(InvalidInput, match="password: 12 to 1024"):
        users.create_user(ctx, "bob", "short", Role.admin)
    assert users.list_users(ctx) == []


def test_authenticate_and_the_one_refusal_message(ctx: AppContext, alice: AdminUser) -> None:
    assert users.authenticate(ctx, "alice", PASSWORD).id == alice.id
    assert user(ctx).last_login_at == ctx.clock.now()
    with pytest.raises(NotAuthenticated) as wrong:
        users.authenticate(ctx, "alice", PASSWORD + "!")
    with pytest.raises(NotAuthenticated) as unknown:
        users.authenticate(ctx, "nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message == users.LOGIN_REFUSED
    assert user(ctx).failed_attempts == 1
    users.authenticate(ctx, "alice", PASSWORD)
    assert user(ctx).failed_attempts == 0  # a success forgets the failures


def test_lockout_after_n_failures_lifts_after_its_duration(
    ctx: AppContext, alice: AdminUser, clock: FakeClock
) -> None:
    settings = ctx.settings.admin
    for _ in range(settings.lockout_attempts):
        with pytest.raises(NotAuthenticated):
            users.authenticate(ctx, "alice", "wrong password!")
    assert user(ctx).locked_until == clock.now() + settings.lockout_duration
    with pytest.raises(NotAuthenticated):  # the right password is refused while locked
        users.authenticate(ctx, "alice", PASSWORD)
    clock.advance(settings.lockout_duration - timedelta(seconds=1))
    with pytest.raises(NotAuthenticated):
        users.authenticate(ctx, "alice", PASSWORD)
    # attempts while locked do not make the lock longer
    assert user(ctx).locked_until == clock.now() + timedelta(seconds=1)
    clock.advance(timedelta(seconds=1))
    assert users.authenticate(ctx, "alice", PASSWORD).id == alice.id


def test_unlock_lifts_the_lock_at_once(ctx: AppContext, alice: AdminUser) -> None:
    for _ in range(ctx.settings.admin.lockout_attempts):
        with pytest.raises(NotAuthenticated):
            users.authenticate(ctx, "alice", "wrong password!")
    with pytest.raises(NotAuthenticated):
        users.authenticate(ctx, "alice", PASSWORD)
    users.unlock(ctx, "alice")
    assert user(ctx).locked_until is None
    assert users.authenticate(ctx, "alice", PASSWORD).id == alice.id
    with pytest.raises(NotFound):
        users.unlock(ctx, "nobody")


# --------------------------------------------------------------------- sessions


def test_a_session_keeps_only_the_token_hash(ctx: AppContext, alice: AdminUser) -> None:
    token = sessions.create_session(ctx, alice)
    with ctx.db.read() as s:
        row = s.scalars(select(AdminSession)).one()
    assert token not in row.token_hash and len(row.token_hash) == 64
    assert row.expires_at == ctx.clock.now() + ctx.settings.admin.session_lifetime
    identity = sessions.resolve_session(ctx, token)
    assert identity is not None and identity.username == "alice" and identity.can_act
    assert sessions.resolve_session(ctx, token + "x") is None
    assert sessions.resolve_session(ctx, "") is None


def test_a_session_expires(ctx: AppContext, alice: AdminUser, clock: FakeClock) -> None:
    token = sessions.create_session(ctx, alice)
    clock.advance(ctx.settings.admin.session_lifetime - timedelta(seconds=1))
    assert sessions.resolve_session(ctx, token) is not None
    clock.advance(timedelta(seconds=1))
    assert sessions.resolve_session(ctx, token) is None


def test_last_seen_is_written_at_most_once_a_minute(
    ctx: AppContext, alice: AdminUser, clock: FakeClock
) -> None:
    token = sessions.create_session(ctx, alice)
    start = clock.now()
    clock.advance(timedelta(seconds=30))
    sessions.resolve_session(ctx, token)
    with ctx.db.read() as s:
        assert s.scalars(select(AdminSession.last_seen_at)).one() == start
    clock.advance(timedelta(seconds=30))
    sessions.resolve_session(ctx, token)
    with ctx.db.read() as s:
        assert s.scalars(select(AdminSession.last_seen_at)).one() == clock.now()


def test_logout_password_change_and_removal_end_sessions(ctx: AppContext, alice: AdminUser) -> None:
    first, second = sessions.create_session(ctx, alice), sessions.create_session(ctx, alice)
    sessions.end_session(ctx, first)
    assert sessions.resolve_session(ctx, first) is None
    assert sessions.resolve_session(ctx, second) is not None
    users.set_password(ctx, "alice", "a brand new password")
    assert sessions.resolve_session(ctx, second) is None
    third = sessions.create_session(ctx, alice)
    users.remove_user(ctx, "alice")
    assert sessions.resolve_session(ctx, third) is None
    with ctx.db.read() as s:
        assert s.scalars(select(AdminSession)).all() == []


def test_a_viewer_cannot_act(ctx: AppContext) -> None:
    viewer = users.create_user(ctx, "victor", PASSWORD, Role.viewer)
    identity = sessions.resolve_session(ctx, sessions.create_session(ctx, viewer))
    assert identity is not None and identity.role is Role.viewer and not identity.can_act


# --------------------------------------------------------------------- the login page's next


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("/admin/jobs", "/admin/jobs"),
        ("/admin/jobs?state=failed&page=2", "/admin/jobs?state=failed&page=2"),
        ("/admin", "/admin"),
        (None, "/admin"),
        ("", "/admin"),
        ("https://evil.example/admin", "/admin"),
        ("//evil.example/admin", "/admin"),
        ("/admin//evil.example", "/admin"),
        ("/adminx", "/admin"),
        ("/admin/../manage/x", "/admin"),
        ("/admin/\\evil", "/admin"),
        ("/admin/jobs\r\nSet-Cookie: x=y", "/admin"),
        ("/", "/admin"),
        ("/admin/login?next=/admin", "/admin"),
        ("/admin/logout", "/admin"),
        ("javascript:alert(1)", "/admin"),
    ],
)
def test_next_is_only_ever_a_local_admin_path(value: str | None, expected: str) -> None:
    assert local_path(value) == expected


# --------------------------------------------------------------------- dashboard charts


def figures() -> Stats:
    return Stats.model_validate(
        {
            "live_seats": [{"workshop": "WKSHP-A", "location": "local", "count": 2}],
            "registrations_per_day": [
                {"day": "2026-11-25", "count": 3},
                {"day": "2026-11-28", "count": 1},
            ],
            "outcomes": {"live": 2, "ended": 5, "ended_early": 1, "failed": 1},
            "completion": [{"workshop": "WKSHP-A", "mean": 62.5, "count": 4}],
            "badge_levels": [{"level": 1, "name": "Apprentice", "count": 1}],
            "seats": [
                {"location": "local", "state": "free", "count": 18},
                {"location": "local", "state": "ready", "count": 2},
            ],
        }
    )


def test_each_chart_has_a_table_with_the_same_figures() -> None:
    board = charts.build(figures(), datetime(2026, 11, 28, 9, tzinfo=UTC), 7)
    by_id = {c.id: c for c in board.charts}
    days = by_id["registrations"]
    assert days.labels[0] == "2026-11-22" and days.labels[-1] == "2026-11-28"  # 7 whole days
    assert days.series[0].data == [0, 0, 0, 3, 0, 0, 1]  # days without any are zeros
    assert [row[1] for row in days.rows] == days.series[0].data
    assert by_id["outcomes"].series[0].data == [2, 5, 1, 1]
    assert by_id["seats"].rows == [["local", 18, 0, 2, 0, 0, 0]]
    assert by_id["completion"].percent and by_id["seats"].stacked
    assert board.totals == {"live": 2, "registrations": 4, "failed": 1}
    json.dumps([c.to_json() for c in board.charts])  # what the script reads


@pytest.mark.parametrize(("asked", "shown"), [(7, 7), (30, 30), (90, 90), (5, 30), (None, 30)])
def test_the_range_is_one_of_the_offered(asked: int | None, shown: int) -> None:
    assert charts.chosen_range(asked) == shown


# --------------------------------------------------------------------- import plan digest


def test_the_plan_digest_changes_with_what_would_be_written() -> None:
    def plan(new: object) -> ImportPlan:
        return ImportPlan(
            [WorkshopPlan("WKSHP-A", Action.update, [Change("capacity", 10, new)])], []
        )

    assert plan_digest(plan(12)) == plan_digest(plan(12))
    assert plan_digest(plan(12)) != plan_digest(plan(13))
    added = ImportPlan([WorkshopPlan("WKSHP-B", Action.add, [], {"capacity": 5})], [])
    other = ImportPlan([WorkshopPlan("WKSHP-B", Action.add, [], {"capacity": 6})], [])
    assert plan_digest(added) != plan_digest(other)


# --------------------------------------------------------------------- Chart.js, served locally


def test_the_served_chart_js_is_the_version_package_json_pins() -> None:
    """scripts/bootstrap copies Chart.js from node_modules into the package, with its licence."""
    pinned = json.loads((ROOT / "package.json").read_text())["dependencies"]["chart.js"]
    header = (VENDOR / "chart.umd.min.js").read_text()[:300]
    found = re.search(r"Chart\.js v(\d+\.\d+\.\d+)", header)
    assert found is not None and found[1] == pinned
    assert "MIT License" in (VENDOR / "chart.js.LICENSE.md").read_text()
