"""Console users: names, passwords kept as argon2 hashes, one refusal, lockout."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.unit.services.admin.conftest import PASSWORD, user
from wod.context import AppContext
from wod.db.models import AdminUser
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.errors import InvalidInput, NotAuthenticated, NotFound
from wod.services.admin import users


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
