"""The waiting list's pages in a real browser (Chromium through Playwright) against a real api
server: a full workshop's page offers "tell me when a seat is free", its form joins the list,
and the claim link's page claims the seat once a seat freed; each page is checked by axe-core
and photographed into .test-artifacts/screenshots."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.factories import seed
from tests.servers import serve
from wod.context import AppContext
from wod.db.models import WaitlistEntry, Workshop
from wod.domain.secrets import claim_token
from wod.scheduler.loop import run_pass
from wod.services.registrations import RegistrationRequest, purge_registration, register
from wod.web.app import create_app

SLUG = "WKSHP-Python101"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)


@pytest.mark.parametrize("language", ["en-US", "fr-FR"])
def test_a_participant_waits_then_claims_a_seat(
    ctx: AppContext, browser: Browser, database_url: str, language: str
) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    screens = Screens(ARTIFACTS / backend / f"waitlist-{language}")
    seed(ctx)
    with ctx.db.write() as s:
        workshop = s.scalar(select(Workshop).where(Workshop.slug == SLUG))
        assert workshop is not None
        workshop.capacity = 1
    taken = register(ctx, RegistrationRequest(SLUG, "first@example.org", "First", "Co", True))
    with serve(create_app(ctx, background=False)) as server:
        page = browser.new_page(locale=language)
        page.goto(f"{server.url}/workshops/{SLUG}")
        button = page.locator("form button[type=submit]")
        expect(button).to_be_enabled()
        screens.take(page, "full workshop")
        accessible(page, "a full workshop's page")

        button.click()  # nothing filled in: the problems inline, as for a registration
        expect(page.locator("#name-error")).to_be_visible()
        accessible(page, "the waiting-list form with errors")

        page.fill("#email", "ada@example.org")
        page.fill("#name", "Ada Lovelace")
        page.fill("#company", "Engines")
        page.check("#accept_terms")
        button.click()
        expect(page.locator("main")).to_contain_text("ada@example.org")
        expect(page.locator("html")).to_have_attribute("lang", language[:2])
        screens.take(page, "on the list")
        accessible(page, "on the waiting list")

        purge_registration(ctx, taken.id)
        assert run_pass(ctx)["offered"] == 1
        with ctx.db.read() as s:
            nonce = s.scalar(select(WaitlistEntry.offer_nonce))
        assert nonce
        link = claim_token(ctx.settings.secret_key.get_secret_value(), nonce)
        page.goto(f"{server.url}/waitlist/claim/{link}")
        screens.take(page, "claim")
        accessible(page, "the claim page")
        page.locator("form.confirm button").click()
        expect(page.locator("main")).to_contain_text("ada@example.org")
        screens.take(page, "claimed")

        page.goto(f"{server.url}/waitlist/claim/{link}")  # a second time: used
        expect(page.locator("#summary")).to_be_visible()
        screens.take(page, "claim used")
        accessible(page, "a used claim link")
        page.close()
