"""Registration to cleanup on the real stack (api, agent, JupyterHub, SMTP)."""

from __future__ import annotations

import json
import re
from contextlib import closing
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from tests.e2e.conftest import Stack, wait_for
from tests.stack import SPAWN_TIMEOUT
from wod.db.models import Job, Registration
from wod.domain.states import JobState, RegistrationState

pytestmark = pytest.mark.hub
EMAIL = "grace.hopper@example.org"
WORKSHOP = "WKSHP-Python101"


def login(hub_url: str, username: str, password: str) -> httpx.Client:
    """A browser-like session logged in to the hub (raises when the login is refused, or when
    the seat's server does not start; the session is closed then)."""
    web = httpx.Client(base_url=hub_url, follow_redirects=True, timeout=60)
    last: list[str] = []

    def lab_ready() -> bool:  # the seat's server may still be starting (spawn-pending page)
        page = web.get(f"/user/{username}/lab")
        last[:] = [f"{page.status_code} {page.url}"]
        return page.status_code == 200 and f"/user/{username}/lab" in str(page.url)

    try:
        web.get("/hub/login")
        answer = web.post(
            f"/hub/login?next=/user/{username}/lab",
            data={"username": username, "password": password, "_xsrf": xsrf_of(web, "/hub/")},
        )
        if answer.status_code != 200 or "/hub/login" in str(answer.url):
            raise PermissionError(f"login refused: {answer.status_code} {answer.url}")
        try:
            wait_for(lab_ready, SPAWN_TIMEOUT, f"the server of {username}")
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the hub's last answer: {last}") from None
    except BaseException:
        web.close()
        raise
    return web


def xsrf_of(web: httpx.Client, path: str) -> str:
    """The single-user server's XSRF cookie (the hub sets its own under /hub/)."""
    return next(c.value or "" for c in web.cookies.jar if c.name == "_xsrf" and c.path == path)


def credentials(text: str) -> tuple[str, str]:
    user = re.search(r"User name:\s+(\S+)", text)
    password = re.search(r"Password:\s+(\S+)", text)
    assert user and password, text
    return user[1], password[1]


def test_register_work_expire_cleanup(stack: Stack) -> None:
    answer = httpx.post(
        f"{stack.api.url}/api/v1/registrations",
        json={
            "workshop": WORKSHOP,
            "email": EMAIL,
            "name": "Grace Hopper",
            "company": "Navy",
            "accept_terms": True,
        },
    )
    assert answer.status_code == 201, answer.text
    rid = answer.json()["id"]

    stack.wait_mail(EMAIL, "Welcome")
    mail = stack.wait_mail(EMAIL, "credentials")
    username, password = credentials(mail["text"])
    assert username == "student1"
    assert f"/hub/login?next=/user/student1/lab/tree/{WORKSHOP}/0-ReadMeFirst.ipynb" in mail["text"]

    with closing(login(stack.hub_url, username, password)) as web:
        base = f"/user/{username}/api/contents/{WORKSHOP}"
        readme = web.get(f"{base}/0-ReadMeFirst.ipynb")
        assert readme.status_code == 200, readme.text
        cells = readme.json()["content"]["cells"]
        text = json.dumps(cells)
        assert "student1" in text and "{{ STDID }}" not in text

        lab_path = f"{base}/1-WKSHP-Values-and-Strings.ipynb"
        lab = web.get(lab_path).json()["content"]
        first_code = next(c for c in lab["cells"] if c["cell_type"] == "code")
        first_code["execution_count"] = 1
        saved = web.put(
            lab_path,
            json={"type": "notebook", "format": "json", "content": lab},
            headers={"X-XSRFToken": xsrf_of(web, f"/user/{username}/")},
        )
        assert saved.status_code == 200, saved.text

        stack.clock.advance(timedelta(hours=2, seconds=1))  # the workshop's 2 hours are over
        stack.wake()
        final = stack.wait_mail(EMAIL, "Thanks")
        assert "Completion: 3 %" in final["text"]  # 1 of the 27 code cells of the workshop

        with stack.ctx.db.read() as s:
            row = s.get(Registration, rid)
            assert row is not None
            assert row.state is RegistrationState.ended and row.completion == 3
            jobs = [(j.verb.value, j.state) for j in s.scalars(select(Job).order_by(Job.id))]
        assert jobs == [("CREATE", JobState.done), ("CLEANUP", JobState.done)]
        with pytest.raises(PermissionError):
            login(stack.hub_url, username, password).close()
        home = stack.ctx.settings.backend.students_dir / username
        assert not (home / WORKSHOP).exists()
        stale = web.get(f"{base}/0-ReadMeFirst.ipynb", follow_redirects=False)
        assert stale.status_code in (302, 403, 404)


def test_seat_is_given_again_after_cleanup(stack: Stack) -> None:
    """The same seat serves a second participant once the first one's session ended."""
    with stack.ctx.db.write() as s:
        from wod.db.models import Workshop

        workshop = s.scalar(select(Workshop).where(Workshop.slug == WORKSHOP))
        assert workshop is not None
        workshop.capacity, workshop.seat_max = 1, workshop.seat_min
    people = ["first@example.org", "second@example.org"]
    for person in people:
        body = {
            "workshop": WORKSHOP,
            "email": person,
            "name": "P",
            "company": "C",
            "accept_terms": True,
        }

        def registered(b: dict[str, object] = body) -> bool:
            return httpx.post(f"{stack.api.url}/api/v1/registrations", json=b).status_code == 201

        wait_for(registered, 60, f"a seat for {person}")
        username, password = credentials(stack.wait_mail(person, "credentials")["text"])
        assert username == "student1"
        login(stack.hub_url, username, password).close()
        stack.clock.advance(timedelta(hours=3))
        stack.wake()
        stack.wait_mail(person, "Thanks")
