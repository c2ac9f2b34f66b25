"""A participant's side, over HTTPS: the portal's form, the api, the hub's login and contents."""

from __future__ import annotations

import re
import ssl
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

WORKSHOP = "WKSHP-Deploy101"
T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float, what: str) -> T:
    """Poll ``check`` until it returns something truthy (conditions, never fixed sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def client(base_url: str, ca_bundle: Path) -> httpx.Client:
    """An HTTPS client that trusts the environment's self-signed certificates, and no other."""
    trust = ssl.create_default_context(cafile=str(ca_bundle))
    return httpx.Client(base_url=base_url, verify=trust, timeout=60, follow_redirects=True)


def register_in_portal(web: httpx.Client, email: str, name: str) -> httpx.Response:
    """Fill in the workshop page's form (with its CSRF token and cookie) and send it."""
    page = web.get(f"/workshops/{WORKSHOP}")
    page.raise_for_status()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text[:500]
    form = {
        "email": email,
        "name": name,
        "company": "Deploy Tests Inc",
        "accept_terms": "yes",
        "csrf_token": token[1],
    }
    return web.post(f"/workshops/{WORKSHOP}/register", data=form)


def register_in_api(web: httpx.Client, email: str, name: str) -> dict[str, Any]:
    """``POST /api/v1/registrations``; the registration (AssertionError when refused)."""
    body = {
        "workshop": WORKSHOP,
        "email": email,
        "name": name,
        "company": "Deploy Tests Inc",
        "accept_terms": True,
    }
    answer = web.post("/api/v1/registrations", json=body)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def hub_login_form(hub: httpx.Client, username: str, password: str) -> httpx.Response:
    """Send JupyterHub's login form (it needs ``_xsrf``); the answer, whatever it is."""

    def login_page() -> str | None:  # a hub that just started may not answer yet (502)
        try:
            page = hub.get("/hub/login")
        except httpx.HTTPError:
            return None
        cookies = [c.value for c in hub.cookies.jar if c.name == "_xsrf" and c.path == "/hub/"]
        return cookies[0] if page.status_code == 200 and cookies and cookies[0] else None

    xsrf = wait_for(login_page, 120, "the hub's login page")
    return hub.post(
        f"/hub/login?next=/user/{username}/lab",
        data={"username": username, "password": password, "_xsrf": xsrf},
    )


def hub_login(hub: httpx.Client, username: str, password: str) -> None:
    """Log in to JupyterHub and wait for the seat's JupyterLab."""
    answer = hub_login_form(hub, username, password)
    assert answer.status_code in (200, 424) and "/hub/login" not in str(answer.url), (
        f"login of {username} refused: {answer.status_code} {answer.url}"
    )
    if answer.status_code == 424:
        # JupyterHub's "your server is not running" page (after the hub host restarted, the
        # seat's server is gone): the participant clicks its button, which is this request.
        hub.get(f"/hub/spawn/{username}")

    def lab_ready() -> bool:  # the seat's server may still be starting
        page = hub.get(f"/user/{username}/lab")
        return page.status_code == 200 and f"/user/{username}/lab" in str(page.url)

    wait_for(lab_ready, 120, f"the JupyterLab of {username}")


def notebook_text(hub: httpx.Client, username: str) -> str:
    """The text of the workshop's first notebook in the seat, through the contents API."""
    answer = hub.get(f"/user/{username}/api/contents/{WORKSHOP}/0-ReadMeFirst.ipynb")
    assert answer.status_code == 200, answer.text[:300]
    cells = answer.json()["content"]["cells"]
    return "\n".join("".join(c["source"]) for c in cells)
