"""Making a database ready to serve one machine (``wod up``): the schema migrated, the content
imported, the local location with its seats and a new agent token, and a first console user."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from wod.content.check import CheckReport, check_content
from wod.context import AppContext
from wod.db.migrate import upgrade
from wod.domain.roles import Role
from wod.errors import ContentProblem
from wod.services.admin import users
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location, rotate_token

LOCATION = "local"
DEFAULT_SEATS = 20


@dataclass(frozen=True)
class Prepared:
    """What :func:`prepare_platform` did."""

    token: str  # the local location's new agent token
    workshops: int
    seats: tuple[int, int]
    problems: list[ContentProblem] = field(default_factory=list)
    first_admin: str | None = None  # the user made, its password in ``password_file``
    password_file: Path | None = None


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
        token = rotate_token(session, location)
    made, password_file = _first_admin(ctx)
    return Prepared(token, len(report.workshops), (low, high), report.errors, made, password_file)


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
