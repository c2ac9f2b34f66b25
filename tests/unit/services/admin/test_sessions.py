"""Console sessions: only the token's hash kept, expiry, last seen, ended by logout and
password changes."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.unit.services.admin.conftest import PASSWORD
from wod.context import AppContext
from wod.db.models import AdminSession, AdminUser
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.services.admin import sessions, users


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
