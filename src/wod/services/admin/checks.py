"""What the agents' daily conformity checks found reaches the admins, once a day for each set
of problems."""

from __future__ import annotations

import hashlib

from wod.context import AppContext
from wod.db.models import Location
from wod.services.mail.queue import alert_admins


def digest(problems: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(problems)).encode()).hexdigest()[:16]


def report_check(ctx: AppContext, location: Location, problems: list[str]) -> None:
    """Alert the admins of the problems ``wod backend check`` found on a location's hub host."""
    if not problems:
        return
    now = ctx.clock.now()
    with ctx.db.write() as session:
        alert_admins(
            session,
            ctx.settings.alerts.recipients,
            f"{len(problems)} problem(s) on the hub host of {location.name}",
            "wod backend check found:\n\n"
            + "\n".join(f"- {p}" for p in problems)
            + "\n\nRepair with `wod backend check --fix` on that host.",
            f"check:{location.id}:{now.date().isoformat()}:{digest(problems)}",
            now,
        )
