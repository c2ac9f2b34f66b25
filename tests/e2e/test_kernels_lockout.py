"""On a real JupyterHub: every kernel ``hub.kernels`` declares starts in a seat and runs a cell,
in both account modes; a bash-kernel notebook of a sample workshop executes through the kernel
API and its completion counts; repeated wrong passwords lock a seat out for a while, and the
start button of the participant's manage page (a one-click start link) lifts that lockout."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.conftest import UID_BASE, SeatBlock, wait_for
from tests.e2e.test_end_to_end import credentials, login, xsrf_of
from tests.factories import make_workshop
from tests.stack import LocalStack, local_stack, stack_settings
from wod.domain.clock import FakeClock
from wod.settings import Settings

pytestmark = pytest.mark.hub
SHELL = "WKSHP-Shell101"
LAB = "1-WKSHP-Navigating.ipynb"


@pytest.fixture
def hub_stack(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[LocalStack]:
    settings = stack_settings(tmp_path, database_url)
    hub = settings.hub.model_copy(update={"lockout_attempts": 3, "lockout_duration": 3.0})
    with local_stack(settings.model_copy(update={"hub": hub}), clock) as stack:
        yield stack


def register(stack: LocalStack, email: str, workshop: str) -> tuple[str, str]:
    body = {"workshop": workshop, "email": email, "name": "N", "company": "C", "accept_terms": True}
    assert httpx.post(f"{stack.api.url}/api/v1/registrations", json=body).status_code == 201

    def mail() -> dict[str, str] | None:
        found: list[dict[str, str]] = httpx.get(f"{stack.api.url}/api/v1/dev/mail").json()
        return next((m for m in found if m["to"] == email and "credentials" in m["subject"]), None)

    return credentials(wait_for(mail, 60, "the credentials")["text"])


async def execute(ws_url: str, cookies: str, code: str) -> tuple[int, str]:
    """Run ``code`` in a kernel over its websocket (the Jupyter messaging protocol)."""
    session, msg_id = uuid.uuid4().hex, uuid.uuid4().hex
    request = {
        "header": {
            "msg_id": msg_id,
            "username": "test",
            "session": session,
            "msg_type": "execute_request",
            "version": "5.3",
            "date": datetime.now(UTC).isoformat(),
        },
        "parent_header": {},
        "metadata": {},
        "channel": "shell",
        "buffers": [],
        "content": {
            "code": code,
            "silent": False,
            "store_history": True,
            "user_expressions": {},
            "allow_stdin": False,
            "stop_on_error": True,
        },
    }
    output, count, idle = [], None, False
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookies}) as ws:
        await ws.send(json.dumps(request))
        # the reply (shell channel) may come before the last output (iopub): the kernel is done
        # with the request when it says it is idle again
        while count is None or not idle:
            message = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if message.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if message["msg_type"] == "stream":
                output.append(message["content"]["text"])
            elif message["msg_type"] == "execute_reply":
                assert message["content"]["status"] == "ok", message["content"]
                count = message["content"]["execution_count"]
            elif message["msg_type"] == "status":
                idle = message["content"]["execution_state"] == "idle"
    return count, "".join(output)


#: A cell for each kernel wod knows and what it prints: ``6 * 7``, then the seat's user name.
CELLS = {
    "python3": "import getpass\nprint(6 * 7)\nprint(getpass.getuser())",
    "bash": "echo $((6 * 7))\nwhoami",
}
DEFAULT_KERNELS = Settings().hub.kernels


def start_kernel(hub_url: str, web: httpx.Client, username: str, path: str, name: str) -> str:
    """A new session of kernel ``name`` on ``path`` in the seat's server; its channels URL."""
    base = f"/user/{username}/api"
    started = web.post(
        f"{base}/sessions",
        json={"path": path, "type": "notebook", "kernel": {"name": name}},
        headers={"X-XSRFToken": xsrf_of(web, f"/user/{username}/")},
    )
    assert started.status_code == 201, started.text
    assert started.json()["kernel"]["name"] == name
    kernel = started.json()["kernel"]["id"]
    return hub_url.replace("http", "ws") + f"{base}/kernels/{kernel}/channels"


@pytest.mark.parametrize("mode", ["hub", "system"])
@pytest.mark.parametrize("kernel", DEFAULT_KERNELS)
def test_every_declared_kernel_starts_in_a_seat_and_runs_a_cell(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    database_url: str,
    clock: FakeClock,
    seat_block: SeatBlock,
    kernel: str,
    mode: str,
) -> None:
    if kernel not in CELLS:
        pytest.fail(f"hub.kernels declares {kernel!r}: add a cell for it to CELLS")
    layer = tmp_path / "kernels-content"
    make_workshop(layer, "WKSHP-Kernels", seat_block.seats(2))
    extra: dict[str, Any] = {}
    if mode == "system":
        extra = {
            "students_dir": request.getfixturevalue("system_students"),
            "singleuser_venv": request.getfixturevalue("singleuser_venv"),
            "uid_base": UID_BASE,
        }
    settings = stack_settings(tmp_path, database_url, content=[layer], mode=mode, **extra)
    assert settings.hub.kernels == DEFAULT_KERNELS
    with local_stack(settings, clock, seat_block.seats(2)) as stack:
        username, password = register(stack, "kernel@example.org", "WKSHP-Kernels")
        hub_url = settings.hub.public_url
        with closing(login(hub_url, username, password)) as web:
            path = "WKSHP-Kernels/0-ReadMeFirst.ipynb"
            ws_url = start_kernel(hub_url, web, username, path, kernel)
            cookies = "; ".join(f"{c.name}={c.value}" for c in web.cookies.jar)
            count, out = asyncio.run(execute(ws_url, cookies, CELLS[kernel]))
    assert count == 1
    lines = out.split()
    assert lines[0] == "42", out
    if mode == "system":  # the kernel runs as the seat's own Linux user
        assert lines[1] == username, out


def test_bash_notebook_runs_in_the_hub_and_counts(hub_stack: LocalStack, clock: FakeClock) -> None:
    username, password = register(hub_stack, "bash@example.org", SHELL)
    with closing(login(hub_stack.ctx.settings.hub.public_url, username, password)) as web:
        base = f"/user/{username}/api"
        path = f"{SHELL}/{LAB}"
        notebook = web.get(f"{base}/contents/{path}").json()["content"]
        assert notebook["metadata"]["kernelspec"]["name"] == "bash"
        started = web.post(
            f"{base}/sessions",
            json={"path": path, "type": "notebook", "kernel": {"name": "bash"}},
            headers={"X-XSRFToken": xsrf_of(web, f"/user/{username}/")},
        )
        assert started.status_code == 201, started.text
        kernel = started.json()["kernel"]["id"]
        cookies = "; ".join(f"{c.name}={c.value}" for c in web.cookies.jar)
        ws_url = (
            hub_stack.ctx.settings.hub.public_url.replace("http", "ws")
            + f"{base}/kernels/{kernel}/channels"
        )
        codes = [c for c in notebook["cells"] if c["cell_type"] == "code"]
        for cell in codes[:2]:
            count, out = asyncio.run(execute(ws_url, cookies, "".join(cell["source"])))
            cell["execution_count"] = count  # what JupyterLab saves after running the cell
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": out}]
        assert codes[0]["execution_count"] == 1 and codes[1]["execution_count"] == 2
        saved = web.put(
            f"{base}/contents/{path}",
            json={"type": "notebook", "format": "json", "content": notebook},
            headers={"X-XSRFToken": xsrf_of(web, f"/user/{username}/")},
        )
        assert saved.status_code == 200
    clock.advance(timedelta(hours=3))
    hub_stack.wake()

    def final() -> dict[str, Any] | None:
        found: list[dict[str, Any]] = httpx.get(f"{hub_stack.api.url}/api/v1/dev/mail").json()
        return next((m for m in found if "Thanks" in m["subject"]), None)

    assert "Completion: 7 %" in wait_for(final, 60, "the final email")["text"]  # 2 of 27 cells


def test_repeated_wrong_passwords_lock_the_seat_for_a_while(hub_stack: LocalStack) -> None:
    username, password = register(hub_stack, "lock@example.org", "WKSHP-Python101")
    hub_url = hub_stack.ctx.settings.hub.public_url
    for _ in range(3):
        with pytest.raises(PermissionError):
            login(hub_url, username, "wrong-password")
    with pytest.raises(PermissionError):  # locked: even the right password is refused
        login(hub_url, username, password)

    def lifted() -> bool:
        try:
            login(hub_url, username, password).close()
        except PermissionError:
            return False
        return True

    wait_for(lifted, 30, "the lockout to lift")
    log = (hub_stack.ctx.settings.hub.dir / "jupyterhub.log").read_text()
    assert f"seat {username} locked out" in log and "is locked out for" in log


@pytest.fixture
def locking_stack(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[LocalStack]:
    """Lockouts that do not run out during the test: only an unlock link lifts them."""
    settings = stack_settings(tmp_path, database_url)
    hub = settings.hub.model_copy(
        update={"lockout_attempts": 3, "lockout_seat_attempts": 3, "lockout_duration": 3600.0}
    )
    with local_stack(settings.model_copy(update={"hub": hub}), clock) as stack:
        yield stack


def test_the_manage_pages_start_button_lifts_the_lockout_of_its_own_seat(
    locking_stack: LocalStack, clock: FakeClock
) -> None:
    stack = locking_stack
    # the api signs unlock tokens on its clock, the hub checks them on the host's: in
    # production both tell the real time
    clock.set(max(clock.now(), datetime.now(UTC)))
    username, password = register(stack, "unlock@example.org", "WKSHP-Python101")
    found: list[dict[str, str]] = httpx.get(f"{stack.api.url}/api/v1/dev/mail").json()
    welcome = next(m for m in found if m["to"] == "unlock@example.org" and "/manage/" in m["text"])
    manage = re.search(r"(http\S+/manage/[\w-]+)", welcome["text"])
    assert manage, welcome["text"]
    hub_url = stack.ctx.settings.hub.public_url
    for _ in range(3):
        with pytest.raises(PermissionError):
            login(hub_url, username, "wrong-password")
    with pytest.raises(PermissionError):  # locked, and it does not run out by itself
        login(hub_url, username, password)
    forged = httpx.get(
        f"{hub_url}/hub/wod-start/{username}",
        params={"token": "1000.9999999999.0123456789abcdef0123.0123456789abcdef0123456789abcdef"},
    )
    assert forged.status_code == 302
    assert forged.headers["location"] == f"/hub/login?username={username}"
    with pytest.raises(PermissionError):  # a forged token lifts nothing
        login(hub_url, username, password)
    clock.set(max(clock.now(), datetime.now(UTC)))  # the seat's hub user was made meanwhile
    start = httpx.get(f"{manage[1]}/start")
    assert start.status_code == 303
    assert start.headers["location"].startswith(f"{hub_url}/hub/wod-start/{username}?token=")
    with httpx.Client() as web:  # what the browser does next: it is logged in
        started = web.get(start.headers["location"])
        assert started.status_code == 302
        assert started.headers["location"] == (
            f"/user/{username}/lab/tree/WKSHP-Python101/0-ReadMeFirst.ipynb"
        )
        assert any(c.name == "jupyterhub-hub-login" for c in web.cookies.jar)
    login(hub_url, username, password).close()  # the lockout is lifted for the password too
    log = (stack.ctx.settings.hub.dir / "jupyterhub.log").read_text()
    assert f"seat {username} locked out" in log
    assert f"start link for '{username}' from 127.0.0.1 refused" in log
    assert f"seat {username} unlocked by its participant's link" in log
