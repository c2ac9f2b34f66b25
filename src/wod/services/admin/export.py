"""The console's exports as CSV: the registrations (the filters of their list, and optionally
the days they were made on) and the audit log (the filters of its page).

An export hands out personal data, so each one is recorded in the audit log, with its filters
and its number of rows. A cell that a spreadsheet would run as a formula (it starts with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) gets a leading ``'`` (:func:`cell`). Times
are UTC, as ``2026-11-28 14:05:00``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import RowMapping, select

from wod.context import AppContext
from wod.db.models import Location, Registration, Seat, Workshop
from wod.services.admin import audit
from wod.services.admin.lists import RegistrationFilter, filtered

#: What a spreadsheet reads as the start of a formula (OWASP, "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

#: The columns of the registrations' export, in order.
REGISTRATION_COLUMNS = {
    "id": Registration.id,
    "registered_at": Registration.created_at,
    "workshop": Workshop.slug,
    "location": Location.name,
    "seat": Seat.username,
    "state": Registration.state,
    "ended_reason": Registration.ended_reason,
    "extended": Registration.extended,
    "ready_at": Registration.ready_at,
    "ends_at": Registration.ends_at,
    "ended_at": Registration.ended_at,
    "completion": Registration.completion,
    "language": Registration.language,
    "name": Registration.name,
    "company": Registration.company,
    "email": Registration.email,
    "erased_at": Registration.erased_at,
    "anonymised_at": Registration.anonymised_at,
}
AUDIT_COLUMNS = (
    "id",
    "at",
    "actor_kind",
    "actor",
    "role",
    "action",
    "target",
    "outcome",
    "detail",
    "address",
)


@dataclass(frozen=True)
class CsvFile:
    """An export: its file name, its text and how many rows it holds."""

    filename: str
    text: str
    rows: int


def cell(value: object) -> str:
    """A value as CSV text, never a formula a spreadsheet would run."""
    if value is None:
        text = ""
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, datetime):
        text = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> tuple[str, int]:
    """The CSV (RFC 4180: CRLF line ends, quoted where needed) of a header and its rows, with
    how many rows."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    count = 0
    for row in rows:
        writer.writerow([cell(value) for value in row])
        count += 1
    return out.getvalue(), count


def _described(filters: Mapping[str, object]) -> str:
    given = [f"{k}={v}" for k, v in filters.items() if v not in (None, "")]
    return ", ".join(given) or "none"


def _stamp(ctx: AppContext) -> str:
    return ctx.clock.now().strftime("%Y%m%d-%H%M")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


# --------------------------------------------------------------------- registrations


def registrations_csv(
    ctx: AppContext,
    who: audit.Who,
    where: RegistrationFilter,
    since: date | None = None,
    until: date | None = None,
) -> CsvFile:
    """The registrations the list's filters keep (made from ``since`` to ``until``, UTC days,
    when given), newest first, one row each; an erased or anonymised registration shows no
    name, company nor address. Recorded in the audit log."""
    query = (
        select(*(column.label(name) for name, column in REGISTRATION_COLUMNS.items()))
        .select_from(Registration)
        .join(Workshop, Workshop.id == Registration.workshop_id)
        .outerjoin(Location, Location.id == Registration.location_id)  # none: no seat yet
        .outerjoin(Seat, Seat.id == Registration.seat_id)
        .order_by(Registration.id.desc())
    )
    query = filtered(query, where)  # the same filters as the list
    if since is not None:
        query = query.where(Registration.created_at >= _day_start(since))
    if until is not None:
        query = query.where(Registration.created_at < _day_start(until + timedelta(days=1)))
    with ctx.db.read() as session:
        text, count = csv_text(
            list(REGISTRATION_COLUMNS),
            (_registration_row(row._mapping) for row in session.execute(query)),
        )
    filters = {
        "workshop": where.workshop,
        "state": where.state.value if where.state else None,
        "location": where.location,
        "q": where.text,
        "from": since,
        "to": until,
    }
    audit.record(
        ctx,
        who,
        audit.Action.export_registrations,
        detail=f"{count} row(s); filters: {_described(filters)}",
    )
    return CsvFile(f"registrations-{_stamp(ctx)}.csv", text, count)


def _registration_row(row: RowMapping) -> list[object]:
    values = dict(row)
    if values["erased_at"] is not None or values["anonymised_at"] is not None:
        values |= {"name": "", "company": "", "email": ""}  # what is left is not theirs
    values["state"] = values["state"].value
    return [values[name] for name in REGISTRATION_COLUMNS]


# --------------------------------------------------------------------- audit log


def audit_csv(ctx: AppContext, who: audit.Who, where: audit.AuditFilter) -> CsvFile:
    """The audit events the page's filters keep, newest first. Recorded in the audit log."""
    with ctx.db.read() as session:
        text, count = csv_text(
            AUDIT_COLUMNS,
            (
                [getattr(event, name) for name in AUDIT_COLUMNS]
                for event in session.scalars(audit.event_query(where))
            ),
        )
    filters = {
        "action": where.action.value if where.action else None,
        "outcome": where.outcome.value if where.outcome else None,
        "actor": where.actor,
        "from": where.since,
        "to": where.until,
    }
    audit.record(
        ctx,
        who,
        audit.Action.export_audit,
        detail=f"{count} row(s); filters: {_described(filters)}",
    )
    return CsvFile(f"audit-{_stamp(ctx)}.csv", text, count)
