"""A participant's journey in Chromium, on a real JupyterHub (the test stack: api, agent, hub,
mail catcher): from the click on Register to the lab open with the workshop's first notebook
rendered, for ``--participants`` participants one after the other with each way in, taken in
turn so that both meet the same machine load:

- **start**: the status page the form leads to turns ready by itself and its Start button
  opens the lab (no password; the credentials email's Start link does the same);
- **password**: the participant waits for the credentials email, opens its login link and
  types the user name and password it gives (typed by the browser at once: the seconds a person
  takes to copy a 16-character password are not in the figures).

Each journey ends its registration afterwards and waits for the seat's CLEANUP, so every
participant meets an idle hub. Prints median, p95 and max of each way, and for the password
the part from the login click to the notebook.

Run: .venv/bin/python -m bench.participant_journey [--participants 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select
from tests.browser import DESKTOP, chromium
from tests.e2e.conftest import wait_for
from tests.stack import SPAWN_TIMEOUT, LocalStack, local_stack, stack_settings

from bench.burst import percentile
from wod.db.migrate import upgrade
from wod.db.models import Registration
from wod.db.session import Database
from wod.domain.states import RegistrationState
from wod.services.registrations import end_now

SLUG = "WKSHP-Python101"
NOTEBOOK = "0-ReadMeFirst.ipynb"
LAB_TIMEOUT = SPAWN_TIMEOUT * 1000


def mail_to(stack: LocalStack, to: str, subject_part: str) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        answer = httpx.get(f"{stack.api.url}/api/v1/dev/mail", timeout=10)
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()
        return next((m for m in messages if m["to"] == to and subject_part in m["subject"]), None)

    return wait_for(find, 120, f"an email '{subject_part}' to {to}")


def register(page: Page, base: str, email: str) -> float:
    """Fill the workshop page's form and click Register: the moment of the click."""
    page.goto(f"{base}/workshops/{SLUG}")
    page.fill("#email", email)
    page.fill("#name", "Journey Participant")
    page.fill("#company", "Bench")
    page.check("#accept_terms")
    clicked = time.perf_counter()
    page.locator("form button[type=submit]").click()
    return clicked


def notebook_shown(page: Page) -> float:
    expect(page).to_have_url(re.compile(f"/lab/tree/{SLUG}/{NOTEBOOK}"), timeout=LAB_TIMEOUT)
    expect(page.locator(".jp-NotebookPanel .jp-Cell").first).to_be_visible(timeout=LAB_TIMEOUT)
    return time.perf_counter()


def by_start(page: Page, stack: LocalStack, email: str) -> tuple[float, float | None]:
    clicked = register(page, stack.api.url, email)
    expect(page.locator("#start")).to_be_visible(timeout=LAB_TIMEOUT)
    page.locator("#start").click()
    return notebook_shown(page) - clicked, None


def by_password(page: Page, stack: LocalStack, email: str) -> tuple[float, float | None]:
    clicked = register(page, stack.api.url, email)
    text = mail_to(stack, email, "credentials")["text"]
    login = re.search(r"(http\S+/hub/login\S*)", text)
    user = re.search(r"User name:\s+(\S+)", text)
    password = re.search(r"Password:\s+(\S+)", text)
    assert login and user and password, text
    page.goto(login[1])
    page.fill("#username_input", user[1])
    page.fill("#password_input", password[1])
    login_click = time.perf_counter()
    page.locator("form [type=submit]").click()
    shown = notebook_shown(page)
    return shown - clicked, shown - login_click


def end_and_clean(stack: LocalStack, email: str) -> None:
    with stack.ctx.db.read() as session:
        rid = session.scalars(select(Registration.id).where(Registration.email == email)).one()
    end_now(stack.ctx, rid, by_admin=False)
    stack.wake()

    def cleaned() -> bool:
        with stack.ctx.db.read() as session:
            row = session.get(Registration, rid)
            return row is not None and row.state is RegistrationState.ended

    wait_for(cleaned, 180, "the CLEANUP")


Journey = Callable[[Page, LocalStack, str], tuple[float, float | None]]


def run(stack: LocalStack, browser: Browser, participants: int) -> dict[str, list[float]]:
    ways: dict[str, Journey] = {"start": by_start, "password": by_password}
    figures: dict[str, list[float]] = {"start": [], "password": [], "login click": []}
    for n in range(participants):
        for way, journey in ways.items():
            email = f"journey-{way}-{n}@example.org"
            context = browser.new_context(viewport=DESKTOP, locale="en-US")
            try:
                total, login = journey(context.new_page(), stack, email)
            finally:
                context.close()
            figures[way].append(total)
            if login is not None:
                figures["login click"].append(login)
            print(f"  {n + 1:2}/{participants} {way:8} {total:6.2f} s", flush=True)
            end_and_clean(stack, email)
    return figures


def report(figures: dict[str, list[float]]) -> None:
    labels = {
        "start": "Register → lab, Start button",
        "password": "Register → lab, typed password",
        "login click": "  of which login click → lab",
    }
    print(f"{'':34} {'median':>8} {'p95':>8} {'max':>8}")
    for key, label in labels.items():
        values = figures[key]
        print(
            f"{label:34} {statistics.median(values):7.2f}s {percentile(values, 95):7.2f}s "
            f"{max(values):7.2f}s  ({len(values)} participants)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=20, help="per way in")
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wod-bench-journey-") as tmp:
        folder = Path(tmp)
        url = args.database_url or f"sqlite:///{folder / 'wod.sqlite3'}"
        settings = stack_settings(folder, url)
        database = Database(settings.resolved_database_url)
        upgrade(database)
        database.dispose()
        # the platform's default: welcome and credentials as one when the seat is ready soon
        settings.outbox.combine_within = timedelta(seconds=10)
        print(f"{args.participants} participants per way in, one at a time, on a real hub")
        with local_stack(settings, seats=(1, 20)) as stack, chromium() as browser:
            report(run(stack, browser, args.participants))


if __name__ == "__main__":
    main()
