"""The portal's catalogue page and registration form (server-rendered, CSRF-protected)."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Registration


def csrf(client: TestClient, path: str = "/workshops/WKSHP-Python101") -> str:
    page = client.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match[1]


def form(token: str, **change: str) -> dict[str, str]:
    return {
        "email": "ada@example.org",
        "name": "Ada",
        "company": "Engines",
        "accept_terms": "yes",
        "csrf_token": token,
        **change,
    }


def registrations(ctx: AppContext) -> int:
    with ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(Registration)) or 0


def test_catalogue_shows_the_workshops_and_seats(client: TestClient, token: str) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "Python 101" in page.text and "Linux shell 101" in page.text
    assert "10 seats left" in page.text


def test_register_through_the_form(client: TestClient, ctx: AppContext, token: str) -> None:
    answer = client.post("/workshops/WKSHP-Python101/register", data=form(csrf(client)))
    assert answer.status_code == 200, answer.text
    assert "ada@example.org" in answer.text and "registered" in answer.text
    assert registrations(ctx) == 1


def test_form_without_or_with_a_wrong_csrf_token_is_refused(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    csrf(client)
    assert client.post("/workshops/WKSHP-Python101/register", data=form("")).status_code == 403
    wrong = client.post("/workshops/WKSHP-Python101/register", data=form("x" * 43))
    assert wrong.status_code == 403
    fresh = TestClient(client.app)
    assert fresh.post("/workshops/WKSHP-Python101/register", data=form("x" * 43)).status_code == 403
    assert registrations(ctx) == 0


def test_errors_are_shown_next_to_their_field_and_values_kept(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    answer = client.post(
        "/workshops/WKSHP-Python101/register",
        data=form(csrf(client), email="not-an-email", company="Keep Me Inc"),
    )
    assert answer.status_code == 422
    assert 'id="email-error"' in answer.text and 'aria-invalid="true"' in answer.text
    assert 'value="Keep Me Inc"' in answer.text and 'value="not-an-email"' in answer.text
    terms = client.post(
        "/workshops/WKSHP-Python101/register", data={**form(csrf(client)), "accept_terms": ""}
    )
    assert terms.status_code == 422 and 'id="accept_terms-error"' in terms.text
    assert registrations(ctx) == 0


def test_unknown_workshop_page(client: TestClient, token: str) -> None:
    assert client.get("/workshops/WKSHP-Nope").status_code == 404


def test_manage_page_extend_and_end(
    client: TestClient,
    ctx: AppContext,
    agent: Agent,
    token: str,
) -> None:
    from wod.domain.secrets import manage_token

    client.post("/workshops/WKSHP-Python101/register", data=form(csrf(client)))
    agent.run_once()
    with ctx.db.read() as s:
        reg = s.scalars(select(Registration)).one()
    secret = manage_token(ctx.settings.secret_key.get_secret_value(), reg.manage_nonce)
    page = client.get(f"/manage/{secret}")
    assert page.status_code == 200
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Running" in page.text and "Start the workshop" in page.text
    assert "Extend my session" in page.text and "student1" in page.text
    token_field = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token_field
    extended = client.post(f"/manage/{secret}/extend", data={"csrf_token": token_field[1]})
    assert extended.status_code == 200 and "Extended" in extended.text
    assert "Extend my session" not in extended.text
    assert client.post(f"/manage/{secret}/end", data={"csrf_token": ""}).status_code == 403
    unconfirmed = client.post(f"/manage/{secret}/end", data={"csrf_token": token_field[1]})
    assert unconfirmed.status_code == 422 and "confirm" in unconfirmed.text
    ended = client.post(
        f"/manage/{secret}/end", data={"csrf_token": token_field[1], "confirm": "yes"}
    )
    assert ended.status_code == 200 and "Ending" in ended.text
    assert client.get("/manage/wodm_not-a-real-token").status_code == 404


def test_form_says_where_the_manage_link_went_and_rejects_disposable_mail(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    assert (
        client.post("/workshops/WKSHP-Python101/register", data=form(csrf(client))).status_code
        == 200
    )
    again = client.post("/workshops/WKSHP-Shell101/register", data=form(csrf(client)))
    assert again.status_code == 409 and "emailed it the link to manage" in again.text
    rejected = client.post(
        "/workshops/WKSHP-Shell101/register", data=form(csrf(client), email="x@mailinator.com")
    )
    assert rejected.status_code == 422 and 'id="email-error"' in rejected.text


@pytest.mark.parametrize("action", ["extend", "end"])
@pytest.mark.parametrize("bad", ["", "x" * 43], ids=["missing", "wrong"])
def test_manage_actions_refuse_a_missing_or_wrong_csrf_token(
    client: TestClient,
    ctx: AppContext,
    token: str,
    agent: Agent,
    action: str,
    bad: str,
) -> None:
    from wod.domain.secrets import manage_token

    client.post("/workshops/WKSHP-Python101/register", data=form(csrf(client)))
    agent.run_once()

    def state() -> tuple[object, ...]:
        with ctx.db.read() as s:
            reg = s.scalars(select(Registration)).one()
            return (reg.state, reg.ends_at, reg.extended, reg.ended_reason)

    with ctx.db.read() as s:
        nonce = s.scalars(select(Registration.manage_nonce)).one()
    secret = manage_token(ctx.settings.secret_key.get_secret_value(), nonce)
    before = state()
    answer = client.post(f"/manage/{secret}/{action}", data={"csrf_token": bad, "confirm": "yes"})
    assert answer.status_code == 403 and "Your form expired" in answer.text
    assert state() == before
