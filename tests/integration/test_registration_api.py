"""The public contract: GET /api/v1/workshops, GET /api/v1/workshops/{slug},
POST /api/v1/registrations (ARCHITECTURE §9)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.states import SeatState

GOOD = {
    "workshop": "WKSHP-Python101",
    "email": "Ada.Lovelace@Example.ORG",
    "name": "  Ada   Lovelace ",
    "company": "Analytical Engines",
    "accept_terms": True,
}
PUBLIC_FIELDS = {
    "slug",
    "name",
    "description",
    "categories",
    "duration_hours",
    "presenter",
    "role",
    "avatar_url",
    "cover_url",
    "learn",
    "prerequisites",
    "outline",
    "replay_url",
    "badge_url",
    "seats_left",
    "popular",
    "beta",
}


def counts(ctx: AppContext) -> dict[str, int]:
    with ctx.db.read() as s:
        return {
            "registrations": s.scalar(select(func.count()).select_from(Registration)) or 0,
            "jobs": s.scalar(select(func.count()).select_from(Job)) or 0,
            "emails": s.scalar(select(func.count()).select_from(Email)) or 0,
            "taken": s.scalar(
                select(func.count()).select_from(Seat).where(Seat.state != SeatState.free)
            )
            or 0,
        }


def test_catalogue_lists_active_workshops_with_seats_left(client: TestClient, token: str) -> None:
    answer = client.get("/api/v1/workshops")
    assert answer.status_code == 200
    body = answer.json()
    assert [w["slug"] for w in body] == ["WKSHP-Python101", "WKSHP-Shell101"]
    assert set(body[0]) == PUBLIC_FIELDS
    assert body[0]["seats_left"] == 10 and body[0]["duration_hours"] == 2
    one = client.get("/api/v1/workshops/WKSHP-Shell101").json()
    assert one["slug"] == "WKSHP-Shell101" and one["seats_left"] == 10


def test_unknown_workshop_is_a_problem_document(client: TestClient, token: str) -> None:
    answer = client.get("/api/v1/workshops/WKSHP-Nope")
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "workshop_not_found"


def test_registration_reserves_a_seat_queues_create_and_welcome(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    answer = client.post("/api/v1/registrations", json=GOOD)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert set(body) == {"id", "workshop", "status", "created_at"}
    assert body["workshop"] == "WKSHP-Python101" and body["status"] == "queued"
    with ctx.db.read() as s:
        registration = s.get(Registration, body["id"])
        assert registration is not None
        assert registration.email == "ada.lovelace@example.org"
        assert registration.name == "Ada Lovelace"
        seat = s.get(Seat, registration.seat_id)
        assert seat is not None and seat.number == 1 and seat.state is SeatState.reserved
        assert [j.verb.value for j in s.scalars(select(Job))] == ["CREATE"]
        assert [e.kind for e in s.scalars(select(Email))] == ["welcome"]
    assert client.get("/api/v1/workshops/WKSHP-Python101").json()["seats_left"] == 9


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"workshop": "WKSHP-Nope"}, 404, "workshop_not_found", None),
        ({"email": "not-an-address"}, 422, "invalid_input", "email"),
        ({"email": "a@b"}, 422, "invalid_input", "email"),
        ({"accept_terms": False}, 422, "terms_not_accepted", "accept_terms"),
        ({"name": "x" * 101}, 422, "invalid_input", "name"),
        ({"company": "c" * 101}, 422, "invalid_input", "company"),
        ({"email": "a" * 250 + "@example.org"}, 422, "invalid_input", "email"),
        ({"name": "   "}, 422, "invalid_input", "name"),
        ({"name": "Ada\x07"}, 422, "invalid_input", "name"),
        ({"name": "Ada\x7f"}, 422, "invalid_input", "name"),  # DEL
        ({"name": "Ada\x9b"}, 422, "invalid_input", "name"),  # C1
        ({"name": "Ada \u202eecalevol"}, 422, "invalid_input", "name"),  # bidi override
        ({"company": "\u2066Acme\u2069"}, 422, "invalid_input", "company"),  # bidi isolates
        ({"name": "\u200b\u200b\u200b"}, 422, "invalid_input", "name"),  # only zero-width
        ({"company": "\ufeffAcme"}, 422, "invalid_input", "company"),  # byte order mark
        ({"name": "Ada\ue000"}, 422, "invalid_input", "name"),  # private use
        ({"name": "\u200dAda"}, 422, "invalid_input", "name"),  # a joiner joining nothing
        ({"workshop": None}, 422, "invalid_input", "workshop"),
        ({"admin": True}, 422, "invalid_input", "admin"),
        ({"accept_terms": "maybe"}, 422, "invalid_input", "accept_terms"),
    ],
)
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(
    client: TestClient,
    ctx: AppContext,
    token: str,
    change: dict[str, Any],
    status: int,
    code: str,
    field: str | None,
) -> None:
    before = counts(ctx)
    answer = client.post("/api/v1/registrations", json={**GOOD, **change})
    assert answer.status_code == status, answer.text
    problem = answer.json()
    assert problem["code"] == code
    assert answer.headers["content-type"] == "application/problem+json"
    if field is not None:
        assert field in {e["field"] for e in problem["errors"]}
    assert counts(ctx) == before


def test_an_invisible_character_is_named_in_the_refusal(client: TestClient, token: str) -> None:
    answer = client.post("/api/v1/registrations", json={**GOOD, "name": "Ada\u200b Lovelace"})
    assert answer.status_code == 422
    assert answer.json()["errors"] == [
        {"field": "name", "message": "contains invisible or control characters (U+200B)"}
    ]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("Jose\u0301 Garci\u0301a", "José García"),  # decomposed accents: composed (NFC)
        (
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
            "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645",
        ),  # Persian ZWNJ
        ("Ada\u2003\u00a0Lovelace", "Ada Lovelace"),  # wide and no-break spaces: one space
    ],
)
def test_names_are_normalised_and_writing_is_kept(
    client: TestClient, ctx: AppContext, token: str, given: str, kept: str
) -> None:
    answer = client.post("/api/v1/registrations", json={**GOOD, "name": given})
    assert answer.status_code == 201, answer.text
    with ctx.db.read() as s:
        registration = s.get(Registration, answer.json()["id"])
        assert registration is not None and registration.name == kept


def test_missing_body_fields_are_listed(client: TestClient, token: str) -> None:
    answer = client.post("/api/v1/registrations", json={"workshop": "WKSHP-Python101"})
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert fields == {"email", "name", "company", "accept_terms"}


def test_second_live_registration_for_one_email_is_refused(
    client: TestClient, ctx: AppContext, token: str
) -> None:
    assert client.post("/api/v1/registrations", json=GOOD).status_code == 201
    before = counts(ctx)
    again = {**GOOD, "workshop": "WKSHP-Shell101", "email": "ADA.lovelace@example.org"}
    answer = client.post("/api/v1/registrations", json=again)
    assert answer.status_code == 409
    assert answer.json()["code"] == "already_registered"
    assert counts(ctx) == {**before, "emails": before["emails"] + 1}  # the manage link again
    with ctx.db.read() as s:
        assert [e.kind for e in s.scalars(select(Email).order_by(Email.id))] == [
            "welcome",
            "already_registered",
        ]


def test_full_workshop(client: TestClient, ctx: AppContext, token: str) -> None:
    for n in range(10):
        body = {**GOOD, "email": f"p{n}@example.org"}
        assert client.post("/api/v1/registrations", json=body).status_code == 201
    before = counts(ctx)
    answer = client.post("/api/v1/registrations", json={**GOOD, "email": "late@example.org"})
    assert answer.status_code == 409 and answer.json()["code"] == "workshop_full"
    assert counts(ctx) == before
    assert client.get("/api/v1/workshops/WKSHP-Python101").json()["seats_left"] == 0


def test_inactive_workshop_is_not_bookable(client: TestClient, ctx: AppContext, token: str) -> None:
    from wod.db.models import Workshop

    with ctx.db.write() as s:
        w = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Shell101"))
        assert w is not None
        w.active = False
    answer = client.post("/api/v1/registrations", json={**GOOD, "workshop": "WKSHP-Shell101"})
    assert answer.status_code == 404 and answer.json()["code"] == "workshop_not_found"
    assert "No workshop 'WKSHP-Shell101' is open" in answer.json()["detail"]
    french = client.post(
        "/api/v1/registrations",
        json={**GOOD, "workshop": "WKSHP-Shell101"},
        headers={"accept-language": "fr"},
    )
    assert "Aucun atelier 'WKSHP-Shell101' n'est ouvert" in french.json()["detail"]
    assert [w["slug"] for w in client.get("/api/v1/workshops").json()] == ["WKSHP-Python101"]


def test_database_forbids_two_live_registrations_on_one_seat_or_email(
    ctx: AppContext, token: str, client: TestClient
) -> None:
    from sqlalchemy.exc import IntegrityError

    first = client.post("/api/v1/registrations", json=GOOD).json()
    with ctx.db.read() as s:
        original = s.get(Registration, first["id"])
        free = s.scalar(select(Seat).where(Seat.state == SeatState.free))
    assert original is not None and free is not None and original.seat_id is not None

    def insert(email: str, seat_id: int) -> None:
        with ctx.db.write() as s:
            s.add(
                Registration(
                    workshop_id=original.workshop_id,
                    email=email,
                    name="X",
                    company="Y",
                    location_id=original.location_id,
                    seat_id=seat_id,
                    created_at=original.created_at,
                )
            )

    with pytest.raises(IntegrityError):
        insert("other@example.org", original.seat_id)
    with pytest.raises(IntegrityError):
        insert(original.email, free.id)
    insert("other@example.org", free.id)  # the same row with a free seat and a new email is fine


def test_unknown_routes_and_methods_answer_problem_documents(client: TestClient) -> None:
    missing = client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    wrong = client.delete("/api/v1/workshops")
    assert wrong.status_code == 405 and wrong.json()["code"] == "method_not_allowed"
    assert wrong.headers["content-type"] == "application/problem+json"
