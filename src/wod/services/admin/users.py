"""People who log in to the admin console.

Passwords are kept as argon2id hashes. A login costs one hash verification whether the user
exists or not, so the answer's timing does not tell which user names exist; after
``admin.lockout_attempts`` failures in a row the account is locked for
``admin.lockout_duration`` (``wod admins unlock`` lifts it). Changing a password or removing a
user ends their sessions (:mod:`.sessions`).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import AdminSession, AdminUser
from wod.domain.roles import Role
from wod.domain.secrets import hash_password, verify_password
from wod.errors import FieldProblem, InvalidInput, NotAuthenticated, NotFound
from wod.settings import Settings

USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,99}")
PASSWORD_MIN = 12
PASSWORD_MAX = 1024
FIRST_USER = "admin"  # made by ``wod up`` on a database without console users
LOGIN_REFUSED = "Wrong user name or password, or the account is locked: try again later."


def check_username(username: str) -> str:
    if not USERNAME.fullmatch(username):
        raise InvalidInput(
            [FieldProblem("username", "1 to 100 letters, digits, '.', '_', '@' or '-'")]
        )
    return username


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise InvalidInput(
            [FieldProblem("password", f"{PASSWORD_MIN} to {PASSWORD_MAX} characters")]
        )
    return password


def _user(session: Session, username: str) -> AdminUser:
    user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    if user is None:
        raise NotFound(f"no admin user named {username!r}")
    return user


def check_new_user(ctx: AppContext, username: str) -> None:
    """:class:`InvalidInput` unless ``username`` is well formed and free."""
    check_username(username)
    with ctx.db.read() as session:
        if session.scalar(select(AdminUser.id).where(AdminUser.username == username)):
            raise InvalidInput([FieldProblem("username", f"{username!r} exists")])


def create_user(ctx: AppContext, username: str, password: str, role: Role) -> AdminUser:
    """A new user of the console."""
    check_new_user(ctx, username)
    password_hash = hash_password(check_password(password))  # slow: outside the transaction
    with ctx.db.write() as session:
        user = AdminUser(
            username=username,
            password_hash=password_hash,
            role=role.value,
            failed_attempts=0,
            created_at=ctx.clock.now(),
        )
        session.add(user)
        try:
            session.flush()
        except IntegrityError as exc:  # added by a concurrent command
            raise InvalidInput([FieldProblem("username", f"{username!r} exists")]) from exc
        return user


def remove_user(ctx: AppContext, username: str) -> None:
    """Remove a user; their sessions end at once."""
    with ctx.db.write() as session:
        user = _user(session, username)
        session.execute(delete(AdminSession).where(AdminSession.user_id == user.id))
        session.delete(user)


def set_password(ctx: AppContext, username: str, password: str) -> None:
    """A new password; the user's sessions end (they log in again with it)."""
    password_hash = hash_password(check_password(password))
    with ctx.db.write() as session:
        user = _user(session, username)
        user.password_hash = password_hash
        session.execute(delete(AdminSession).where(AdminSession.user_id == user.id))


def set_role(ctx: AppContext, username: str, role: Role) -> None:
    """A new role, in force from the user's next request (their sessions stay)."""
    with ctx.db.write() as session:
        _user(session, username).role = role.value


def first_password_file(settings: Settings) -> Path:
    """Where ``wod up`` keeps the password of the console's first user, :data:`FIRST_USER`."""
    return settings.data_dir.resolve() / "admin_password"


def unlock(ctx: AppContext, username: str) -> None:
    """Lift a lockout and forget the failed attempts."""
    with ctx.db.write() as session:
        user = _user(session, username)
        user.failed_attempts = 0
        user.locked_until = None


def find_user(ctx: AppContext, username: str) -> AdminUser:
    """The user named ``username``, or :class:`NotFound`."""
    with ctx.db.read() as session:
        return _user(session, username)


def list_users(ctx: AppContext) -> list[AdminUser]:
    with ctx.db.read() as session:
        return list(session.scalars(select(AdminUser).order_by(AdminUser.username)))


@lru_cache(maxsize=1)
def _decoy_hash() -> str:
    """A hash to verify against for unknown users, so that they cost the same time."""
    return hash_password(secrets.token_urlsafe(16))


def authenticate(ctx: AppContext, username: str, password: str) -> AdminUser:
    """The user with this name and password, or :class:`NotAuthenticated` (one message for
    every reason: unknown user, wrong password, locked account)."""
    with ctx.db.read() as session:
        user = session.scalar(select(AdminUser).where(AdminUser.username == username))
    stored = user.password_hash if user is not None else _decoy_hash()
    matches = verify_password(password[:PASSWORD_MAX], stored)
    if user is None:
        raise NotAuthenticated(LOGIN_REFUSED)
    now = ctx.clock.now()
    with ctx.db.write() as session:  # the failure is counted even though the login is refused
        row = session.get(AdminUser, user.id)
        accepted = row is not None and _record_attempt(ctx, session, row, matches, now)
    if not accepted or row is None:
        raise NotAuthenticated(LOGIN_REFUSED)
    return row


def _record_attempt(
    ctx: AppContext, session: Session, user: AdminUser, matches: bool, now: datetime
) -> bool:
    """Note one login attempt; whether it is accepted."""
    if user.locked_until is not None and user.locked_until > now:
        return False  # locked: not even counted, so the lock does not grow
    if not matches:
        _count_failure(ctx, session, user, now)
        return False
    user.failed_attempts = 0
    user.locked_until = None
    user.last_login_at = now
    return True


def _count_failure(ctx: AppContext, session: Session, user: AdminUser, now: datetime) -> None:
    settings = ctx.settings.admin
    failures = session.scalar(
        update(AdminUser)
        .where(AdminUser.id == user.id)
        .values(failed_attempts=AdminUser.failed_attempts + 1)
        .returning(AdminUser.failed_attempts)
        .execution_options(synchronize_session=False)
    )
    if failures is not None and failures >= settings.lockout_attempts:
        session.execute(
            update(AdminUser)
            .where(AdminUser.id == user.id)
            .values(failed_attempts=0, locked_until=now + settings.lockout_duration)
            .execution_options(synchronize_session=False)
        )
