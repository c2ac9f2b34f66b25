"""The console's irreversible actions in a real browser (Chromium through Playwright): End and
Purge look dangerous and are asked first, in a dialog where the script runs and on a page of
the server's where it does not; each is checked by axe-core and photographed at desktop and
phone widths."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.factories import seed
from tests.integration.test_admin_console import active
from tests.servers import ApiServer, serve
from wod.context import AppContext
from wod.domain.roles import Role
from wod.services.admin import users
from wod.web.app import create_app

PASSWORD = "a long admin password"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def server(ctx: AppContext) -> Iterator[ApiServer]:
    seed(ctx)
    users.create_user(ctx, "ada", PASSWORD, Role.admin)
    for n in (1, 2):
        active(ctx, n)  # its seat built, as the agent reports it
    with serve(create_app(ctx, background=False)) as running:
        yield running


def log_in(page: Page, base: str) -> None:
    page.goto(base + "/admin/registrations")
    page.fill("#username", "ada")
    page.fill("#password", PASSWORD)
    page.click("#login")
    expect(page.locator("h1")).to_have_text("Registrations")


def accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)


def test_end_and_purge_are_asked_in_a_dialog_then_on_a_page_without_it(
    browser: Browser, server: ApiServer, database_url: str, request: pytest.FixtureRequest
) -> None:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    screens = Screens(ARTIFACTS / backend / request.node.name)
    # The console's CSP allows no injected script: axe goes in through the browser itself.
    context = browser.new_context(locale="en-US", bypass_csp=True)
    page = context.new_page()
    log_in(page, server.url)
    end = page.locator("#end-1 button")
    expect(end).to_have_class("danger")
    expect(page.locator("#extend-1 button")).not_to_have_class("danger")
    end.click()
    dialog = page.locator("#confirm-dialog")
    expect(dialog).to_be_visible()
    expect(dialog.locator("h2")).to_have_text("End registration 1?")
    expect(page.locator("#confirm-dialog-go")).to_have_text("End registration 1")
    expect(dialog).to_contain_text("End registration 1 now? The participant's session stops")
    expect(page.locator("#confirm-dialog-cancel")).to_be_focused()  # the safe choice first
    screens.take(page, "end asked in a dialog")
    accessible(page, "the confirmation dialog")
    page.keyboard.press("Escape")  # as Cancel: nothing done
    expect(dialog).to_be_hidden()
    expect(page.locator("#flash")).to_have_count(0)
    end.click()
    page.click("#confirm-dialog-go")
    expect(page.locator("#flash")).to_contain_text("Registration 1 is ending")

    page.evaluate("document.getElementById('confirm-dialog').remove()")  # as without <dialog>
    page.locator("#purge-2 button").click()
    expect(page.locator("h1")).to_have_text("Purge registration 2?")
    expect(page.locator("#confirm-go")).to_have_class("danger")
    screens.take(page, "purge asked on a page")
    accessible(page, "the confirmation page")
    page.click("#confirm-cancel")
    expect(page.locator("h1")).to_have_text("Registrations")
    expect(page.locator("#purge-2")).to_be_visible()  # still there: nothing done
    context.close()

    scriptless = browser.new_context(locale="en-US", java_script_enabled=False)
    page = scriptless.new_page()
    log_in(page, server.url)
    page.locator("#purge-2 button").click()
    expect(page.locator("#question")).to_contain_text("It cannot be undone.")
    page.click("#confirm-go")
    expect(page.locator("#flash")).to_contain_text("Registration 2")
    expect(page.locator("#purge-2")).to_have_count(0)
    scriptless.close()
