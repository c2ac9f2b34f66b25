"""The agent is killed (SIGKILL) in the middle of a CREATE and started again: the new process
says so in its first heartbeat, the api gives the job again at once, and the participant gets
the seat — no lease has to run out (the api's clock does not move in this test), no
registration is lost. Real ``wod backend run`` processes, a real JupyterHub."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import SAMPLE_CONTENT
from tests.e2e.conftest import wait_for
from tests.factories import seed
from tests.servers import ApiServer
from tests.stack import settings_env, stack_settings
from wod.context import AppContext, build_context
from wod.db.models import Email, Job, Registration
from wod.domain.clock import FakeClock
from wod.domain.states import EmailState, JobState, RegistrationState
from wod.hub.process import HubProcess
from wod.services.registrations import RegistrationRequest, register
from wod.web.app import create_app

pytestmark = pytest.mark.hub

WORKSHOP = "WKSHP-Python101"


def hook_layer(root: Path, marks: Path) -> Path:
    """A content layer holding only a ``create`` hook of the workshop that says it started
    (with its pid) and waits until the test lets it go."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    hook = scripts / f"create-{WORKSHOP}.sh"
    hook.write_text(
        f"#!/bin/sh\necho $$ >> {marks}/started\nwhile [ ! -e {marks}/go ]; do sleep 0.1; done\n"
    )
    hook.chmod(0o755)
    return root


class Agents:
    """``wod backend run`` child processes of one location, their output in files."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.running: list[subprocess.Popen[bytes]] = []

    def start(self, name: str) -> subprocess.Popen[bytes]:
        with (self.folder / f"agent-{name}.log").open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "wod", "backend", "run"],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.running.append(process)
        return process

    def stop(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


@pytest.fixture
def marks(tmp_path: Path) -> Path:
    folder = tmp_path / "marks"
    folder.mkdir()
    return folder


def hook_pids(marks: Path) -> list[int]:
    started = marks / "started"
    return [int(line) for line in started.read_text().split()] if started.exists() else []


def test_an_agent_killed_during_a_create_gets_its_job_again_when_it_restarts(
    tmp_path: Path, database_url: str, clock: FakeClock, marks: Path
) -> None:
    layer = hook_layer(tmp_path / "hooks", marks)
    settings = stack_settings(tmp_path, database_url, content=[SAMPLE_CONTENT, layer])
    ctx: AppContext = build_context(settings, clock=clock)
    token = seed(ctx, hub_url=settings.hub.public_url)
    env = {
        **os.environ,
        **settings_env(settings),
        "WOD_BACKEND__TOKEN": token,
        "WOD_BACKEND__HEARTBEAT_INTERVAL": "0.5",
        "WOD_BACKEND__POLL_INTERVAL": "0.1",
        "WOD_BACKEND__CONTENT_CACHE": str(tmp_path / "content-cache"),
        "WOD_HUB__DIR": str(settings.hub.dir),
    }
    agents = Agents(env, tmp_path)
    api = ApiServer(create_app(ctx), port=settings.api.port)
    hub = HubProcess(settings)
    try:
        hub.start()
        api.start()
        registration_id = register(
            ctx, RegistrationRequest(WORKSHOP, "ada@example.org", "Ada", "Acme", True)
        ).id

        first = agents.start("first")
        (hook,) = wait_for(lambda: hook_pids(marks), 120, "the CREATE's hook to start")
        first.send_signal(signal.SIGKILL)  # a power cut of the agent, mid-CREATE
        first.wait(30)
        os.killpg(hook, signal.SIGKILL)  # its hook ran in a process group of its own
        with ctx.db.read() as s:
            (job,) = s.scalars(select(Job))
            assert (job.state, job.attempts) == (JobState.running, 1)  # leased, for nobody

        (marks / "go").touch()  # the second attempt's hook goes through
        agents.start("second")

        def active() -> bool:
            with ctx.db.read() as s:
                row = s.get(Registration, registration_id)
                return row is not None and row.state is RegistrationState.active

        wait_for(active, 180, "the registration to be active after the restart")
        with ctx.db.read() as s:
            (job,) = s.scalars(select(Job))
            assert (job.state, job.attempts) == (JobState.done, 2)
            assert "attempt 1 failed: the agent restarted while running it" in job.log
            assert "lease expired" not in job.log

        def credentials_sent() -> bool:
            with ctx.db.read() as s:
                sent = s.scalars(
                    select(Email.kind).where(
                        Email.registration_id == registration_id,
                        Email.state == EmailState.sent,
                    )
                )
                return "credentials" in list(sent)

        wait_for(credentials_sent, 60, "the credentials email")
    finally:
        for pid in hook_pids(marks):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        agents.stop()
        if api.thread.is_alive():
            api.stop()
        hub.stop()
        ctx.close()
