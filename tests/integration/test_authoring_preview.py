"""``wod workshops preview`` against a real ``wod up`` (its JupyterHub, agent and data folder):
the printed link logs in and opens the rendered workshop, a second run prepares the seat anew,
and without a ``wod up`` it says so."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from tests.conftest import ROOT, SAMPLE_CONTENT
from tests.e2e.conftest import UpSeats, up_seats, wait_for
from wod.cli.main import app
from wod.ports import free_port, port_is_free

WORKSHOP = "WKSHP-Preview"


def wod(
    *args: str, content: Path, database_url: str, seats: UpSeats | None = None
) -> tuple[int, str]:
    env = {
        "WOD_CONTENT__PATHS": json.dumps([str(SAMPLE_CONTENT), str(content)]),
        "WOD_DATABASE_URL": database_url,
        "COLUMNS": "300",
        **(seats.env if seats else {}),
    }
    result = CliRunner().invoke(app, list(args), env=env)
    return result.exit_code, result.output


def hub_port() -> int:
    """A free port whose + 80 and + 81 (the hub process, the proxy's api) are free too."""
    port = free_port()
    while not all(port_is_free(port + n) for n in (80, 81)):
        port = free_port()
    return port


@contextmanager
def wod_up(
    data: Path, content: Path, database_url: str, api: int, hub: int, seats: UpSeats
) -> Iterator[None]:
    """``wod up`` as an author runs it, with the sample content and a private layer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(seats.env)
    env["WOD_CONTENT__PATHS"] = json.dumps([str(SAMPLE_CONTENT), str(content)])
    env["WOD_DATABASE_URL"] = database_url
    log = data.parent / "up.log"
    ports = ["--api-port", str(api), "--hub-port", str(hub), "--smtp-port", str(free_port())]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "wod", "up", "--data-dir", str(data), *ports],
            cwd=ROOT,  # where node_modules holds configurable-http-proxy
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(
            lambda: "wod is up" in log.read_text() or process.poll() is not None,
            90,
            "wod up to be ready",
        )
        assert process.poll() is None, log.read_text()
        yield
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(60) == 0, log.read_text()


def printed(out: str) -> tuple[str, str, str]:
    link = re.search(r"^open\s+(\S+)$", out, re.MULTILINE)
    user = re.search(r"^user\s+(\S+)$", out, re.MULTILINE)
    password = re.search(r"^password\s+(\S+)$", out, re.MULTILINE)
    assert link and user and password, out
    return link[1], user[1], password[1]


def open_link(link: str, username: str, password: str) -> httpx.Client:
    """Follow the printed link as a browser does: the hub's login form, then JupyterLab on the
    welcome notebook once the seat's server is up. Raises PermissionError when refused."""
    web = httpx.Client(follow_redirects=True, timeout=60)
    web.get(link)
    xsrf = next(c.value or "" for c in web.cookies.jar if c.name == "_xsrf")
    answer = web.post(link, data={"username": username, "password": password, "_xsrf": xsrf})
    if "/hub/login" in str(answer.url):
        web.close()
        raise PermissionError(f"login refused: {answer.status_code} {answer.url}")
    target = link.split("next=", 1)[1]

    def in_lab() -> bool:  # the spawn-pending page until the server answers
        page = web.get(link)
        return page.status_code == 200 and str(page.url).endswith(target)

    wait_for(in_lab, 60, f"JupyterLab of {username} on {target}")
    return web


def notebook_text(web: httpx.Client, link: str, username: str) -> str:
    base = link.split("/hub/", 1)[0]
    answer = web.get(f"{base}/user/{username}/api/contents/{WORKSHOP}/0-ReadMeFirst.ipynb")
    assert answer.status_code == 200, answer.text
    return json.dumps(answer.json()["content"]["cells"])


@pytest.mark.hub
def test_preview_opens_the_rendered_workshop_and_refreshes_it(
    tmp_path: Path, database_url: str
) -> None:
    content, data = tmp_path / "private", tmp_path / "state"
    code, out = wod("workshops", "new", WORKSHOP, content=content, database_url=database_url)
    assert code == 1 and "content folder not found" in out  # the layer does not exist yet
    content.mkdir()
    code, out = wod("workshops", "new", WORKSHOP, content=content, database_url=database_url)
    assert code == 0 and "seats 21-40" in out, out
    api, hub = free_port(), hub_port()
    with up_seats() as seats, wod_up(data, content, database_url, api, hub, seats):
        # the hub port is found in the data folder; the seat is the first past local's 1-50
        preview = (
            "workshops",
            "preview",
            WORKSHOP,
            "--data-dir",
            str(data),
            "--api-port",
            str(api),
        )
        code, out = wod(*preview, content=content, database_url=database_url, seats=seats)
        assert code == 0, out
        link, username, password = printed(out)
        assert username == "student51"
        assert link == (
            f"http://127.0.0.1:{hub}/hub/login?next=/user/student51/lab/tree/"
            f"{WORKSHOP}/0-ReadMeFirst.ipynb"
        )
        web = open_link(link, username, password)
        text = notebook_text(web, link, username)
        assert "seat = 51" in text and "`student51`" in text
        web.close()

        # the author edits the welcome notebook and runs the preview again
        readme = content / WORKSHOP / "0-ReadMeFirst.ipynb"
        readme.write_text(readme.read_text().replace("Who you are", "Who you are today"))
        code, out = wod(*preview, content=content, database_url=database_url, seats=seats)
        assert code == 0, out
        again_link, again_user, new_password = printed(out)
        assert (again_link, again_user) == (link, username) and new_password != password
        with pytest.raises(PermissionError):
            open_link(link, username, password)  # the old password is gone with the old seat
        web = open_link(link, username, new_password)
        assert "Who you are today" in notebook_text(web, link, username)
        web.close()

        # a seat a participant may be on is refused
        body = {
            "workshop": "WKSHP-Python101",
            "email": "participant@example.org",
            "name": "P",
            "company": "C",
            "accept_terms": True,
        }
        answer = httpx.post(f"http://127.0.0.1:{api}/api/v1/registrations", json=body)
        assert answer.status_code == 201, answer.text
        code, out = wod(
            *preview, "--seat", "1", content=content, database_url=database_url, seats=seats
        )
        assert code == 1
        assert re.search(r"student1 of location 'local' is (reserved|ready): a participant", out)

        # a template error fails the preview before the seat is touched
        readme.write_text(readme.read_text().replace("{{ STDID }}", "{{ NOPE }}", 1))
        code, out = wod(*preview, content=content, database_url=database_url, seats=seats)
        assert code == 1 and "NOPE" in out and "the preview of WKSHP-Preview failed" in out
        seat_copy = seats.students_dir(data) / "student51" / WORKSHOP / "0-ReadMeFirst.ipynb"
        assert "seat = 51" in seat_copy.read_text()  # the last good preview stays


def test_preview_says_when_no_wod_up_has_run_or_is_running(
    tmp_path: Path, database_url: str
) -> None:
    content = tmp_path / "private"
    content.mkdir()
    data = tmp_path / "state"
    code, out = wod(
        "workshops",
        "preview",
        "WKSHP-Python101",
        "--data-dir",
        str(data),
        content=content,
        database_url=database_url,
    )
    assert code == 1
    assert f"no wod up has run with the data folder {data}" in out
    (data / "hub").mkdir(parents=True)
    (data / "hub" / "api_token").write_text("x" * 64)
    port = free_port()  # nothing listens there
    code, out = wod(
        "workshops",
        "preview",
        "WKSHP-Python101",
        "--data-dir",
        str(data),
        "--hub-port",
        str(port),
        content=content,
        database_url=database_url,
    )
    assert code == 1
    assert f"no wod up is running: JupyterHub does not answer at http://127.0.0.1:{port}" in out
