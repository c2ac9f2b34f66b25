"""JSON logs (``log.format = "json"``) and the request id: the api takes the caller's
``X-Request-ID`` or makes one, logs the request's line with it, keeps it with the job the
registration queues, and the agent logs its run of that job with the same id."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tests.servers import ApiServer
from wod import logs
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Job

NOISY = ("httpx", "httpcore", "mail.log", "alembic.runtime.migration")


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The process's logging as ``wod api`` sets it with ``log.format = "json"``, into a
    buffer; put back as it was afterwards."""
    root = logging.getLogger()
    kept = root.handlers[:], root.level, [logging.getLogger(n).level for n in NOISY]
    buffer = io.StringIO()
    logs.configure("INFO", "json", stream=buffer)
    yield buffer
    root.handlers[:], root.level = kept[0], kept[1]
    for name, level in zip(NOISY, kept[2], strict=True):
        logging.getLogger(name).setLevel(level)


def records(buffer: io.StringIO) -> list[dict[str, Any]]:
    """Every line logged, each parsed as JSON (a line that is not JSON fails the test)."""
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def person(n: int) -> dict[str, object]:
    return {
        "workshop": "WKSHP-Python101",
        "email": f"person{n}@example.org",
        "name": f"Person {n}",
        "company": "Acme",
        "accept_terms": True,
    }


def test_one_request_id_from_the_registration_to_the_agents_run_of_its_job(
    ctx: AppContext, server: ApiServer, agent: Agent, json_log: io.StringIO
) -> None:
    answer = httpx.post(f"{server.url}/api/v1/registrations", json=person(1), timeout=30)
    assert answer.status_code == 201
    request_id = answer.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    with ctx.db.read() as s:
        job = s.scalars(select(Job)).one()
    assert job.request_id == request_id

    assert agent.run_once() is True  # the CREATE, in this thread as a worker would
    logging.getLogger("wod.test").info("outside any request")
    lines = records(json_log)
    api = [r for r in lines if r["logger"] == "wod.request" and r["request_id"] == request_id]
    assert len(api) == 1
    line = api[0]
    assert line["route"] == "/api/v1/registrations" and line["status"] == 201
    assert line["method"] == "POST" and line["level"] == "INFO"
    assert line["message"].startswith("POST /api/v1/registrations 201 ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", line["time"])
    ran = [r for r in lines if r["logger"].startswith("wod.backend") and r["request_id"]]
    assert ran, "the agent logged nothing about the job"
    assert {r["request_id"] for r in ran} == {request_id}
    assert any(r["message"].startswith("CREATE student1 (job ") for r in ran)
    outside = [r for r in lines if r["message"] == "outside any request"]
    assert outside[0]["request_id"] is None and outside[0]["logger"] == "wod.test"
    assert all("person1@example.org" not in r["message"] for r in lines)


def test_a_callers_request_id_is_kept_and_a_bad_one_replaced(
    ctx: AppContext, server: ApiServer, json_log: io.StringIO
) -> None:
    url = f"{server.url}/api/v1/registrations"
    given = httpx.post(url, json=person(2), headers={"X-Request-ID": "portal-7f3a.1"}, timeout=30)
    assert given.status_code == 201 and given.headers["x-request-id"] == "portal-7f3a.1"
    bad = httpx.post(url, json=person(3), headers={"X-Request-ID": 'x" y\\z'}, timeout=30)
    assert bad.status_code == 201
    made = bad.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", made)
    with ctx.db.read() as s:
        assert list(s.scalars(select(Job.request_id).order_by(Job.id))) == ["portal-7f3a.1", made]
    refused = httpx.get(f"{server.url}/api/v1/registrations/1", timeout=30)
    assert refused.status_code == 401
    lines = records(json_log)
    routes = [
        (r["route"], r["status"], r["request_id"]) for r in lines if r["logger"] == "wod.request"
    ]
    assert routes == [
        ("/api/v1/registrations", 201, "portal-7f3a.1"),
        ("/api/v1/registrations", 201, made),
        ("/api/v1/registrations/{registration_id}", 401, refused.headers["x-request-id"]),
    ]


def test_the_default_format_is_the_readable_line(json_log: io.StringIO) -> None:
    buffer = io.StringIO()
    logs.configure("INFO", stream=buffer)
    with logs.bound_request_id("abc-1"):
        logging.getLogger("wod.test").warning("a %s line", "plain")
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING wod.test: a plain line\n", buffer.getvalue())
    logs.configure("INFO", "json", stream=buffer)
    with logs.bound_request_id("abc-1"):
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("wod.test").exception("it broke")
    last = json.loads(buffer.getvalue().splitlines()[-1])
    assert last["request_id"] == "abc-1" and last["level"] == "ERROR"
    assert "ValueError: boom" in last["exception"]
