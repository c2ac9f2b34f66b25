"""The dev mail catcher's page in a real browser (Chromium through Playwright): a message shows
its HTML version with working links, never running a script of the email, and a switch shows
its text version; checked by axe-core and photographed at desktop and phone widths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.factories import seed
from tests.mailcatch import HOSTILE, catch
from tests.servers import serve
from wod.context import AppContext
from wod.web.app import create_app


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


def test_the_html_version_links_work_and_its_scripts_never_run(
    ctx: AppContext, browser: Browser, database_url: str, request: pytest.FixtureRequest
) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    screens = Screens(ARTIFACTS / backend / request.node.name)
    seed(ctx)
    with serve(create_app(ctx, background=False)) as server:
        target = f"{server.url}/workshops/WKSHP-Python101"
        button = (
            f'<p><a href="{target}" style="background:#01a982;color:#fff;padding:12px 24px;'
            f'text-decoration:none;border-radius:6px;">Start the workshop</a></p>'
        )
        catch(
            ctx.settings.dev.maildir,
            ctx.settings.smtp,
            ("Your seat is ready", f"Start the workshop: {target}", button + HOSTILE),
        )
        page = browser.new_page(locale="en-US")
        page.goto(f"{server.url}/dev/mail")
        frame = page.frame_locator("iframe.mail-html")
        expect(frame.locator("#hello")).to_have_text("Hello")  # the HTML version, shown first
        expect(page.locator("pre.mail-text")).to_be_hidden()
        screens.take(page, "mail catcher html")
        accessible = axe_violations(page)
        assert accessible == [], "\n".join(accessible)

        with page.expect_popup() as opened:
            frame.locator("a", has_text="Start the workshop").click()
        popup = opened.value
        popup.wait_for_load_state()
        assert popup.url == target
        expect(popup.locator("h1")).to_contain_text("Python 101")  # a page, not a sandbox
        popup.close()
        assert page.title().startswith("Mail catcher")  # neither script of the email ran

        page.locator("label", has_text="Text version").click()
        expect(page.locator("pre.mail-text")).to_contain_text(f"Start the workshop: {target}")
        expect(page.locator("iframe.mail-html")).to_be_hidden()
        screens.take(page, "mail catcher text")
        page.locator("label", has_text="HTML version").click()
        expect(page.locator("iframe.mail-html")).to_be_visible()
        page.close()
