"""Importing workshops from content into the database: a plan (the diff), then its application.

The plan never deletes: a workshop gone from content is deactivated, so its registrations and
history stay. Workshops with errors are left as they are in the database and reported.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from wod.content.check import CheckedWorkshop, CheckReport, check_content
from wod.content.wodyml import WodYml
from wod.db.models import Location, Workshop
from wod.errors import ContentError, ContentProblem, InvalidState
from wod.notify import Topic, note
from wod.services.catalogue.read import serving_locations

if TYPE_CHECKING:
    from wod.context import AppContext


class Action(StrEnum):
    add = "add"
    update = "update"
    deactivate = "deactivate"
    unchanged = "unchanged"
    skipped = "skipped"  # has errors: the database keeps what it had


#: The actions that write to the database.
CHANGING = frozenset({Action.add, Action.update, Action.deactivate})


@dataclass(frozen=True)
class Change:
    field: str
    old: Any
    new: Any


@dataclass
class WorkshopPlan:
    slug: str
    action: Action
    changes: list[Change] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportPlan:
    workshops: list[WorkshopPlan]
    problems: list[ContentProblem]

    @property
    def has_changes(self) -> bool:
        return any(w.action in CHANGING for w in self.workshops)


def workshop_values(spec: WodYml, checked: CheckedWorkshop) -> dict[str, Any]:
    """The database columns of a workshop from its ``wod.yml``."""
    seat_min, seat_max = spec.seat_range or (0, 0)  # no range: no seat number matches
    return {
        "name": spec.name,
        "description": spec.description,
        "categories": spec.categories,
        "duration_hours": spec.duration,
        "presenter": spec.presenter,
        "role": spec.role,
        "avatar": spec.avatar,
        "replay_link": spec.replay_link,
        "replay_id": spec.replay_id,
        "workshop_img": spec.workshop_img,
        "badge_img": spec.badge_img,
        "active": spec.active,
        "capacity": spec.capacity if spec.capacity is not None else spec.seats,
        "priority": spec.priority,
        "seat_min": seat_min,
        "seat_max": seat_max,
        "reset": spec.reset,
        "ldap": spec.ldap,
        "varpass": spec.varpass,
        "compile": spec.compile,
        "beta": spec.beta,
        "monoappliance": spec.monoappliance,
        "multiappliance": spec.multiappliance,
        "location": spec.location,
        "alternate_locations": spec.alternate_locations,
        "extendable": spec.extendable,
        "warm": spec.warm,
        "idle_timeout": spec.idle_timeout,
        "learn": spec.learn,
        "prerequisites": spec.prerequisites,
        "outline": checked.outline,
        "layer": str(checked.source.layer.path),
    }


def plan_import(session: Session, report: CheckReport) -> ImportPlan:
    """Compare content with the database; refused when a content folder is missing (its
    workshops would all look removed)."""
    missing = [p for p in report.problems if p.field == "layer"]
    if missing:
        raise ContentError(missing, "a content folder is missing: nothing imported")
    existing = {w.slug: w for w in session.scalars(select(Workshop))}
    locations = list(session.scalars(select(Location)))
    plans: list[WorkshopPlan] = []
    problems = list(report.problems)
    for slug, checked in report.workshops.items():
        row = existing.get(slug)
        if not checked.ok or checked.spec is None:
            plans.append(WorkshopPlan(slug, Action.skipped))
            continue
        values = workshop_values(checked.spec, checked)
        problems.extend(_location_problems(checked, values, locations))
        if row is None:
            plans.append(WorkshopPlan(slug, Action.add, [], values))
            continue
        changes = [Change(k, getattr(row, k), v) for k, v in values.items() if getattr(row, k) != v]
        plans.append(
            WorkshopPlan(slug, Action.update if changes else Action.unchanged, changes, values)
        )
    for slug, row in existing.items():
        if slug not in report.workshops and row.active:
            plans.append(WorkshopPlan(slug, Action.deactivate, [Change("active", True, False)]))
    return ImportPlan(sorted(plans, key=lambda p: p.slug), problems)


def _location_problems(
    checked: CheckedWorkshop, values: dict[str, Any], locations: list[Location]
) -> list[ContentProblem]:
    file = str(checked.source.folder / "wod.yml")
    probe = Workshop(location=values["location"], alternate_locations=values["alternate_locations"])
    names = {loc.name for loc in locations}
    problems = [
        ContentProblem(file, "location", f"no location named {name!r}", warning=True)
        for name in [values["location"], *values["alternate_locations"]]
        if name is not None and name not in names
    ]
    for loc in serving_locations(probe, locations):
        if values["seat_min"] < loc.seat_min or values["seat_max"] > loc.seat_max:
            problems.append(
                ContentProblem(
                    file,
                    "range",
                    f"[{values['seat_min']}, {values['seat_max']}] leaves the seats "
                    f"{loc.seat_min}-{loc.seat_max} of location {loc.name!r}",
                    warning=True,
                )
            )
    return problems


def apply_import(session: Session, plan: ImportPlan, now: datetime) -> None:
    """Write the plan's additions, updates and deactivations."""
    existing = {w.slug: w for w in session.scalars(select(Workshop))}
    for item in plan.workshops:
        if item.action is Action.add:
            session.add(Workshop(slug=item.slug, created_at=now, updated_at=now, **item.values))
        elif item.action is Action.update:
            row = existing[item.slug]
            for change in item.changes:
                setattr(row, change.field, change.new)
            row.updated_at = now
        elif item.action is Action.deactivate:
            existing[item.slug].active = False
            existing[item.slug].updated_at = now
    session.flush()
    if plan.has_changes:
        note(session, Topic.seats)


def plan_digest(plan: ImportPlan) -> str:
    """A fingerprint of exactly what a plan would write: equal digests, equal changes."""
    content = [
        {
            "slug": item.slug,
            "action": item.action.value,
            "changes": [[c.field, c.old, c.new] for c in item.changes],
            "values": item.values if item.action is Action.add else {},
        }
        for item in plan.workshops
    ]
    text = json.dumps(content, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def preview_import(ctx: AppContext) -> tuple[ImportPlan, str]:
    """What importing the content layers would change now, and the plan's digest (for
    :func:`apply_previewed`)."""
    report = check_content(ctx.content, ctx.settings)
    with ctx.db.read() as session:
        plan = plan_import(session, report)
    return plan, plan_digest(plan)


def apply_previewed(ctx: AppContext, digest: str) -> ImportPlan:
    """Apply the plan an admin was shown, identified by its digest; refused when the content
    or the database changed since, so that what is written is exactly what was read."""
    report = check_content(ctx.content, ctx.settings)  # slow: before the write transaction
    with ctx.db.write() as session:
        plan = plan_import(session, report)
        if plan_digest(plan) != digest:
            raise InvalidState(
                "The content or the database changed since the plan was shown: "
                "nothing was imported; review the new plan."
            )
        if not plan.has_changes:
            raise InvalidState("Nothing to import: the database already matches the content.")
        apply_import(session, plan, ctx.clock.now())
        return plan


@dataclass(frozen=True)
class ImportOutcome:
    """What ``wod workshops import`` found, planned and (with ``apply``) wrote."""

    report: CheckReport
    plan: ImportPlan
    applied: bool


def import_content(ctx: AppContext, *, apply: bool) -> ImportOutcome:
    """Check the content layers and plan the import; with ``apply``, write the plan when it
    changes something."""
    report = check_content(ctx.content, ctx.settings)  # slow: before the write transaction
    with ctx.db.write() as session:
        plan = plan_import(session, report)
        applied = apply and plan.has_changes
        if applied:
            apply_import(session, plan, ctx.clock.now())
    return ImportOutcome(report, plan, applied)
