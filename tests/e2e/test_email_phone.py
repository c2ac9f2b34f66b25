"""HTML emails fit a phone: the welcome email, rendered as it is sent, laid out in Chromium at
390 px wide, scrolls no wider than the screen (they were 648 px wide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from tests.browser import ARTIFACTS, PHONE, chromium
from tests.factories import seed
from tests.mail import part_text
from wod.context import AppContext
from wod.mail.sender import MemoryMailer
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def test_the_html_email_is_no_wider_than_a_phone(
    ctx: AppContext, mailer: MemoryMailer, browser: Browser, database_url: str
) -> None:
    seed(ctx)
    name = "Ada Lovelace-Byron-King-Noel-of-Ockham-and-of-the-Analytical-Engine"
    register(ctx, RegistrationRequest("WKSHP-Python101", "ada@example.org", name, "E", True))
    assert outbox.send_due(ctx) == 1
    html = part_text(mailer.sent[0], "html")
    page = browser.new_page(viewport=PHONE)
    page.set_content(html)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    folder = ARTIFACTS / backend / "email-phone"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / "welcome-phone.png"), full_page=True)
    page.close()
    assert width <= PHONE["width"], f"the email is {width} px wide on a {PHONE['width']} px phone"
