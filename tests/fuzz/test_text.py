"""Text PostgreSQL cannot hold, found by fuzzing the api on PostgreSQL: a NUL character in a
name or an identifier the api looks up or keeps made the query fail (500). It is refused at
the edge like any other invalid input, on SQLite as on PostgreSQL; a job's log or error,
which a program writes, keeps its NULs as U+FFFD rather than lose the report."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.fuzz.conftest import Target
from wod.context import AppContext
from wod.db.models import Job

GOOD = {
    "workshop": "WKSHP-Python101",
    "email": "grace@example.org",
    "name": "Grace Hopper",
    "company": "Navy",
    "accept_terms": True,
}
PURGE = {"verb": "PURGE", "seat": 5}
EXTERNAL = "/api/v1/backend/jobs/external"
REFUSED = [
    ("anonymous", "POST", "/api/v1/registrations", {**GOOD, "workshop": "WKSHP-\x00"}, "workshop"),
    ("anonymous", "GET", "/api/v1/workshops/WKSHP-%00", None, "slug"),
    ("admin", "POST", "/api/v1/seats/lo%00cal/1/purge", None, "location"),
    ("location", "POST", EXTERNAL, {**PURGE, "workshop": "W\x00"}, "workshop"),
    ("location", "POST", EXTERNAL, {**PURGE, "source": "m\x00"}, "source"),
    ("location", "POST", "/api/v1/backend/heartbeat", {"boot": "b\x00"}, "boot"),
    ("location", "POST", "/api/v1/backend/heartbeat", {"version": "1.0\x00"}, "version"),
    ("location", "POST", "/api/v1/backend/heartbeat", {"revisions": ["a" * 65]}, "revisions.0"),
]


def call(target: Target, caller: str, method: str, path: str, body: Any) -> httpx.Response:
    token = target.tokens.get(caller)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with httpx.Client(base_url=target.url) as client:
        return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("caller", "method", "path", "body", "field"), REFUSED)
def test_a_nul_in_a_name_is_invalid_input(
    target: Target, caller: str, method: str, path: str, body: Any, field: str
) -> None:
    answer = call(target, caller, method, path, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == "invalid_input"
    assert field in {e["field"] for e in answer.json()["errors"]}


def test_a_log_with_nul_is_kept_with_replacement_characters(
    target: Target, ctx: AppContext
) -> None:
    seat = 7
    order = {"verb": "PURGE", "seat": seat, "source": "mail"}
    started = call(target, "location", "POST", "/api/v1/backend/jobs/external", order)
    assert started.status_code == 201, started.text
    job = started.json()["id"]
    report = {"ok": False, "log": "binary\x00output", "error": "exit\x00 1"}
    answer = call(target, "location", "POST", f"/api/v1/backend/jobs/{job}/report", report)
    assert answer.status_code == 200, answer.text
    with ctx.db.read() as session:
        row = session.scalars(select(Job).where(Job.id == job)).one()
        assert "binary\ufffdoutput" in row.log and "\x00" not in row.log
        assert row.error is not None and "\x00" not in row.error
