"""Bookkeeping never makes a request wait or fail: while another process holds the database's
write lock (SQLite) or the token's row (PostgreSQL), an admin token still authenticates at once
and its last use is simply not noted; once the lock is gone, it is."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import select, text

from wod.context import AppContext
from wod.db.models import ApiToken
from wod.db.session import Database
from wod.domain.roles import Role
from wod.services.admin.tokens import create_token, role_for_token

pytestmark = pytest.mark.faults


@contextmanager
def held(ctx: AppContext) -> Iterator[None]:
    """What another process's long write holds, from an engine of its own."""
    other = Database(ctx.settings.resolved_database_url)
    try:
        with other.write() as session:  # on SQLite, BEGIN IMMEDIATE: the file's write lock
            session.execute(select(ApiToken.id).with_for_update())  # FOR UPDATE on PostgreSQL
            yield
    finally:
        other.dispose()


def last_used(ctx: AppContext) -> object:
    with ctx.db.read() as s:
        return s.scalar(select(ApiToken.last_used_at))


def test_a_token_authenticates_while_the_database_is_busy_and_its_use_is_noted_later(
    ctx: AppContext,
) -> None:
    token = create_token(ctx, "ops", Role.admin)
    with held(ctx):
        assert role_for_token(ctx, token) is Role.admin
        assert last_used(ctx) is None  # skipped: the write would have had to wait
    assert role_for_token(ctx, token) is Role.admin
    assert last_used(ctx) == ctx.clock.now()


def test_a_bookkeeping_write_says_whether_it_was_done(ctx: AppContext) -> None:
    token = create_token(ctx, "ops", Role.admin)
    noted = text("UPDATE api_token SET name = 'noted'")
    with held(ctx):
        assert ctx.db.best_effort(lambda s: s.execute(noted), "a test's note") is False
    assert ctx.db.best_effort(lambda s: s.execute(noted), "a test's note") is True
    assert role_for_token(ctx, token) is Role.admin
