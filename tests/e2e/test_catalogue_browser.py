"""The catalogue and the api docs in a real browser (Chromium through Playwright) against a
real api server, with every request to another site refused: covers drawn, the workshop page's
outline and badge rule, the share links and their copy button, the Mastodon share form, the
badge page, and Swagger UI rendering the operations from the platform's own assets. Each page
is checked by axe-core and photographed at desktop and phone widths."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Route, expect

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.factories import seed
from tests.servers import ApiServer, serve
from wod.context import AppContext
from wod.web.app import create_app

SLUG = "WKSHP-Python101"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def server(ctx: AppContext) -> Iterator[ApiServer]:
    seed(ctx)
    with serve(create_app(ctx, background=False)) as running:
        yield running


@pytest.fixture
def screens(request: pytest.FixtureRequest, database_url: str) -> Screens:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return Screens(ARTIFACTS / backend / request.node.name)


def offline(browser: Browser, server: ApiServer, refused: list[str]) -> BrowserContext:
    """A browser context that reaches the api server only: any other request is refused and
    noted in ``refused``."""
    context = browser.new_context(locale="en-US")
    own = urlsplit(server.url).netloc

    def only_the_api(route: Route) -> None:
        if urlsplit(route.request.url).netloc == own:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_api)
    return context


def accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)


def drawn(page: Page, selector: str) -> None:
    """Wait until every image the selector finds has loaded (a broken image never gets a
    natural width, so a missing one times out)."""
    page.wait_for_function(
        """selector => {
            const imgs = [...document.querySelectorAll(selector)].filter(i => i.offsetParent);
            return imgs.length > 0 && imgs.every(i => i.complete && i.naturalWidth > 0);
        }""",
        arg=selector,
        timeout=15000,
    )


def test_the_catalogue_invites_and_shares_without_another_site(
    browser: Browser, server: ApiServer, screens: Screens
) -> None:
    refused: list[str] = []
    context = offline(browser, server, refused)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto(server.url + "/")
    drawn(page, "#cards .card img.cover")
    card = page.locator(f".card[data-slug={SLUG}]")
    copy = card.locator("button.copy")
    expect(copy).to_be_visible()  # the script shows it where the clipboard can be written
    copy.click()
    expect(copy).to_have_text("Link copied")
    assert page.evaluate("navigator.clipboard.readText()") == (
        f"http://127.0.0.1:8000/workshops/{SLUG}"
    )
    linkedin = card.locator("a", has_text="LinkedIn")
    assert (linkedin.get_attribute("href") or "").startswith(
        "https://www.linkedin.com/sharing/share-offsite/?url=http%3A%2F%2F127.0.0.1%3A8000"
    )
    screens.take(page, "catalogue with covers")
    accessible(page, "catalogue")

    card.locator("h2 a").click()
    expect(page.locator("h1")).to_contain_text("Python 101")
    drawn(page, "img.cover-page")
    expect(page.locator("ol.outline li").first).to_have_text(
        "Lab 1: values, variables, types and strings"
    )
    expect(page.locator("ul.learn li")).to_have_count(4)
    expect(page.locator(".badge-preview figcaption")).to_contain_text("Run at least 50 %")
    screens.take(page, "workshop with outline")
    accessible(page, "workshop page")

    page.locator(".share a", has_text="Mastodon").click()
    expect(page.locator("h1")).to_have_text("Share on Mastodon")
    page.fill("#instance", "not a server")
    page.locator("main form button").click()
    expect(page.locator("#instance-error")).to_be_visible()
    screens.take(page, "mastodon share")
    accessible(page, "mastodon share form")

    page.goto(f"{server.url}/badges/workshop/{SLUG}")
    expect(page.locator(".share button.copy")).to_be_visible()
    screens.take(page, "badge page")
    accessible(page, "badge page")
    assert refused == [], refused  # nothing asked of another site: no CDN, no share script
    context.close()


def test_swagger_ui_renders_the_operations_with_the_network_cut_but_to_the_api(
    browser: Browser, server: ApiServer, screens: Screens
) -> None:
    refused: list[str] = []
    context = offline(browser, server, refused)
    page = context.new_page()
    page.goto(server.url + "/api/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/workshops").first
    expect(operation).to_be_visible()
    assert page.locator(".opblock").count() > 5
    expect(page.locator(".info .title")).to_contain_text("wod")
    screens.take(page, "api docs")
    assert refused == [], refused
    context.close()
