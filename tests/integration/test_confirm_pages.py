"""The confirm-by-email step (``registration.confirm_email``) through the api and the portal:
``POST /api/v1/registrations`` and the form answer as before with the state ``unconfirmed``;
the link's page confirms nothing on GET (mail scanners open links), confirms on a POST with
its CSRF token, and says clearly why a link cannot confirm (404 unknown, 410 expired or used,
409 full) — never a 500."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.context import AppContext
from wod.db.models import Job, Registration, Workshop
from wod.domain.clock import FakeClock
from wod.domain.secrets import confirm_token
from wod.domain.states import RegistrationState

BODY = {
    "workshop": "WKSHP-Python101",
    "email": "ada@example.org",
    "name": "Ada",
    "company": "Engines",
    "accept_terms": True,
}


@pytest.fixture
def confirming(ctx: AppContext, token: str) -> AppContext:
    ctx.settings.registration.confirm_email = True
    return ctx


def only(ctx: AppContext) -> Registration:
    with ctx.db.read() as s:
        return s.scalars(select(Registration)).one()


def link_of(ctx: AppContext, registration: Registration) -> str:
    assert registration.confirm_nonce
    token = confirm_token(ctx.settings.secret_key.get_secret_value(), registration.confirm_nonce)
    return f"/confirm/{token}"


def jobs(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return len(s.scalars(select(Job)).all())


def csrf_of(page_text: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page_text)
    assert found
    return found[1]


def test_off_the_api_answers_queued_as_before(client: TestClient, token: str) -> None:
    answer = client.post("/api/v1/registrations", json=BODY)
    assert answer.status_code == 201 and answer.json()["status"] == "queued"


def test_the_api_answers_201_unconfirmed_and_again_the_same(
    client: TestClient, confirming: AppContext
) -> None:
    first = client.post("/api/v1/registrations", json=BODY)
    assert first.status_code == 201, first.text
    assert first.json()["status"] == "unconfirmed"
    again = client.post("/api/v1/registrations", json=BODY)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert jobs(confirming) == 0


def test_the_form_asks_to_check_the_mailbox(client: TestClient, confirming: AppContext) -> None:
    page = client.get("/workshops/WKSHP-Python101")
    data = {
        "email": "ada@example.org",
        "name": "Ada",
        "company": "Engines",
        "accept_terms": "yes",
        "csrf_token": csrf_of(page.text),
    }
    answer = client.post("/workshops/WKSHP-Python101/register", data=data)
    assert answer.status_code == 200, answer.text
    assert "Check your mailbox" in answer.text and "no seat is held" in answer.text
    assert only(confirming).state is RegistrationState.unconfirmed


def test_get_confirms_nothing_and_post_confirms(client: TestClient, confirming: AppContext) -> None:
    client.post("/api/v1/registrations", json=BODY)
    link = link_of(confirming, only(confirming))
    for _ in range(3):  # a mail scanner, a preview, the participant
        page = client.get(link)
        assert page.status_code == 200
        assert "Confirm and get my seat" in page.text and "Python 101" in page.text
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "no-referrer"
    assert only(confirming).state is RegistrationState.unconfirmed and jobs(confirming) == 0
    done = client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert done.status_code == 200, done.text
    assert "You're registered!" in done.text
    assert only(confirming).state is RegistrationState.queued and jobs(confirming) == 1
    used = client.get(link)  # the link again: used
    assert used.status_code == 410 and "works only once" in used.text
    twice = client.post(link, data={"csrf_token": csrf_of(page.text)})
    assert twice.status_code == 410 and jobs(confirming) == 1


def test_the_post_needs_its_csrf_token(client: TestClient, confirming: AppContext) -> None:
    client.post("/api/v1/registrations", json=BODY)
    link = link_of(confirming, only(confirming))
    token = csrf_of(client.get(link).text)
    for bad in ("", "x" * 43):
        refused = client.post(link, data={"csrf_token": bad})
        assert refused.status_code == 403 and "Your form expired" in refused.text
        assert "Confirm and get my seat" in refused.text  # the button again
    client.cookies.clear()  # another site's form: the token without the cookie
    assert client.post(link, data={"csrf_token": token}).status_code == 403
    assert only(confirming).state is RegistrationState.unconfirmed and jobs(confirming) == 0


def test_unknown_links_are_404_pages(client: TestClient, confirming: AppContext) -> None:
    token = csrf_of(client.get("/workshops/WKSHP-Python101").text)
    for path in ("/confirm/wodc_nothing", "/confirm/" + "x" * 300):
        page = client.get(path)
        assert page.status_code == 404 and "not valid" in page.text
        assert client.post(path, data={"csrf_token": token}).status_code == 404


def test_an_expired_link_is_a_410_page(
    client: TestClient, confirming: AppContext, clock: FakeClock
) -> None:
    client.post("/api/v1/registrations", json=BODY)
    link = link_of(confirming, only(confirming))
    token = csrf_of(client.get(link).text)
    clock.advance(timedelta(minutes=30))
    page = client.get(link)
    assert page.status_code == 410 and "has expired" in page.text
    assert client.post(link, data={"csrf_token": token}).status_code == 410
    assert jobs(confirming) == 0


def test_full_when_confirmed_says_so(client: TestClient, confirming: AppContext) -> None:
    with confirming.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Python101"))
        assert workshop is not None
        workshop.capacity = 1
    client.post("/api/v1/registrations", json=BODY)
    client.post("/api/v1/registrations", json={**BODY, "email": "bob@example.org"})
    with confirming.db.read() as s:
        ada, bob = s.scalars(select(Registration).order_by(Registration.id)).all()
    token = csrf_of(client.get(link_of(confirming, ada)).text)
    assert client.post(link_of(confirming, ada), data={"csrf_token": token}).status_code == 200
    full = client.post(link_of(confirming, bob), data={"csrf_token": token})
    assert full.status_code == 409
    assert "Every seat of this workshop was taken" in full.text
    assert "Linux shell 101" in full.text  # another workshop with seats
    later = client.get(link_of(confirming, bob))
    assert later.status_code == 410 and "every seat was taken" in later.text


def test_pages_in_french(client: TestClient, confirming: AppContext) -> None:
    client.post("/api/v1/registrations", json=BODY)
    link = link_of(confirming, only(confirming))
    page = client.get(link + "?lang=fr")
    assert page.status_code == 200 and "Confirmer et obtenir ma place" in page.text


def test_the_console_lists_an_unconfirmed_registration(
    client: TestClient, confirming: AppContext
) -> None:
    from wod.domain.roles import Role
    from wod.services.admin import users

    client.post("/api/v1/registrations", json=BODY)
    users.create_user(confirming, "alice", "correct horse battery", Role.admin)
    client.get("/admin/login")
    login = {
        "username": "alice",
        "password": "correct horse battery",
        "next": "/admin",
        "csrf_token": client.cookies["wod_csrf"],
    }
    assert client.post("/admin/login", data=login, follow_redirects=False).status_code == 303
    page = client.get("/admin/registrations?state=unconfirmed")
    assert page.status_code == 200, page.text
    assert "ada@example.org" in page.text and "no seat" in page.text


def test_a_running_workshop_or_a_closed_one_is_said_plainly(
    client: TestClient, confirming: AppContext
) -> None:
    client.post("/api/v1/registrations", json={**BODY, "workshop": "WKSHP-Shell101"})
    client.post("/api/v1/registrations", json=BODY)
    with confirming.db.read() as s:
        shell, python = s.scalars(select(Registration).order_by(Registration.id)).all()
    token = csrf_of(client.get(link_of(confirming, shell)).text)
    assert client.post(link_of(confirming, shell), data={"csrf_token": token}).status_code == 200
    busy = client.post(link_of(confirming, python), data={"csrf_token": token})
    assert busy.status_code == 409 and "already has a workshop running" in busy.text
    with confirming.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Python101"))
        assert workshop is not None
        workshop.active = False
    closed = client.post(link_of(confirming, python), data={"csrf_token": token})
    assert closed.status_code == 404 and "no longer open" in closed.text
    with confirming.db.read() as s:  # neither refusal ended it
        again = s.get(Registration, python.id)
        assert again is not None and again.state is RegistrationState.unconfirmed
