"""The seats' JupyterLab extension in a real browser (Chromium) on a real hub: the time left
matches the api's, progress moves when a cell runs, Extend and End now work from the lab, the
reminders come at 15 and 5 minutes, the "Time's up" page replaces the lab once the seat ends,
no news pop-up, and a 390 px phone gets the simple mode with the panel collapsed. The panel
and the Time's up page are checked by axe-core and photographed like the portal's pages."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser import ARTIFACTS, PHONE, Screens, axe_violations, chromium
from tests.e2e.conftest import Stack, wait_for
from tests.e2e.test_end_to_end import credentials
from wod.hub.lab import LAB_FILE, LAB_FOLDER

pytestmark = pytest.mark.hub
WORKSHOP = "WKSHP-Python101"
NEWS = "Would you like to get notified"
NOTIFY = "@jupyterlab/apputils-extension:notification"
#: The defaults of a lab plugin's settings, as the seat's server answers them (with its XSRF).
SETTINGS_DEFAULTS = """async (url) => {
  const xsrf = decodeURIComponent((document.cookie.match(/_xsrf=([^;]+)/) || [])[1] || '');
  const answer = await fetch(url, {headers: {'X-XSRFToken': xsrf}});
  if (!answer.ok) throw new Error(`${answer.status} ${await answer.text()}`);
  return (await answer.json()).schema.properties;
}"""
LAB_WAIT = 120_000  # ms: a seat's server starts and JupyterLab loads on a loaded machine


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as running:
        yield running


@pytest.fixture
def screens(request: pytest.FixtureRequest, database_url: str) -> Screens:
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    return Screens(ARTIFACTS / backend / request.node.name)


def register(stack: Stack, email: str) -> tuple[str, str, str]:
    """Register ``email``; its seat's user name, password and start link."""
    body = {"workshop": WORKSHOP, "email": email, "name": "N", "company": "C", "accept_terms": True}
    assert httpx.post(f"{stack.api.url}/api/v1/registrations", json=body).status_code == 201
    text = stack.wait_mail(email, "credentials")["text"]
    start = re.search(r"http://\S+/hub/login\?next=\S+", text)
    assert start, text
    return *credentials(text), start[0]


def seat_api(stack: Stack, username: str, action: str = "status") -> dict[str, Any]:
    """The api's own answer to the seat, with the lab token the agent wrote into its home."""
    lab_file = Path(stack.ctx.settings.backend.students_dir) / username / LAB_FOLDER / LAB_FILE
    token = json.loads(lab_file.read_text())["token"]
    method = "GET" if action == "status" else "POST"
    answer = httpx.request(
        method,
        f"{stack.api.url}/api/v1/seat/{action}",
        headers={"Authorization": f"Bearer {token}"},
    )
    answer.raise_for_status()
    status: dict[str, Any] = answer.json()
    return status


def open_lab(page: Page, start: str, username: str, password: str) -> None:
    page.goto(start)
    page.fill("#username_input", username)
    page.fill("#password_input", password)
    page.click("#login_submit")
    expect(page.locator("#wod-lab-status")).to_have_text(re.compile(r"left$"), timeout=LAB_WAIT)


def shown_seconds(page: Page, selector: str) -> int:
    text = page.locator(selector).inner_text()
    found = re.search(r"(\d+):(\d\d):(\d\d)", text)
    assert found, text
    hours, minutes, seconds = (int(g) for g in found.groups())
    return hours * 3600 + minutes * 60 + seconds


def run_first_code_cell(page: Page, code: Locator) -> None:
    """Run ``code`` (the active cell) with the toolbar's run button, which acts wherever the
    keyboard's focus is. The lab sometimes drops a run, or asks for the kernel although the
    notebook names one, while the notebook's session is still starting: the python3 kernel is
    chosen and the run asked again, until the cell has an execution count."""
    run = page.locator(
        ".jp-NotebookPanel-toolbar [data-command='notebook:run-cell-and-select-next']"
    )
    prompt = code.locator(".jp-InputPrompt")
    ask = page.locator(".jp-Dialog", has_text="Select Kernel")
    last = [0.0]

    def ran() -> bool:
        if re.search(r"\[(\d+|\*)\]", prompt.inner_text()):
            return True
        if ask.count():
            ask.locator("select").select_option("python3")
            ask.locator("button", has_text="Select").click()
            last[0] = 0.0
        elif time.monotonic() - last[0] > 5:
            code.locator(".cm-content").click()
            run.click()
            last[0] = time.monotonic()
        return False

    wait_for(ran, 90, "the code cell to run")
    expect(prompt).to_contain_text(re.compile(r"\[\d+\]"), timeout=60_000)


def accessible(page: Page, what: str, within: str | None = None) -> None:
    violations = axe_violations(page, within=within)
    assert violations == [], f"{what}: " + "\n".join(violations)


def no_news_prompt(page: Page, hub_url: str, username: str) -> None:
    # the seats' overrides.json becomes the defaults of the notification settings
    defaults = page.evaluate(
        SETTINGS_DEFAULTS, f"{hub_url}/user/{username}/lab/api/settings/{NOTIFY}"
    )
    assert defaults["fetchNews"]["default"] == "false"
    assert defaults["checkForUpdates"]["default"] is False
    assert page.get_by_text(NEWS).count() == 0


def test_time_progress_extend_and_end_from_the_lab(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    username, password, start = register(stack, "lab@example.org")
    page = browser.new_page(locale="en-US")
    open_lab(page, start, username, password)
    panel = page.locator("#wod-lab-panel")
    expect(panel).to_be_visible()  # a desktop opens the panel
    expect(panel.locator("h2")).to_contain_text("Python 101")

    # the time shown runs from the server's clock (the stack's injected one, hours away from
    # the browser's): within a few seconds of the api's own figure
    api = seat_api(stack, username)
    assert abs(shown_seconds(page, "#wod-lab-left") - api["seconds_left"]) <= 5
    assert abs(shown_seconds(page, "#wod-lab-status") - api["seconds_left"]) <= 5
    expect(page.locator("#wod-lab-panel")).to_contain_text("The badge needs 50 %.")

    # progress moves when a code cell runs
    cells = page.locator("#wod-lab-cells")
    expect(cells).to_have_text(re.compile(r"^0 of \d+ code cells run \(0 %\)$"))
    total = int(re.findall(r"\d+", cells.inner_text())[1])
    expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']")).to_be_visible(
        timeout=LAB_WAIT
    )  # the kernel is up
    code = page.locator(".jp-CodeCell").first
    code.locator(".cm-content").click()
    expect(code).to_have_class(re.compile(r"\bjp-mod-active\b"))
    run_first_code_cell(page, code)
    expect(cells).to_have_text(re.compile(rf"^1 of {total} code cells run"), timeout=60_000)
    screens.take(page, "lab panel")
    accessible(page, "the lab's Workshop panel", within="#wod-lab-panel")

    # Extend once: 30 minutes more, then the button is gone
    before = datetime.fromisoformat(seat_api(stack, username)["ends_at"])
    page.click("#wod-lab-extend")
    expect(page.locator("#wod-lab-extend")).to_be_hidden()
    extended = seat_api(stack, username)
    assert datetime.fromisoformat(extended["ends_at"]) - before == timedelta(minutes=30)
    assert abs(shown_seconds(page, "#wod-lab-left") - extended["seconds_left"]) <= 5
    assert seat_api(stack, username)["can_extend"] is False

    # End now: the confirmation states the badge rule and where the seat stands
    page.click("#wod-lab-end")
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("End the workshop now?")
    expect(dialog).to_contain_text(
        re.compile(r"needs 50 % of the code cells run; you have run \d+ %")
    )
    expect(dialog).to_contain_text("You would not earn the badge.")
    screens.take(page, "end confirmation")
    dialog.locator("button", has_text="Cancel").click()
    expect(dialog).to_have_count(0)
    assert seat_api(stack, username)["status"] == "active"
    no_news_prompt(page, stack.hub_url, username)

    page.click("#wod-lab-end")
    dialog.locator("button", has_text="End now").click()
    # the Time's up page replaces the lab, and shows the outcome once the cleanup measured it
    expect(page.locator("h1")).to_have_text("Time's up", timeout=60_000)
    assert "/timesup/" in page.url
    expect(page.locator("#completion")).to_be_visible(timeout=90_000)
    expect(page.locator("#outcome")).to_contain_text("No badge this time")
    screens.take(page, "times up")
    accessible(page, "the Time's up page")
    page.close()


def test_reminders_and_the_seats_end_in_the_lab(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    username, password, start = register(stack, "remind@example.org")
    page = browser.new_page(locale="en-US")
    open_lab(page, start, username, password)
    stack.clock.advance(timedelta(hours=2) - timedelta(minutes=14))
    page.reload()
    toast = page.locator(".Toastify__toast")
    expect(toast.filter(has_text="15 minutes left in the workshop.")).to_be_visible(
        timeout=LAB_WAIT
    )
    expect(page.locator("#wod-lab-status")).to_have_class(re.compile("wod-lab-soon"))
    screens.take(page, "15 minutes reminder")
    stack.clock.advance(timedelta(minutes=10))
    page.reload()
    expect(toast.filter(has_text="5 minutes left in the workshop.")).to_be_visible(timeout=LAB_WAIT)
    # the seat's time runs out: the scheduler ends it, the lab moves to the Time's up page
    stack.clock.advance(timedelta(minutes=5))
    stack.wake()
    expect(page.locator("h1")).to_have_text("Time's up", timeout=90_000)
    assert page.get_by_text(NEWS).count() == 0
    page.close()


def test_a_phone_gets_the_simple_mode_with_the_panel_collapsed(
    stack: Stack, browser: Browser, screens: Screens
) -> None:
    username, password, start = register(stack, "phone@example.org")
    page = browser.new_page(locale="en-US", viewport=PHONE)
    open_lab(page, start, username, password)
    expect(page.locator("#main")).to_have_attribute("data-shell-mode", "single-document")
    expect(page.locator("#wod-lab-panel")).to_be_hidden()
    expect(page.locator("#wod-lab-top")).to_be_visible()  # the time, in the top bar
    api = seat_api(stack, username)
    assert abs(shown_seconds(page, "#wod-lab-top") - api["seconds_left"]) <= 5
    page.click("#wod-lab-top")  # opens the panel
    expect(page.locator("#wod-lab-panel")).to_be_visible()
    expect(page.locator("#wod-lab-end")).to_be_visible()
    page.screenshot(path=str(screens.folder / "02-lab-phone-panel.png"))
    page.screenshot(path=str(screens.folder / "01-lab-phone.png"))
    assert page.get_by_text(NEWS).count() == 0
    page.close()
