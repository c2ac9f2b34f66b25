"""Builders of test data: workshop folders on disk, and a seeded database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text

from wod.content.check import check_content
from wod.context import AppContext
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location, rotate_token


def notebook(*cells: dict[str, Any], kernel: str = "python3") -> str:
    return json.dumps(
        {
            "cells": list(cells),
            "metadata": {
                "kernelspec": {"name": kernel, "display_name": kernel, "language": "python"}
            },
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


def code(source: str, cell_id: str, count: int | None = None) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "id": cell_id,
        "metadata": {},
        "source": source,
        "execution_count": count,
        "outputs": [],
    }


def markdown(source: str, cell_id: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def wod_yml(name: str, seats: tuple[int, int], **extra: Any) -> str:
    fields: dict[str, Any] = {
        "name": name,
        "description": f"About {name}.",
        "category": ["Test"],
        "duration": 2,
        "workshopImg": "",
        "badgeImg": "",
        "presenter": "Ada",
        "role": "Tester",
        "avatar": "",
        "replayLink": "",
        "replayId": 1,
        "active": True,
        "capacity": seats[1] - seats[0] + 1,
        "priority": 1,
        "range": list(seats),
        "reset": False,
        "ldap": False,
        "varpass": False,
        "compile": False,
        "beta": False,
    }
    fields.update(extra)
    return "%YAML 1.1\n---\n" + "".join(f"{k}: {json.dumps(v)}\n" for k, v in fields.items())


def make_workshop(
    layer: Path, slug: str, seats: tuple[int, int], *, readme: str | None = None, **extra: Any
) -> Path:
    """A minimal valid workshop folder."""
    folder = layer / slug
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "wod.yml").write_text(wod_yml(slug.removeprefix("WKSHP-"), seats, **extra))
    (folder / "0-ReadMeFirst.ipynb").write_text(
        readme
        or notebook(
            markdown("Welcome student{{ STDID }} to {{ WORKSHOP }}", "m1"),
            code("seat = {{ STDID }}", "c1"),
        )
    )
    (folder / "README.md").write_text(f"# {slug}\n")
    (folder / "LICENSE.md").write_text("CC BY-SA 4.0\n")
    return folder


def seed(
    ctx: AppContext,
    *,
    seats: tuple[int, int] = (1, 20),
    location: str = "local",
    hub_url: str = "http://127.0.0.1:9",
    import_content: bool = True,
) -> str:
    """Import the context's content and create a location; returns the location's token."""
    now = ctx.clock.now()
    with ctx.db.write() as session:
        if import_content:
            report = check_content(ctx.content, ctx.settings)
            assert not report.errors, report.errors
            apply_import(session, plan_import(session, report), now)
        loc = ensure_location(
            session,
            name=location,
            hub_public_url=hub_url,
            hub_api_url=hub_url + "/hub/api",
            seat_min=seats[0],
            seat_max=seats[1],
            now=now,
        )
        return rotate_token(session, loc)


def insert_old_workshop(conn: Connection) -> None:
    """Workshop 1, ``WKSHP-Old``, as a row of the schema of migration 0015 (for the migration
    tests that upgrade and downgrade with rows in place)."""
    conn.execute(
        text(
            "INSERT INTO workshop (id, slug, name, description, categories, duration_hours,"
            " presenter, role, avatar, replay_link, workshop_img, badge_img, active,"
            " capacity, priority, seat_min, seat_max, reset, ldap, varpass, compile, beta,"
            " monoappliance, multiappliance, alternate_locations, layer, created_at,"
            " updated_at) VALUES (1, 'WKSHP-Old', 'Old', '', '[]', 2, '', '', '', '', '', '',"
            " 1, 5, 0, 1, 5, 0, 0, 0, '[]', 0, 0, 0, '[]', '', :day, :day)"
        ),
        {"day": "2026-01-01 00:00:00"},
    )
