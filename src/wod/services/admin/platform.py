"""Making a database ready to serve one machine (``wod up``): the schema migrated, the content
imported, the local location with its seats and its agent token (kept in the data folder and
reused: a token in use is never replaced behind its agent's back), and a first console user."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from wod.content.check import CheckReport, check_content
from wod.context import AppContext
from wod.db.migrate import upgrade
from wod.db.models import Location
from wod.domain.roles import Role
from wod.domain.secrets import hash_token
from wod.errors import ContentProblem
from wod.services.admin import users
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location, rotate_token

LOCATION = "local"
DEFAULT_SEATS = 20


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare_platform` did."""

    token: str  # the local location's agent token
    workshops: int
    seats: tuple[int, int]
    problems: list[ContentProblem] = field(default_factory=list)
    first_admin: str | None = None  # the user made, its password in ``password_file``
    password_file: Path | None = None
    token_replaced: str | None = None  # why the location's former token was replaced


def agent_token_file(ctx: AppContext) -> Path:
    """Where ``wod up`` keeps the local location's agent token (0600)."""
    return ctx.settings.data_dir / "agent_token"


def prepare_platform(ctx: AppContext, seats: tuple[int, int] | None = None) -> Prepared:
    """Migrate, import the content, configure the location ``local`` (by default enough seats
    for every workshop's range, at least 20) and, on a database without console users, make
    the user ``admin`` with a random password kept 0600 in the data folder — never a default
    one."""
    upgrade(ctx.db)
    report = check_content(ctx.content, ctx.settings)
    now = ctx.clock.now()
    with ctx.db.write() as session:
        apply_import(session, plan_import(session, report), now)
    low, high = seats or (1, max([DEFAULT_SEATS, *_range_ends(report)]))
    with ctx.db.write() as session:
        location = ensure_location(
            session,
            name=LOCATION,
            hub_public_url=ctx.settings.hub.public_url,
            hub_api_url=ctx.settings.hub.api_url,
            seat_min=low,
            seat_max=high,
            now=now,
        )
        token, replaced = _agent_token(session, location, agent_token_file(ctx))
    made, password_file = _first_admin(ctx)
    return Prepared(
        token, len(report.workshops), (low, high), report.errors, made, password_file, replaced
    )


def _agent_token(session: Session, location: Location, path: Path) -> tuple[str, str | None]:
    """The token kept in ``path`` while it is the location's; else a new one, kept there (with
    why the former one, if any, was replaced)."""
    kept = path.read_text().strip() if path.is_file() else ""
    if kept and location.token_hash == hash_token(kept):
        return kept, None
    replaced = None
    if location.token_hash is not None:
        replaced = "its token file was missing" if not kept else "its token file was out of date"
    token = rotate_token(session, location)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".new")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    tmp.replace(path)
    return token, replaced


def _range_ends(report: CheckReport) -> list[int]:
    return [w.spec.seat_range[1] for w in report.workshops.values() if w.spec and w.spec.seat_range]


def _first_admin(ctx: AppContext) -> tuple[str | None, Path | None]:
    if users.list_users(ctx):
        return None, None
    password = secrets.token_urlsafe(15)
    password_file = users.first_password_file(ctx.settings)
    password_file.parent.mkdir(parents=True, exist_ok=True)
    password_file.unlink(missing_ok=True)
    fd = os.open(password_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    user = users.create_user(ctx, users.FIRST_USER, password, Role.admin)
    return user.username, password_file
