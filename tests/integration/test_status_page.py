"""The live status page after registering: the form answers with a redirect to it (Post/
Redirect/Get), it waits (refreshing itself without JavaScript, its JSON state for the
script), then offers the start button; reloading it, or sending the form again from the same
browser, never registers again nor sends an email (tests/e2e/test_start_browser.py follows it
in Chromium)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from tests.integration.test_portal import csrf, form, registrations
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.domain.secrets import manage_token
from wod.portal.workshop import REGISTERED_COOKIE

REGISTER = "/workshops/WKSHP-Python101/register"


def emails(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(Email)) or 0


def register(client: TestClient) -> str:
    """Send the form; the status page it redirects to."""
    answer = client.post(REGISTER, data=form(csrf(client)), follow_redirects=False)
    assert answer.status_code == 303, answer.text
    location = str(answer.headers["location"])
    assert re.fullmatch(r"/status/wodm_[\w-]+", location), location
    return location


def test_the_form_redirects_to_a_status_page_that_waits_then_offers_start(
    client: TestClient, ctx: AppContext, agent: Agent
) -> None:
    status = register(client)
    token = status.removeprefix("/status/")
    assert client.cookies.get(REGISTERED_COOKIE) == token
    waiting = client.get(status)
    assert waiting.status_code == 200
    assert waiting.headers["cache-control"] == "no-store"
    assert waiting.headers["referrer-policy"] == "no-referrer"
    assert '<noscript><meta http-equiv="refresh" content="3"></noscript>' in waiting.text
    assert f'href="/status/{token}" class="reload"' in waiting.text
    assert "ada@example.org" in waiting.text and "/start" not in waiting.text
    assert client.get(f"{status}/state").json() == {
        "state": "queued",
        "waiting": True,
        "ready": False,
    }
    assert agent.run_once() is True  # CREATE: the seat is ready
    ready = client.get(status)
    assert "http-equiv" not in ready.text and "Your seat is ready" in ready.text
    assert f'id="start" href="/manage/{token}/start"' in ready.text
    assert "student1" in ready.text
    assert client.get(f"{status}/state").json() == {
        "state": "active",
        "waiting": False,
        "ready": True,
    }
    start = client.get(f"/manage/{token}/start", follow_redirects=False)
    assert "/hub/wod-start/student1?token=" in start.headers["location"]


def test_reloading_or_sending_the_form_again_never_registers_again(
    client: TestClient, ctx: AppContext, agent: Agent
) -> None:
    status = register(client)
    sent = emails(ctx)
    for _ in range(3):
        assert client.get(status).status_code == 200
    again = client.post(REGISTER, data=form(csrf(client)), follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == status
    assert agent.run_once() is True
    again = client.post(REGISTER, data=form(csrf(client)), follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == status  # running too
    assert registrations(ctx) == 1
    with ctx.db.read() as s:
        kinds = s.scalars(select(Email.kind)).all()
    assert "already_registered" not in kinds and emails(ctx) == sent + 1  # + credentials
    other = TestClient(client.app)  # another browser: the address is told, as before
    refused = other.post(REGISTER, data=form(csrf(other)), follow_redirects=False)
    assert refused.status_code == 409 and registrations(ctx) == 1


def test_a_kept_token_of_another_address_or_workshop_registers_as_usual(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    first = register(client)
    answer = client.post(
        REGISTER, data=form(csrf(client), email="grace@example.org"), follow_redirects=False
    )
    assert answer.status_code == 303 and answer.headers["location"] != first
    assert registrations(ctx) == 2
    shell = "/workshops/WKSHP-Shell101"
    refused = client.post(
        f"{shell}/register", data=form(csrf(client, shell)), follow_redirects=False
    )
    assert refused.status_code == 409  # Ada already runs a workshop: one at a time


def test_an_unconfirmed_registration_has_no_status_page(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    ctx.settings.registration.confirm_email = True
    answer = client.post(REGISTER, data=form(csrf(client)), follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/workshops/WKSHP-Python101/registered"
    assert REGISTERED_COOKIE not in client.cookies
    page = client.get(answer.headers["location"])
    assert page.status_code == 200 and "Check your mailbox" in page.text

    with ctx.db.read() as s:
        nonce = s.scalars(select(Registration)).one().manage_nonce
    secret = manage_token(ctx.settings.secret_key.get_secret_value(), nonce)
    assert client.get(f"/status/{secret}").status_code == 404  # not even once confirmed


def test_an_unknown_token_has_no_status_page(client: TestClient, token: str) -> None:
    assert client.get("/status/wodm_nope").status_code == 404
    assert client.get("/status/wodm_nope/state").status_code == 404
