"""The cap on live registrations per client address (``registration.live_per_address``):
refused with ``address_limit_reached`` (409) while the address holds that many, open again as
soon as one ends; other addresses unaffected; exact under parallel requests (SQLite and
PostgreSQL, whichever this run uses)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.servers import serve
from wod.context import AppContext
from wod.db.models import Registration
from wod.domain.clock import FakeClock
from wod.domain.states import RegistrationState
from wod.errors import AddressLimitReached, WorkshopFull
from wod.scheduler.loop import run_pass
from wod.services.registrations import RegistrationRequest, register
from wod.web.app import create_app

HOME, OTHER = "198.51.100.7", "203.0.113.50"


def ask(n: int, workshop: str = "WKSHP-Python101") -> RegistrationRequest:
    return RegistrationRequest(workshop, f"p{n}@example.org", f"Person {n}", "Crowd", True)


def test_an_address_holds_at_most_the_cap_until_one_ends(
    ctx: AppContext, token: str, clock: FakeClock
) -> None:
    ctx.settings.registration.live_per_address = 3
    first = register(ctx, ask(0), client=HOME)
    clock.advance(timedelta(minutes=6))
    register(ctx, ask(1), client=HOME)
    register(ctx, ask(2, "WKSHP-Shell101"), client=HOME)  # every workshop counts
    with pytest.raises(AddressLimitReached) as refused:
        register(ctx, ask(3), client=HOME)
    assert refused.value.limit == 3 and refused.value.code == "address_limit_reached"
    assert "3 registrations running" in refused.value.message
    assert "as soon as one of them ends" in refused.value.message
    assert register(ctx, ask(4), client=OTHER).client_key != first.client_key
    assert register(ctx, ask(5)).client_key is None  # no address (a command): no cap
    # the first one never got its seat in time: it failed, the address may register again
    clock.advance(timedelta(minutes=5))
    run_pass(ctx)
    with ctx.db.read() as s:
        ended = s.get(Registration, first.id)
        assert ended is not None and ended.state is RegistrationState.failed
    register(ctx, ask(3), client=HOME)
    with pytest.raises(AddressLimitReached):
        register(ctx, ask(6), client=HOME)


def test_the_registration_keeps_a_keyed_hash_of_the_address(ctx: AppContext, token: str) -> None:
    made = register(ctx, ask(0), client=HOME)
    assert made.client_key is not None and HOME not in made.client_key
    assert len(made.client_key) == 64


def test_zero_means_no_cap(ctx: AppContext, token: str) -> None:
    ctx.settings.registration.live_per_address = 0
    for n in range(10):
        register(ctx, ask(n), client=HOME)
    register(ctx, ask(10, "WKSHP-Shell101"), client=HOME)  # more than the default cap


def test_a_full_workshop_says_full_before_the_cap(ctx: AppContext, token: str) -> None:
    ctx.settings.registration.live_per_address = 10
    for n in range(10):  # the sample workshop has 10 seats
        register(ctx, ask(n), client=HOME)
    with pytest.raises(WorkshopFull):
        register(ctx, ask(10), client=HOME)


def post(client: TestClient, n: int) -> Any:
    body = {**ask(n).__dict__, "accept_terms": True}
    body.pop("language")
    body.pop("time_zone")  # the form's field, not the api's
    return client.post("/api/v1/registrations", json=body)


def test_the_api_answers_409_with_the_limit(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    ctx.settings.registration.live_per_address = 2
    assert [post(client, n).status_code for n in range(2)] == [201, 201]
    refused = post(client, 2)
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    problem = refused.json()
    assert problem["code"] == "address_limit_reached"
    assert "2 registrations running" in problem["detail"] and "ends" in problem["detail"]


def test_the_form_says_why(client: TestClient, ctx: AppContext, token: str) -> None:
    ctx.settings.registration.live_per_address = 1
    page = client.get("/workshops/WKSHP-Python101")
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    data = {"name": "Ada", "company": "Engines", "accept_terms": "yes", "csrf_token": match[1]}
    path = "/workshops/WKSHP-Python101/register"
    assert client.post(path, data={**data, "email": "a@example.org"}).status_code == 200
    refused = client.post(path, data={**data, "email": "b@example.org"})
    assert refused.status_code == 409
    assert "1 registrations running" in refused.text


def test_parallel_registrations_from_one_address_stop_exactly_at_the_cap(
    ctx: AppContext, token: str
) -> None:
    ctx.settings.registration.live_per_address = 3
    parallel = 12
    barrier = threading.Barrier(parallel)

    def one(n: int) -> httpx.Response:
        workshop = ("WKSHP-Python101", "WKSHP-Shell101")[n % 2]
        body = {**ask(n, workshop).__dict__}
        body.pop("language")
        body.pop("time_zone")
        with httpx.Client(base_url=server.url, timeout=60) as http:
            barrier.wait()
            return http.post("/api/v1/registrations", json=body)

    with serve(create_app(ctx, background=False)) as server, ThreadPoolExecutor(parallel) as pool:
        answers = list(pool.map(one, range(parallel)))
    outcome = Counter((a.status_code, a.json().get("code")) for a in answers)
    assert outcome == {(201, None): 3, (409, "address_limit_reached"): 9}, outcome
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Registration)) == 3
