"""Console users on the test database."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import AdminUser
from wod.domain.roles import Role
from wod.services.admin import users

PASSWORD = "correct horse battery"


@pytest.fixture
def alice(ctx: AppContext) -> AdminUser:
    return users.create_user(ctx, "alice", PASSWORD, Role.admin)


def user(ctx: AppContext, name: str = "alice") -> AdminUser:
    with ctx.db.read() as s:
        row = s.scalar(select(AdminUser).where(AdminUser.username == name))
        assert row is not None
        return row
