"""The status page while it waits, in Chromium against a real api server (no agent: the seat
stays queued until the test moves it): with JavaScript it follows the registration by itself,
without JavaScript it refreshes itself; reloading it registers nothing more. Checked by
axe-core and photographed at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.factories import seed
from tests.servers import serve
from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.db.transitions import move
from wod.domain.states import RegistrationState
from wod.web.app import create_app

SLUG = "WKSHP-Python101"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def register(page: Page, base: str, email: str) -> None:
    page.goto(f"{base}/workshops/{SLUG}")
    page.fill("#email", email)
    page.fill("#name", "Dorothy Vaughan")
    page.fill("#company", "NACA")
    page.check("#accept_terms")
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/status/wodm_[\w-]+$"))


def provisioning(ctx: AppContext, email: str) -> None:
    """What an agent claiming the CREATE does to the registration."""
    with ctx.db.write() as s:
        row = s.scalars(select(Registration).where(Registration.email == email)).one()
        move(s, row, RegistrationState.provisioning)


def counts(ctx: AppContext) -> tuple[int, int]:
    with ctx.db.read() as s:
        registered = s.scalar(select(func.count()).select_from(Registration)) or 0
        emails = s.scalar(select(func.count()).select_from(Email)) or 0
    return registered, emails


@pytest.mark.parametrize("script", [True, False], ids=["javascript", "no-javascript"])
def test_the_status_page_follows_the_seat_and_never_registers_twice(
    ctx: AppContext, browser: Browser, database_url: str, script: bool
) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    screens = Screens(ARTIFACTS / backend / "status-waiting")
    seed(ctx)
    with serve(create_app(ctx, background=False)) as server:
        context = browser.new_context(java_script_enabled=script, locale="en-US")
        page = context.new_page()
        email = f"dorothy-{'js' if script else 'nojs'}@example.org"
        register(page, server.url, email)
        expect(page.locator("h1")).to_have_text("You're registered!")
        expect(page.locator("#status")).to_contain_text("Your seat is being prepared")
        expect(page.locator("a.reload")).to_be_visible()
        if script:  # without it the page refreshes itself every 3 s: nothing to hold still
            screens.take(page, "status waiting")
            assert axe_violations(page) == []
        before = counts(ctx)
        assert before[0] == 1
        page.reload()
        page.go_back()  # the form again
        page.go_forward()
        assert counts(ctx) == before  # nothing registered, nothing queued
        provisioning(ctx, email)  # the page follows: by its script, or by its own refresh
        expect(page.locator("#progress")).to_have_attribute(
            "data-state", "provisioning", timeout=30_000
        )
        assert counts(ctx) == before
        context.close()
