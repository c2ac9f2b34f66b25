"""The portal's catalogue page and registration form (server-rendered, CSRF-protected)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient
from sqlalchemy import func, select

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
