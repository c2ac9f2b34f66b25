"""The waiting list through the api and the portal: ``POST /api/v1/workshops/{slug}/waitlist``
answers clearly; a full workshop's page carries the "tell me when a seat is free" form, whose
POST needs its CSRF token; a claim link's page claims nothing on GET and claims on its POST;
and, against a real api server, 50 parallel claims of one link make exactly one registration,
and an offered seat is not sold to the public registrations racing for it — on SQLite and on
PostgreSQL (whichever this run uses)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.servers import serve
from wod.context import AppContext
from wod.db.models import Registration, WaitlistEntry, Workshop
from wod.domain.secrets import claim_token
from wod.domain.states import SEAT_HOLDING, WaitlistState
from wod.scheduler.loop import run_pass
from wod.services.registrations import RegistrationRequest, purge_registration, register
from wod.services.registrations.waitlist import join_waitlist
from wod.web.app import create_app

SLUG = "WKSHP-Python101"
PARALLEL = 50
BODY = {"email": "ada@example.org", "name": "Ada", "company": "Engines", "accept_terms": True}


def csrf_of(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found, page_text
    return found[1]


@pytest.fixture
def full(ctx: AppContext, token: str) -> Registration:
    """The Python workshop of capacity 1, taken: its one registration."""
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == SLUG))
        assert workshop is not None
        workshop.capacity = 1
    return register(ctx, RegistrationRequest(SLUG, "first@example.org", "First", "Co", True))


def offered_link(ctx: AppContext, full: Registration, email: str = "ada@example.org") -> str:
    """``email`` joins the list, the seat frees and is offered: the claim link's path."""
    join_waitlist(ctx, RegistrationRequest(SLUG, email, "Ada", "Engines", True))
    purge_registration(ctx, full.id)
    assert run_pass(ctx)["offered"] == 1
    with ctx.db.read() as s:
        nonce = s.scalar(select(WaitlistEntry.offer_nonce).where(WaitlistEntry.email == email))
    assert nonce
    return f"/waitlist/claim/{claim_token(ctx.settings.secret_key.get_secret_value(), nonce)}"


def holding(ctx: AppContext) -> list[str]:
    with ctx.db.read() as s:
        return sorted(
            s.scalars(select(Registration.email).where(Registration.state.in_(SEAT_HOLDING)))
        )


def test_the_api_joins_a_full_workshop_once(client: TestClient, full: Registration) -> None:
    url = f"/api/v1/workshops/{SLUG}/waitlist"
    joined = client.post(url, json=BODY)
    assert joined.status_code == 201, joined.text
    assert joined.json() == {
        "workshop": SLUG,
        "status": "waiting",
        "position": 1,
        "already": False,
    }
    again = client.post(url, json=BODY)
    assert again.status_code == 200 and again.json()["already"] is True


def test_the_api_refuses_clearly(client: TestClient, ctx: AppContext, token: str) -> None:
    url = f"/api/v1/workshops/{SLUG}/waitlist"
    free = client.post(url, json=BODY)
    assert free.status_code == 409 and free.json()["code"] == "seats_free"
    assert "register" in free.json()["detail"]
    unknown = client.post("/api/v1/workshops/WKSHP-Nothing/waitlist", json=BODY)
    assert unknown.status_code == 404 and unknown.json()["code"] == "workshop_not_found"
    bad = client.post(url, json=BODY | {"email": "nope", "extra": 1})
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"


def test_a_full_workshop_page_offers_the_waiting_list(
    client: TestClient, ctx: AppContext, full: Registration
) -> None:
    page = client.get(f"/workshops/{SLUG}")
    assert page.status_code == 200
    assert f'action="/workshops/{SLUG}/waitlist"' in page.text
    assert "Tell me when a seat is free" in page.text
    assert 'for="email"' in page.text  # the fields keep their labels
    token = csrf_of(page.text)
    form = {"email": "ada@example.org", "name": "Ada", "company": "Engines", "accept_terms": "yes"}
    refused = client.post(f"/workshops/{SLUG}/waitlist", data=form | {"csrf_token": "bad"})
    assert refused.status_code == 403
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(WaitlistEntry)) == 0
    done = client.post(f"/workshops/{SLUG}/waitlist", data=form | {"csrf_token": token})
    assert done.status_code == 200 and "number 1 in line" in done.text
    wrong = client.post(
        f"/workshops/{SLUG}/waitlist",
        data=form | {"email": "x", "csrf_token": csrf_of(client.get(f"/workshops/{SLUG}").text)},
    )
    assert wrong.status_code == 422 and 'aria-invalid="true"' in wrong.text


def test_a_workshop_with_free_seats_shows_the_registration_form(
    client: TestClient, token: str
) -> None:
    page = client.get(f"/workshops/{SLUG}")
    assert f'action="/workshops/{SLUG}/register"' in page.text
    assert "Tell me when a seat is free" not in page.text


def test_the_claim_page_claims_on_its_post_only(
    client: TestClient, ctx: AppContext, full: Registration
) -> None:
    link = offered_link(ctx, full)
    page = client.get(link)
    assert page.status_code == 200 and "Claim my seat" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert holding(ctx) == []  # reading claimed nothing
    assert client.post(link, data={"csrf_token": "bad"}).status_code == 403
    done = client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200 and "registered" in done.text
    assert holding(ctx) == ["ada@example.org"]
    twice = client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert twice.status_code == 410 and "only once" in twice.text
    assert client.get(link).status_code == 410
    assert client.get("/waitlist/claim/wodw_unknown").status_code == 404
    assert holding(ctx) == ["ada@example.org"]


def test_fifty_parallel_claims_of_one_link_make_one_registration(
    ctx: AppContext, full: Registration
) -> None:
    link = offered_link(ctx, full)
    barrier = threading.Barrier(PARALLEL)

    def claim(_n: int) -> httpx.Response:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            token = csrf_of(http.get(link).text)
            barrier.wait()
            return http.post(link, data={"csrf_token": token})

    with serve(create_app(ctx, background=False)) as server, ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(claim, range(PARALLEL)))

    outcome = Counter(a.status_code for a in answers)
    assert outcome == {200: 1, 410: PARALLEL - 1}, outcome
    assert all("only once" in a.text for a in answers if a.status_code == 410)
    assert holding(ctx) == ["ada@example.org"]
    with ctx.db.read() as s:
        assert s.scalar(select(WaitlistEntry.state)) is WaitlistState.claimed


def test_public_registrations_racing_a_claim_do_not_take_the_offered_seat(
    ctx: AppContext, full: Registration
) -> None:
    link = offered_link(ctx, full)
    barrier = threading.Barrier(PARALLEL)

    def one(n: int) -> tuple[str, int]:
        with httpx.Client(base_url=server.url, timeout=60) as http:
            if n == 0:
                token = csrf_of(http.get(link).text)
                barrier.wait()
                return "claim", http.post(link, data={"csrf_token": token}).status_code
            body = BODY | {"workshop": SLUG, "email": f"p{n}@example.org"}
            barrier.wait()
            return "public", http.post("/api/v1/registrations", json=body).status_code

    with serve(create_app(ctx, background=False)) as server, ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(one, range(PARALLEL)))

    assert Counter(answers) == {("claim", 200): 1, ("public", 409): PARALLEL - 1}
    assert holding(ctx) == ["ada@example.org"]
