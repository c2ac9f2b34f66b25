"""One-click start on the real stack, in Chromium: the registration form leads to the live
status page, which turns ready by itself and whose start button opens the lab without a
password; reloading it registers nothing more. The credentials email's start link logs in
once: a second time, after its expiry (the api's clock moved back), after the hub restarted or
after the seat ended, it leads to the hub's login page (with the portal's branding) with the
user name filled in, where the password still logs in. Pages checked by axe-core, photographed
at 1280 and 390 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import func, select

from tests.browser import ARTIFACTS, DESKTOP, PHONE, Screens, axe_violations, chromium
from tests.e2e.conftest import Stack, wait_for
from tests.stack import SPAWN_TIMEOUT, local_stack, stack_settings
from wod.db.models import Registration
from wod.domain.clock import FakeClock
from wod.domain.states import RegistrationState
from wod.services.registrations import end_now

pytestmark = pytest.mark.hub
SLUG = "WKSHP-Python101"
EMAIL = "katherine@example.org"
#: Milliseconds a page may take to show JupyterLab's notebook (the server may still start).
LAB_TIMEOUT = SPAWN_TIMEOUT * 1000


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


class RealTimeClock(FakeClock):
    """The real time, shifted by what the test sets: the api dates start tokens on its clock,
    the hub checks them, and dates its users, on the host's; in production both tell the real
    time."""

    def __init__(self) -> None:
        super().__init__()
        self._offset = timedelta(0)

    def now(self) -> datetime:
        with self._lock:
            return datetime.now(UTC) + self._offset

    def set(self, when: datetime) -> None:
        with self._lock:
            self._offset = when - datetime.now(UTC)

    def advance(self, delta: timedelta) -> None:
        with self._lock:
            self._offset += delta


@pytest.fixture
def real_time_stack(tmp_path: Path, database_url: str) -> Iterator[Stack]:
    clock = RealTimeClock()
    settings = stack_settings(tmp_path, database_url)
    settings.branding.wod_name = "Katherine's Workshops"
    with local_stack(settings, clock) as local:
        yield Stack(local, clock)


@pytest.fixture
def screens(request: pytest.FixtureRequest, database_url: str) -> Screens:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return Screens(ARTIFACTS / backend / request.node.name)


def accessible(page: Page, what: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{what}: " + "\n".join(violations)


def lab_shows_the_notebook(page: Page, username: str) -> None:
    expect(page).to_have_url(
        re.compile(f"/user/{username}/lab/tree/{SLUG}/0-ReadMeFirst.ipynb"), timeout=LAB_TIMEOUT
    )
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=LAB_TIMEOUT)


def login_page_for(page: Page, username: str) -> None:
    expect(page).to_have_url(re.compile(r"/hub/login\?"))
    expect(page.locator("#username_input")).to_have_value(username)
    expect(page.locator("#password_input")).to_be_focused()  # the password is next
    expect(page.locator(".wod-brand")).to_contain_text("Katherine's Workshops")


def registrations(stack: Stack) -> int:
    with stack.ctx.db.read() as s:
        return s.scalar(select(func.count()).select_from(Registration)) or 0


def test_the_status_page_and_the_start_link_open_the_lab_once(
    real_time_stack: Stack, browser: Browser, screens: Screens
) -> None:
    stack, base = real_time_stack, real_time_stack.api.url
    desktop = browser.new_context(viewport=DESKTOP, locale="en-US")
    page = desktop.new_page()
    page.goto(f"{base}/workshops/{SLUG}")
    page.fill("#email", EMAIL)
    page.fill("#name", "Katherine Johnson")
    page.fill("#company", "NASA")
    page.check("#accept_terms")
    page.locator("form button[type=submit]").click()
    expect(page).to_have_url(re.compile(r"/status/wodm_[\w-]+$"))
    status_url = page.url
    # waiting, then ready by itself (the page polls its state): the start button appears
    expect(page.locator("#start")).to_have_text("Start the workshop", timeout=60_000)
    expect(page.locator("h1")).to_have_text("Your seat is ready")
    screens.take(page, "status ready")
    accessible(page, "the status page, ready")
    for _ in range(3):  # reloading registers nothing, and sends nothing
        page.reload()
        expect(page.locator("#start")).to_be_visible()
    page.go_back()
    assert registrations(stack) == 1
    mine = [m for m in stack.mail() if m["to"] == EMAIL]
    assert not [m for m in mine if "already" in m["subject"].lower()], mine
    page.goto(status_url)
    page.locator("#start").click()
    username = stack.wait_mail(EMAIL, "credentials")["text"]
    seat = re.search(r"User name:\s+(\S+)", username)
    assert seat, username
    lab_shows_the_notebook(page, seat[1])
    screens.take(page, "lab from the status page")
    desktop.close()

    credentials = stack.wait_mail(EMAIL, "credentials")["text"]
    link = re.search(r"(http\S+/hub/wod-start/\S+)", credentials)
    password = re.search(r"Password:\s+(\S+)", credentials)
    assert link and password, credentials
    first = browser.new_context(viewport=DESKTOP)
    page = first.new_page()
    page.goto(link[1])  # the email's link, a first time: the lab, no password typed
    lab_shows_the_notebook(page, seat[1])
    first.close()

    phone = browser.new_context(viewport=PHONE, locale="en-US")
    page = phone.new_page()
    page.goto(link[1])  # a second time: used, the login page with the user name filled in
    login_page_for(page, seat[1])
    screens.take(page, "hub login after a used link")
    accessible(page, "the hub's login page")
    page.fill("#password_input", password[1])
    page.locator("form [type=submit]").click()
    lab_shows_the_notebook(page, seat[1])
    phone.close()
    end_and_clean(stack)  # its CLEANUP stops the seat's server through the hub


def end_and_clean(stack: Stack) -> None:
    """End the test's registration now and wait for its CLEANUP."""
    with stack.ctx.db.read() as s:
        rid = s.scalars(select(Registration.id)).one()
    end_now(stack.ctx, rid, by_admin=False)
    stack.wake()

    def cleaned() -> bool:
        with stack.ctx.db.read() as s:
            registration = s.get(Registration, rid)
            return registration is not None and registration.state is RegistrationState.ended

    wait_for(cleaned, 120, "the CLEANUP")


def test_a_start_link_past_its_expiry_or_used_before_a_restart_logs_in_no_more(
    real_time_stack: Stack, browser: Browser
) -> None:
    stack = real_time_stack
    body = {"workshop": SLUG, "email": EMAIL, "name": "K", "company": "N", "accept_terms": True}
    assert httpx.post(f"{stack.api.url}/api/v1/registrations", json=body).status_code == 201
    welcome = stack.wait_mail(EMAIL, "credentials")["text"]
    seat = re.search(r"User name:\s+(\S+)", welcome)
    manage = re.search(r"(http\S+/manage/[\w-]+)", welcome)
    assert seat and manage, welcome
    username = seat[1]

    def start_link() -> str:
        answer = httpx.get(f"{manage[1]}/start")
        assert answer.status_code == 303
        return answer.headers["location"]

    validity = timedelta(seconds=stack.ctx.settings.hub.start_link_validity)
    stack.clock.advance(-validity - timedelta(minutes=1))  # made long ago: expired now
    expired = start_link()
    stack.clock.advance(validity + timedelta(minutes=1))
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(expired)
    login_page_for(page, username)
    context.close()

    used = start_link()
    with httpx.Client() as web:
        assert web.get(used).headers["location"].startswith(f"/user/{username}/lab/tree/")
    hub = stack.local.hub
    hub.stop()
    hub.start()
    after = httpx.get(used)  # the same link after the hub restarted: still used
    assert after.status_code == 302
    assert after.headers["location"].startswith(f"/hub/login?username={username}")
    fresh = httpx.get(start_link())
    assert fresh.headers["location"].startswith(f"/user/{username}/lab/tree/")

    leftover = start_link()  # made while the seat runs, used after it ended
    end_and_clean(stack)
    gone = httpx.get(leftover)  # the seat's hub user is gone: nothing to open
    assert gone.status_code == 302
    assert gone.headers["location"].startswith(f"/hub/login?username={username}")
    log = (stack.ctx.settings.hub.dir / "jupyterhub.log").read_text()
    assert f"start link for '{username}' from 127.0.0.1 refused" in log  # the expired one
    assert f"start link for '{username}' from 127.0.0.1 used already" in log
    assert f"start link for '{username}' from 127.0.0.1 refused: made before the seat" in log
