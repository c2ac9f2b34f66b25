"""Sessions of the admin console: logging in (with the limits per address and per account),
who holds a session cookie, logging out.

A session is a random token in the browser's cookie; the database keeps only its SHA-256 hash,
with an absolute expiry (``admin.session_lifetime``).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update

from wod.context import AppContext
from wod.db.models import AdminSession, AdminUser
from wod.domain.roles import Role
from wod.domain.secrets import hash_token
from wod.services.admin.users import authenticate
from wod.services.registrations import ratelimit

LAST_SEEN_PRECISION = timedelta(minutes=1)


@dataclass(frozen=True)
class AdminIdentity:
    """Who is logged in: what the console's pages need to know about the user."""

    user_id: int
    username: str
    role: Role
    session_id: int

    @property
    def can_act(self) -> bool:
        return self.role is Role.admin


def log_in(ctx: AppContext, username: str, password: str, client: str) -> str:
    """A new session for ``username`` with this password, from the address ``client``; its
    token. Refused with :class:`~wod.errors.RateLimited` past ``admin.login_attempts_per_address``
    logins from one address per ``admin.login_window``, whichever accounts they name, and with
    :class:`~wod.errors.NotAuthenticated` for a wrong name, password or a locked account."""
    limits = ctx.settings.admin
    key = f"admin-login:{client}"
    ratelimit.hit(ctx, key, limits.login_attempts_per_address, limits.login_window)
    return create_session(ctx, authenticate(ctx, username, password))


def create_session(ctx: AppContext, user: AdminUser) -> str:
    """A new session of ``user``; returns its token (for the cookie, never stored)."""
    token = secrets.token_urlsafe(32)
    now = ctx.clock.now()
    with ctx.db.write() as session:
        session.execute(delete(AdminSession).where(AdminSession.expires_at <= now))
        session.add(
            AdminSession(
                token_hash=hash_token(token),
                user_id=user.id,
                created_at=now,
                expires_at=now + ctx.settings.admin.session_lifetime,
                last_seen_at=now,
            )
        )
    return token


def resolve_session(ctx: AppContext, token: str) -> AdminIdentity | None:
    """Who holds this session token, or None when it is unknown, expired or ended."""
    if not token or len(token) > 200:
        return None
    now = ctx.clock.now()
    with ctx.db.read() as session:
        row = session.execute(
            select(AdminSession, AdminUser)
            .join(AdminUser, AdminUser.id == AdminSession.user_id)
            .where(AdminSession.token_hash == hash_token(token), AdminSession.expires_at > now)
        ).first()
    if row is None:
        return None
    admin_session, user = row
    if now - admin_session.last_seen_at >= LAST_SEEN_PRECISION:  # one write a minute at most
        with ctx.db.write() as session:
            session.execute(
                update(AdminSession)
                .where(AdminSession.id == admin_session.id)
                .values(last_seen_at=now)
            )
    return AdminIdentity(user.id, user.username, Role(user.role), admin_session.id)


def end_session(ctx: AppContext, token: str) -> None:
    """Log out: the session is deleted, so its cookie no longer works anywhere."""
    with ctx.db.write() as session:
        session.execute(delete(AdminSession).where(AdminSession.token_hash == hash_token(token)))
