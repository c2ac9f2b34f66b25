"""The audit log: every action of the people and tools that run the platform — who, what,
when, from where, and how it went.

What is recorded (:class:`Action`): the console's logins, failed logins and logouts, its
actions (end, extend, purge a registration, purge a seat, retry a job, resend an email, import
the workshops) whether they were done or refused, its exports, the ``wod admins`` and
``wod tokens`` commands that change something, the state-changing calls of admin api tokens,
and the retention timer's anonymisations. Each event names its actor (:class:`Who`: a console
user with their role, an api token, the system user of a command, or the scheduler) and the
client address it came from (the host's name for a command).

An event never holds a password nor a token, and names participants only by row ids: its
detail is the console's answer — but the detail of an export gives its filters, which may hold
the address searched for. The client addresses, and those details, are forgotten after
``retention.days`` (:mod:`.retention`); the rest stays.
"""

from __future__ import annotations

import getpass
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from wod.context import AppContext
from wod.db.models import AdminUser, ApiToken, AuditEvent
from wod.domain.secrets import hash_token
from wod.services.admin.paging import Page, contains, paged
from wod.services.admin.sessions import AdminIdentity

DETAIL_MAX = 1000
UNKNOWN_USER = "(unknown user)"  # a failed login naming no account: never what was typed


class Action(StrEnum):
    """What an event records."""

    login = "login"
    login_failed = "login.failed"
    logout = "logout"
    registration_end = "registration.end"
    registration_extend = "registration.extend"
    registration_purge = "registration.purge"
    seat_purge = "seat.purge"
    job_retry = "job.retry"
    email_resend = "email.resend"
    workshops_import = "workshops.import"
    export_registrations = "export.registrations"
    export_audit = "export.audit"
    admin_add = "admin.add"
    admin_remove = "admin.remove"
    admin_passwd = "admin.passwd"  # noqa: S105 - an action's name, not a password
    admin_role = "admin.role"
    admin_unlock = "admin.unlock"
    token_add = "token.add"  # noqa: S105 - an action's name
    token_revoke = "token.revoke"  # noqa: S105 - an action's name
    retention_anonymise = "retention.anonymise"


class Outcome(StrEnum):
    done = "done"
    refused = "refused"  # a refusal: nothing changed, the detail says why
    failed = "failed"  # an unexpected error


class ActorKind(StrEnum):
    console = "console"  # a user of the admin console
    token = "token"  # noqa: S105 - an admin api token (a kind of actor)
    cli = "cli"  # a ``wod`` command, on a machine that uses the platform's database
    scheduler = "scheduler"  # the api's own timers


@dataclass(frozen=True)
class Who:
    """The actor of an event and where it came from."""

    kind: ActorKind
    name: str
    role: str | None = None
    address: str | None = None


def console_who(identity: AdminIdentity, address: str) -> Who:
    """A logged-in console user, from the client ``address``."""
    return Who(ActorKind.console, identity.username, identity.role.value, address)


def cli_who() -> Who:
    """The person running a ``wod`` command: their system user, on this host."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a bare container)
        user = "unknown"
    return Who(ActorKind.cli, user[:100], None, socket.gethostname()[:255])


SCHEDULER = Who(ActorKind.scheduler, "scheduler")


def token_who(ctx: AppContext, token: str, address: str) -> Who:
    """The admin api token presented (by its name and role), from the client ``address``."""
    with ctx.db.read() as session:
        row = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(token)))
    if row is None:
        return Who(ActorKind.token, "(unknown token)", None, address)
    return Who(ActorKind.token, row.name, row.role, address)


def add_event(
    session: Session,
    now: datetime,
    who: Who,
    action: Action,
    target: str = "",
    *,
    outcome: Outcome = Outcome.done,
    detail: str = "",
) -> AuditEvent:
    """One event, inside the caller's transaction."""
    event = AuditEvent(
        at=now,
        actor_kind=who.kind.value,
        actor=who.name[:100],
        role=who.role,
        action=action.value,
        target=target[:200],
        outcome=outcome.value,
        detail=detail[:DETAIL_MAX],
        address=who.address[:255] if who.address else None,
    )
    session.add(event)
    return event


def record(
    ctx: AppContext,
    who: Who,
    action: Action,
    target: str = "",
    *,
    outcome: Outcome = Outcome.done,
    detail: str = "",
) -> None:
    """Record one event now, in a transaction of its own (after the action it tells of)."""
    with ctx.db.write() as session:
        add_event(session, ctx.clock.now(), who, action, target, outcome=outcome, detail=detail)


def record_login(ctx: AppContext, username: str, address: str, *, ok: bool) -> None:
    """A login to the console, or a failed one. A failure is recorded under the account it
    named, or as :data:`UNKNOWN_USER` (people type their password into the name field)."""
    with ctx.db.write() as session:
        user = session.scalar(select(AdminUser).where(AdminUser.username == username))
        name = user.username if user is not None else UNKNOWN_USER
        who = Who(ActorKind.console, name, user.role if user is not None else None, address)
        if ok:
            add_event(session, ctx.clock.now(), who, Action.login)
        else:
            add_event(
                session,
                ctx.clock.now(),
                who,
                Action.login_failed,
                outcome=Outcome.refused,
                detail="wrong user name or password, or the account is locked",
            )


# --------------------------------------------------------------------- reading


@dataclass(frozen=True)
class AuditFilter:
    """The filters of the audit page and its export; None (or empty) does not filter."""

    action: Action | None = None
    outcome: Outcome | None = None
    actor: str | None = None  # part of the actor's name
    since: date | None = None  # first day (UTC), included
    until: date | None = None  # last day (UTC), included


def event_query(where: AuditFilter) -> Select[AuditEvent]:
    """The events the filter keeps, newest first."""
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if where.action is not None:
        query = query.where(AuditEvent.action == where.action.value)
    if where.outcome is not None:
        query = query.where(AuditEvent.outcome == where.outcome.value)
    if where.actor and where.actor.strip():
        query = query.where(AuditEvent.actor.ilike(contains(where.actor.strip()), escape="\\"))
    if where.since is not None:
        query = query.where(AuditEvent.at >= datetime.combine(where.since, time(), tzinfo=UTC))
    if where.until is not None:
        end = datetime.combine(where.until + timedelta(days=1), time(), tzinfo=UTC)
        query = query.where(AuditEvent.at < end)
    return query


def events(
    ctx: AppContext, where: AuditFilter, number: int = 1, size: int = 50
) -> Page[AuditEvent]:
    """The audit log, newest first."""
    with ctx.db.read() as session:
        rows, total = paged(session, event_query(where), number, size)
    return Page([row[0] for row in rows], max(1, number), size, total)
