"""Admin api tokens: random, stored hashed, each with a role (admin, or viewer: read only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.db.models import ApiToken
from wod.domain.secrets import ADMIN_PREFIX, hash_token, new_token
from wod.errors import FieldProblem, InvalidInput, NotFound

LAST_USED_PRECISION = timedelta(minutes=1)


class Role(StrEnum):
    admin = "admin"  # reads and acts (end, extend)
    viewer = "viewer"  # reads (stats, registrations)


def create_token(session: Session, name: str, role: Role, now: datetime) -> str:
    """A new token; only its hash is stored. Returns the token (shown once)."""
    if not name.strip() or len(name) > 100:
        raise InvalidInput([FieldProblem("name", "1 to 100 characters")])
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise InvalidInput([FieldProblem("name", f"a token named {name!r} exists")])
    token = new_token(ADMIN_PREFIX)
    session.add(ApiToken(name=name, token_hash=hash_token(token), role=role.value, created_at=now))
    session.flush()
    return token


def revoke_token(session: Session, name: str) -> None:
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise NotFound(f"no token named {name!r}")
    row.revoked = True


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.id)))


def role_for_token(session: Session, token: str, now: datetime) -> Role | None:
    """The role of a valid admin token (and its last use noted), or None."""
    if not token.startswith(ADMIN_PREFIX + "_"):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None or row.revoked:
        return None
    if row.last_used_at is None or now - row.last_used_at > LAST_USED_PRECISION:
        row.last_used_at = now
    return Role(row.role)
