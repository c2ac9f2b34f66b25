"""The import plan's digest: equal digests, equal changes."""

from __future__ import annotations

from wod.services.catalogue.importer import Action, Change, ImportPlan, WorkshopPlan, plan_digest


def test_the_plan_digest_changes_with_what_would_be_written() -> None:
    def plan(new: object) -> ImportPlan:
        return ImportPlan(
            [WorkshopPlan("WKSHP-A", Action.update, [Change("capacity", 10, new)])], []
        )

    assert plan_digest(plan(12)) == plan_digest(plan(12))
    assert plan_digest(plan(12)) != plan_digest(plan(13))
    added = ImportPlan([WorkshopPlan("WKSHP-B", Action.add, [], {"capacity": 5})], [])
    other = ImportPlan([WorkshopPlan("WKSHP-B", Action.add, [], {"capacity": 6})], [])
    assert plan_digest(added) != plan_digest(other)
