"""The portal's pages beyond the form: tabs and search, closed workshops, languages, terms,
the cached catalogue, and a database that cannot be reached."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from starlette.applications import Starlette

from tests.factories import make_workshop, seed
from tests.integration.test_portal import csrf, form
from tests.mail import part_text
from wod.context import AppContext, build_context
from wod.db.models import Registration, Workshop
from wod.domain.clock import FakeClock
from wod.mail.sender import MemoryMailer
from wod.services.catalogue import CatalogueCache
from wod.services.mail import outbox
from wod.settings import Settings
from wod.web.app import create_app
from wod.web.state import WebState, app_state


@pytest.fixture
def layered(settings: Settings, tmp_path: Path) -> Settings:
    """The sample content plus three workshops: one in a category of its own, one inactive,
    one whose seats are all outside the location (full)."""
    layer = tmp_path / "extra"
    make_workshop(layer, "WKSHP-DataViz", (21, 24), category=["Data"], presenter="Chloé Martin")
    make_workshop(layer, "WKSHP-Closed", (25, 26), active=False)
    make_workshop(layer, "WKSHP-Crowded", (27, 28), category=["Data"])
    content = settings.content.model_copy(update={"paths": [*settings.content.paths, layer]})
    return settings.model_copy(update={"content": content})


@pytest.fixture
def portal(layered: Settings, clock: FakeClock, mailer: MemoryMailer) -> Iterator[TestClient]:
    ctx = build_context(layered, clock=clock, mailer=mailer)
    from wod.db.migrate import upgrade

    upgrade(ctx.db)
    seed(ctx, seats=(1, 24))  # seats 27-28 do not exist: WKSHP-Crowded is full
    with TestClient(create_app(ctx, background=False)) as client:
        yield client
    ctx.close()


def state(client: TestClient) -> WebState:
    """The state of the app the client drives (a :func:`create_app` app)."""
    assert isinstance(client.app, Starlette)
    return app_state(client.app)


def shown(page: str) -> list[str]:
    """The slugs of the cards a page shows (hidden cards are there for the script)."""
    return re.findall(r'<li class="card" data-slug="([^"]+)"(?![^>]*\bhidden\b)[^>]*>', page)


def test_tabs_and_search_filter_the_cards_without_script(portal: TestClient) -> None:
    every = shown(portal.get("/").text)
    assert set(every) == {
        "WKSHP-Python101",
        "WKSHP-Shell101",
        "WKSHP-DataViz",
        "WKSHP-Crowded",
    }  # the inactive one is not listed
    data = portal.get("/", params={"tab": "category:Data"}).text
    assert set(shown(data)) == {"WKSHP-DataViz", "WKSHP-Crowded"}
    assert 'aria-current="page" ' not in data or 'data-tab="category:Data" aria-current' in data
    assert set(shown(portal.get("/", params={"q": "chloe"}).text)) == {"WKSHP-DataViz"}
    both = portal.get("/", params={"tab": "category:Data", "q": "python"}).text
    assert shown(both) == [] and 'id="nothing">' in both  # the message is visible
    assert "No workshop matches your search." in both
    assert set(shown(portal.get("/", params={"tab": "latest"}).text)) <= set(every)
    assert set(shown(portal.get("/", params={"tab": "bogus"}).text)) == set(every)


def test_card_facts_and_live_seats(portal: TestClient) -> None:
    page = portal.get("/").text
    card = page[page.index('data-slug="WKSHP-DataViz"') :]
    card = card[: card.index("</li>")]
    assert "Chloé Martin" in card and ">CM<" in card  # no picture: initials
    assert "2 hours" in card and "4 seats left" in card and ">Data<" in card
    crowded = page[page.index('data-slug="WKSHP-Crowded"') :]
    assert "Full right now" in crowded[: crowded.index("</li>")]


def test_closed_and_full_workshops_say_why_registering_is_off(portal: TestClient) -> None:
    closed = portal.get("/workshops/WKSHP-Closed")
    assert closed.status_code == 200
    assert "not open for registration at the moment" in closed.text
    assert re.search(r"<button type=\"submit\" disabled", closed.text)
    full = portal.get("/workshops/WKSHP-Crowded")
    assert "Every seat is taken right now" in full.text
    refused = portal.post("/workshops/WKSHP-Crowded/register", data=form(csrf(portal)))
    assert refused.status_code == 409
    assert "These workshops have free seats" in refused.text
    assert 'href="/workshops/WKSHP-Python101"' in refused.text
    assert 'href="/workshops/WKSHP-Crowded"' not in refused.text.split("free seats")[1]


def test_language_follows_the_browser_then_the_switch(portal: TestClient) -> None:
    french = portal.get("/", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"})
    assert french.headers["content-language"] == "fr"
    assert '<html lang="fr">' in french.text and "Ateliers" in french.text
    assert 'href="/?lang=en"' in french.text  # the visible switch
    switched = portal.get("/?lang=en", headers={"Accept-Language": "fr"})
    assert switched.headers["content-language"] == "en" and "Workshops" in switched.text
    assert "wod_lang=en" in switched.headers["set-cookie"]
    remembered = portal.get("/workshops/WKSHP-Python101", headers={"Accept-Language": "fr"})
    assert remembered.headers["content-language"] == "en"  # the cookie wins over the header


def test_french_registration_errors_and_emails(portal: TestClient) -> None:
    ctx = state(portal).ctx
    portal.cookies.set("wod_lang", "fr")
    token = csrf(portal)
    wrong = portal.post(
        "/workshops/WKSHP-Python101/register", data=form(token, name="", accept_terms="")
    )
    assert wrong.status_code == 422
    assert "Veuillez corriger" in wrong.text and "obligatoire" in wrong.text
    assert 'id="accept_terms-error"' in wrong.text  # every problem at once
    done = portal.post("/workshops/WKSHP-Python101/register", data=form(token))
    assert done.status_code == 200 and "Inscription confirmée" in done.text
    with ctx.db.read() as session:
        assert session.scalars(select(Registration.language)).one() == "fr"
    outbox.send_due(ctx)
    assert isinstance(ctx.mailer, MemoryMailer)
    welcome = ctx.mailer.sent[-1]
    assert welcome["Subject"].startswith("Bienvenue")
    text = part_text(welcome, "plain")
    assert "Bonjour Ada," in text and "2 heures" in text
    html = part_text(welcome, "html")
    assert '<html lang="fr">' in html


def test_api_registration_language(portal: TestClient) -> None:
    ctx = state(portal).ctx
    body = {
        "workshop": "WKSHP-Python101",
        "email": "bea@example.org",
        "name": "Béa",
        "company": "X",
        "accept_terms": True,
    }
    assert (
        portal.post(
            "/api/v1/registrations", json=body, headers={"Accept-Language": "fr"}
        ).status_code
        == 201
    )
    english = {**body, "email": "cy@example.org", "language": "en"}
    assert (
        portal.post(
            "/api/v1/registrations", json=english, headers={"Accept-Language": "fr"}
        ).status_code
        == 201
    )
    bad = portal.post("/api/v1/registrations", json={**body, "language": "xx"})
    assert bad.status_code == 422
    with ctx.db.read() as session:
        got = dict(session.execute(select(Registration.email, Registration.language)).all())
    assert got == {"bea@example.org": "fr", "cy@example.org": "en"}


def test_terms_and_privacy_pages_from_wod_then_from_content(
    portal: TestClient, layered: Settings
) -> None:
    terms = portal.get("/terms")
    assert terms.status_code == 200 and "The clock starts when your seat is" in terms.text
    assert layered.branding.name in terms.text
    assert "Confidentialité" in portal.get("/privacy", headers={"Accept-Language": "fr"}).text
    pages = layered.content.paths[-1] / "pages"
    pages.mkdir()
    (pages / "terms.md").write_text("# House rules\n\nBe *kind* to {{ organisation }}.\n")
    own = portal.get("/terms").text
    assert "<h1>House rules</h1>" in own and "<em>kind</em>" in own
    assert "Conditions" in portal.get("/terms", headers={"Accept-Language": "fr"}).text


def test_a_page_with_an_error_in_its_text_says_so_and_the_log_says_where(
    portal: TestClient, layered: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    pages = layered.content.paths[-1] / "pages"
    pages.mkdir()
    (pages / "privacy.md").write_text("# Privacy\n\nWe are {{ company_name }}.\n")
    answer = portal.get("/privacy", headers={"Accept-Language": "fr"})
    assert answer.status_code == 500
    assert "Page indisponible" in answer.text and layered.branding.sender in answer.text
    logged = caplog.text
    assert str(pages / "privacy.md") in logged and "'company_name' is undefined" in logged
    assert "line 3:" in logged and "organisation" in logged  # where, and the names it may use
    (pages / "privacy.md").write_text("# Privacy\n\nWe are {{ organisation }.\n")
    caplog.clear()
    assert portal.get("/privacy").status_code == 500
    assert "line 3:" in caplog.text  # a syntax error too
    (pages / "privacy.md").write_text("# Privacy\n\nWe are {{ organisation }}.\n")
    assert portal.get("/privacy").status_code == 200  # fixed: shown at once


def test_catalogue_is_served_from_a_snapshot_refreshed_after_ttl_or_a_registration(
    ctx: AppContext, token: str
) -> None:
    now = [100.0]
    cache = CatalogueCache(ctx.db, lambda v: {"slug": v.workshop.slug}, 2.0, lambda: now[0])
    first = cache.get()
    with ctx.db.write() as session:
        workshop = session.scalars(select(Workshop).where(Workshop.slug == "WKSHP-Shell101")).one()
        workshop.active = False
    now[0] += 1.9
    assert cache.get() is first  # within the ttl: the same snapshot, no query
    now[0] += 0.2
    second = cache.get()
    assert second is not first and second.find("WKSHP-Shell101") is None
    cache.invalidate()
    assert cache.get() is not second
    uncached = CatalogueCache(ctx.db, lambda v: {"slug": v.workshop.slug}, 0, lambda: now[0])
    assert uncached.get() is not uncached.get()  # ttl 0: every read is a query
    assert uncached.fresh() is None


def test_seats_left_in_the_api_follow_a_registration_at_once(
    client: TestClient, token: str
) -> None:
    state(client).catalogue._ttl = 3600.0

    def left() -> int:
        answer = client.get("/api/v1/workshops")
        seats: int = next(w["seats_left"] for w in answer.json() if w["slug"] == "WKSHP-Python101")
        return seats

    before = left()
    body = {
        "workshop": "WKSHP-Python101",
        "email": "dee@example.org",
        "name": "Dee",
        "company": "X",
        "accept_terms": True,
    }
    assert client.post("/api/v1/registrations", json=body).status_code == 201
    assert left() == before - 1


def test_a_database_that_cannot_be_reached_gets_a_clear_page(
    settings: Settings, tmp_path: Path
) -> None:
    broken = settings.model_copy(
        update={"database_url": f"sqlite:///{tmp_path}/missing/folder/wod.sqlite"}
    )
    ctx = build_context(broken)
    try:
        with TestClient(create_app(ctx, background=False)) as client:
            page = client.get("/")
            assert page.status_code == 503
            assert "The catalogue cannot be reached right now" in page.text
    finally:
        ctx.close()
