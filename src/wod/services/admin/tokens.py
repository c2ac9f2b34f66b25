"""Admin api tokens: random, stored hashed, each with a role (admin, or viewer: read only)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from wod.context import AppContext
from wod.db.models import ApiToken
from wod.domain.roles import Role
from wod.domain.secrets import ADMIN_PREFIX, hash_token, new_token
from wod.errors import FieldProblem, InvalidInput, NotFound

LAST_USED_PRECISION = timedelta(minutes=1)


def create_token(ctx: AppContext, name: str, role: Role) -> str:
    """A new token; only its hash is stored. Returns the token (shown once)."""
    if not name.strip() or len(name) > 100:
        raise InvalidInput([FieldProblem("name", "1 to 100 characters")])
    token = new_token(ADMIN_PREFIX)
    with ctx.db.write() as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise InvalidInput([FieldProblem("name", f"a token named {name!r} exists")])
        session.add(
            ApiToken(
                name=name, token_hash=hash_token(token), role=role.value, created_at=ctx.clock.now()
            )
        )
    return token


def revoke_token(ctx: AppContext, name: str) -> None:
    """Revoke a token: it stops working at once."""
    with ctx.db.write() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.name == name))
        if row is None:
            raise NotFound(f"no token named {name!r}")
        row.revoked = True


def list_tokens(ctx: AppContext) -> list[ApiToken]:
    with ctx.db.read() as session:
        return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def role_for_token(ctx: AppContext, token: str) -> Role | None:
    """The role of a valid admin token, or None. Its last use is noted at most once a
    ``LAST_USED_PRECISION``, as bookkeeping: skipped when the database is busy, so that the
    request neither waits for it nor fails because of it."""
    if not token.startswith(ADMIN_PREFIX + "_"):
        return None
    with ctx.db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked:
        return None
    now = ctx.clock.now()
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        noted = update(ApiToken).where(ApiToken.id == row.id).values(last_used_at=now)
        ctx.db.best_effort(lambda session: session.execute(noted), "a token's last use")
    return Role(row.role)
