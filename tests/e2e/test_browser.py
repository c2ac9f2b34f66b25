"""The portal in a real browser (Chromium through Playwright) against the whole platform:
a participant browses, filters, registers (the status page turns ready), reads the emails in
the dev mail catcher, opens the manage page and ends the workshop, in English and in French;
an admin logs in, finds the registration on the dashboard and in the list, and purges a seat.
Each page is checked by axe-core and photographed at desktop and phone widths into
.test-artifacts/screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, Screens, axe_violations, chromium
from tests.e2e.conftest import Stack, wait_for
from wod.domain.roles import Role
from wod.services.admin import users

ADMIN_PASSWORD = "a long admin password"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def screens(request: pytest.FixtureRequest, database_url: str) -> Screens:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return Screens(ARTIFACTS / backend / request.node.name)


def accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)


def visible_cards(page: Page) -> list[str]:
    return page.locator("#cards .card:visible h2").all_inner_texts()


def mail_text(page: Page, base: str, subject: str) -> str:
    """The text of the newest caught email whose subject contains ``subject``."""

    def find() -> str | None:
        page.goto(f"{base}/dev/mail")
        for mail in page.locator("details.mail").all():
            if subject in mail.locator("summary").inner_text():
                return mail.locator("pre").text_content()
        return None

    return wait_for(find, 60, f"an email about {subject!r}")


def register(page: Page, email: str, name: str, company: str) -> None:
    page.fill("#email", email)
    page.fill("#name", name)
    page.fill("#company", company)
    page.check("#accept_terms")
    page.locator("form button[type=submit]").click()


def test_a_participant_browses_registers_and_ends(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    base = stack.api.url
    page = browser.new_page(locale="en-US")
    page.goto(base + "/")
    expect(page.locator("h1")).to_have_text("Workshops")
    assert sorted(visible_cards(page)) == sorted(
        [
            "Python 101: a first, gentle taste of Python",
            "Linux shell 101: first steps in the command line",
        ]
    )
    screens.take(page, "catalogue")
    accessible(page, "catalogue")

    page.click(".tabs a[data-tab='category:Linux']")  # filtered in place, no reload
    assert visible_cards(page) == ["Linux shell 101: first steps in the command line"]
    assert "tab=category%3ALinux" in page.url or "tab=category:Linux" in page.url
    page.click(".tabs a[data-tab='all']")
    page.fill("#q", "dictionaries")
    assert visible_cards(page) == ["Python 101: a first, gentle taste of Python"]
    page.fill("#q", "no such thing at all")
    expect(page.locator("#nothing")).to_be_visible()
    screens.take(page, "nothing matches")
    page.fill("#q", "")

    page.click("text=Python 101: a first, gentle taste of Python")
    expect(page.locator("h1")).to_contain_text("Python 101")
    expect(page.locator("label[for=accept_terms]")).to_contain_text("2 hours")
    screens.take(page, "workshop")
    accessible(page, "workshop")

    page.locator("form button[type=submit]").click()  # nothing filled in
    expect(page.locator(".summary")).to_contain_text("Please correct the fields below")
    expect(page.locator("#name-error")).to_have_text("is required")
    screens.take(page, "registration errors")
    accessible(page, "registration form with errors")

    register(page, "grace@example.org", "Grace Hopper", "Navy")
    expect(page).to_have_url(re.compile(r"/status/wodm_"))  # the live status page
    expect(page.locator("main")).to_contain_text("grace@example.org")
    expect(page.locator("h1")).to_have_text("Your seat is ready", timeout=60_000)
    screens.take(page, "registered")
    accessible(page, "status page")

    credentials = mail_text(page, base, "credentials")
    assert "student" in credentials and "Password:" in credentials
    screens.take(page, "mail catcher")
    manage_url = re.search(r"http://\S+/manage/\S+", credentials)
    assert manage_url, credentials

    page.goto(manage_url[0])
    expect(page.locator("#status")).to_have_text("Running")
    # the live countdown runs from the server's figure (here the stack's injected clock, hours
    # away from the browser's): a whole 2 h workshop left, counting down
    expect(page.locator("#left")).to_have_text(re.compile(r"^(2 h 00|1 h 59) min \d\d s$"))
    expect(page.locator("a.button")).to_have_text("Start the workshop")
    screens.take(page, "manage")
    accessible(page, "manage")

    page.locator("form.end button").click()  # unconfirmed: the browser asks for the box
    expect(page.locator("#status")).to_have_text("Running")
    page.check("#confirm")
    page.locator("form.end button").click()
    expect(page.locator(".notice")).to_contain_text("Your workshop is ending")
    screens.take(page, "ending")
    final = mail_text(page, base, "Thanks for taking part")
    assert "Grace Hopper" in final
    page.close()


def test_the_registration_in_french_from_end_to_end(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    base = stack.api.url
    context = browser.new_context(locale="fr-FR")  # Accept-Language: fr-FR
    page = context.new_page()
    page.goto(base + "/")
    expect(page.locator("h1")).to_have_text("Ateliers")
    expect(page.locator("html")).to_have_attribute("lang", "fr")
    screens.take(page, "catalogue fr")
    accessible(page, "catalogue fr")
    page.click("text=Linux shell 101")
    expect(page.locator("label[for=accept_terms]")).to_contain_text("2 heures")
    page.locator("form button[type=submit]").click()
    expect(page.locator("#email-error")).to_be_visible()
    expect(page.locator("#name-error")).to_have_text("obligatoire")
    screens.take(page, "formulaire erreurs")
    register(page, "marie@example.org", "Marie Curie", "Sorbonne")
    expect(page.locator("h1")).to_have_text("Votre poste est prêt", timeout=60_000)
    expect(page.locator("#start")).to_have_text("Commencer l'atelier")
    screens.take(page, "inscrit")

    welcome = mail_text(page, base, "Bienvenue")
    assert welcome.startswith("Bonjour Marie Curie,")
    credentials = mail_text(page, base, "identifiants")
    assert "Mot de passe" in credentials and "2 heures" in credentials
    screens.take(page, "emails fr")
    manage_url = re.search(r"http://\S+/manage/\S+", credentials)
    assert manage_url, credentials
    page.goto(manage_url[0])
    expect(page.locator("#status")).to_have_text("En cours")
    screens.take(page, "gestion")
    accessible(page, "manage fr")
    page.check("#confirm")
    page.locator("form.end button").click()
    expect(page.locator(".notice")).to_be_visible()
    final = mail_text(page, base, "Merci")
    assert final.startswith("Bonjour Marie Curie,")

    page.click("text=English")  # the visible switch
    expect(page.locator("html")).to_have_attribute("lang", "en")
    context.close()


def test_an_admin_sees_the_new_registration_and_purges_a_seat(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    base = stack.api.url
    users.create_user(stack.ctx, "ada", ADMIN_PASSWORD, Role.admin)
    participant = browser.new_page(locale="en-US")
    participant.goto(base + "/")
    participant.click("text=Python 101: a first, gentle taste of Python")
    register(participant, "alan@example.org", "Alan Turing", "Bletchley")
    expect(participant).to_have_url(re.compile(r"/status/wodm_"))
    stack.wait_mail("alan@example.org", "credentials")
    participant.close()

    # The console's CSP allows no injected script: axe goes in through the browser itself.
    context = browser.new_context(locale="en-US", bypass_csp=True)
    page = context.new_page()
    page.goto(base + "/admin/registrations")  # anonymous: sent to the login page
    expect(page.locator("h1")).to_have_text("Log in to the admin console")
    page.fill("#username", "ada")
    page.fill("#password", "not the password")
    page.click("#login")
    expect(page.locator("#login-error")).to_contain_text("Wrong user name or password")
    screens.take(page, "admin login refused")
    accessible(page, "admin login")
    page.fill("#password", ADMIN_PASSWORD)
    page.click("#login")
    expect(page.locator("h1")).to_have_text("Registrations")  # back where it was going
    row = page.locator("#registrations tbody tr", has_text="alan@example.org")
    expect(row).to_contain_text("active")
    expect(row).to_contain_text("WKSHP-Python101")
    screens.take(page, "admin registrations")
    accessible(page, "admin registrations")

    page.click("#nav-dashboard")
    expect(page.locator("#total-live")).to_have_text("1")
    expect(page.locator("#table-live")).to_contain_text("WKSHP-Python101")
    expect(page.locator("#chart-live canvas")).to_be_visible()  # Chart.js, served locally
    today = page.locator("#table-registrations tbody tr").last
    expect(today.locator("td")).to_have_text("1")
    screens.take(page, "admin dashboard")
    accessible(page, "admin dashboard")

    page.click("#nav-seats")
    held = page.locator("#seats tbody tr", has_text="WKSHP-Python101")
    expect(held.locator("form")).to_have_count(0)  # a held seat cannot be purged
    free = page.locator("#seats tbody tr", has_text="free").first
    seat = free.locator("th").inner_text()
    free.locator("button", has_text="Purge").click()  # asked first; "Cancel" does nothing
    expect(page.locator("#confirm-dialog")).to_be_visible()
    page.click("#confirm-dialog-cancel")
    expect(page.locator("#confirm-dialog")).to_be_hidden()
    expect(page.locator("#flash")).to_have_count(0)
    free.locator("button", has_text="Purge").click()
    page.click("#confirm-dialog-go")
    expect(page.locator("#flash")).to_contain_text("PURGE queued")
    screens.take(page, "admin seat purged")
    accessible(page, "admin seats")

    def purged() -> bool:
        page.goto(f"{base}/admin/jobs?verb=PURGE")
        return "done" in page.locator("#jobs tbody tr").first.inner_text()

    wait_for(purged, 60, f"the PURGE of {seat}")
    page.locator("#jobs tbody tr a").first.click()
    expect(page.locator("pre.log")).to_be_visible()
    screens.take(page, "admin purge job")
    page.goto(f"{base}/admin/seats?state=free")
    expect(page.locator("#seats")).to_contain_text(seat)

    page.click("#logout")
    expect(page.locator("h1")).to_have_text("Log in to the admin console")
    page.goto(base + "/admin")
    expect(page.locator("h1")).to_have_text("Log in to the admin console")
    context.close()
