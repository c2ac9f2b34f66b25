"""The agent is killed (SIGKILL) in the middle of a CREATE, or of a CLEANUP, and started again:
the new process says so in its first heartbeat, the api gives the job again at once, and the
participant gets the seat, or the seat is freed and the registration ends with its final
email sent once — no lease has to run out (the api's clock does not move in these tests), no
registration is lost. Real ``wod backend run`` processes, a real JupyterHub."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import SAMPLE_CONTENT
from tests.e2e.conftest import wait_for
from tests.factories import seed
from tests.servers import ApiServer
from tests.stack import hub_launcher, settings_env, stack_settings
from wod.context import AppContext, build_context
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState, Verb
from wod.hub.process import HubProcess
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.manage import end_now
from wod.web.app import create_app

pytestmark = pytest.mark.hub

WORKSHOP = "WKSHP-Python101"


def hook_layer(root: Path, marks: Path, verb: str) -> Path:
    """A content layer holding only a ``verb`` hook (``create``, ``cleanup``) of the workshop
    that says it started (with its pid) and waits until the test lets it go."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    hook = scripts / f"{verb}-{WORKSHOP}.sh"
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


@dataclass
class Stack:
    """A real hub, the api in a thread, a registration, and the agents to start and kill."""

    ctx: AppContext
    agents: Agents
    marks: Path
    registration_id: int

    def hook_pids(self) -> list[int]:
        started = self.marks / "started"
        return [int(line) for line in started.read_text().split()] if started.exists() else []

    def kill_agent_mid_hook(self, agent: subprocess.Popen[bytes], what: str) -> None:
        """Wait for the hook to start, then cut the power of the agent and of its hook."""
        (hook,) = wait_for(self.hook_pids, 120, f"the {what}'s hook to start")
        agent.send_signal(signal.SIGKILL)
        agent.wait(30)
        os.killpg(hook, signal.SIGKILL)  # its hook ran in a process group of its own

    def state(self) -> RegistrationState | None:
        with self.ctx.db.read() as s:
            row = s.get(Registration, self.registration_id)
            return row.state if row is not None else None

    def sent(self, kind: str) -> bool:
        with self.ctx.db.read() as s:
            kinds = s.scalars(
                select(Email.kind).where(
                    Email.registration_id == self.registration_id, Email.state == EmailState.sent
                )
            )
            return kind in list(kinds)


@contextlib.contextmanager
def stack(tmp_path: Path, database_url: str, clock: FakeClock, verb: str) -> Iterator[Stack]:
    marks = tmp_path / "marks"
    marks.mkdir()
    layer = hook_layer(tmp_path / "hooks", marks, verb)
    settings = stack_settings(tmp_path, database_url, content=[SAMPLE_CONTENT, layer])
    ctx = build_context(settings, clock=clock)
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
    hub = HubProcess(settings, launcher=hub_launcher(settings))
    built: Stack | None = None
    try:
        hub.start()
        api.start()
        request = RegistrationRequest(WORKSHOP, "ada@example.org", "Ada", "Acme", True)
        built = Stack(ctx, agents, marks, register(ctx, request).id)
        yield built
    finally:
        for pid in built.hook_pids() if built else []:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        agents.stop()
        if api.thread.is_alive():
            api.stop()
        hub.stop()
        ctx.close()


def test_an_agent_killed_during_a_create_gets_its_job_again_when_it_restarts(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    with stack(tmp_path, database_url, clock, "create") as built:
        built.kill_agent_mid_hook(built.agents.start("first"), "CREATE")
        with built.ctx.db.read() as s:
            (job,) = s.scalars(select(Job))
            assert (job.state, job.attempts) == (JobState.running, 1)  # leased, for nobody

        (built.marks / "go").touch()  # the second attempt's hook goes through
        built.agents.start("second")
        wait_for(
            lambda: built.state() is RegistrationState.active,
            180,
            "the registration to be active after the restart",
        )
        with built.ctx.db.read() as s:
            (job,) = s.scalars(select(Job))
            assert (job.state, job.attempts) == (JobState.done, 2)
            assert "attempt 1 failed: the agent restarted while running it" in job.log
            assert "lease expired" not in job.log
        wait_for(lambda: built.sent("credentials"), 60, "the credentials email")


@pytest.mark.faults
def test_an_agent_killed_during_a_cleanup_gets_it_again_when_it_restarts(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    with stack(tmp_path, database_url, clock, "cleanup") as built:
        first = built.agents.start("first")
        wait_for(lambda: built.state() is RegistrationState.active, 240, "the seat to be ready")
        end_now(built.ctx, built.registration_id, by_admin=True)  # the CLEANUP is queued
        built.kill_agent_mid_hook(first, "CLEANUP")
        with built.ctx.db.read() as s:
            (cleanup,) = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP))
            assert (cleanup.state, cleanup.attempts) == (JobState.running, 1)  # for nobody

        (built.marks / "go").touch()  # the second attempt's hook goes through
        built.agents.start("second")
        wait_for(
            lambda: built.state() is RegistrationState.ended,
            240,
            "the registration to end after the restart",
        )
        wait_for(lambda: built.sent("final"), 120, "the final email")
        with built.ctx.db.read() as s:
            (cleanup,) = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP))
            assert (cleanup.state, cleanup.attempts) == (JobState.done, 2)
            assert "attempt 1 failed: the agent restarted while running it" in cleanup.log
            assert "lease expired" not in cleanup.log
            row = s.get(Registration, built.registration_id)
            assert row is not None
            seat = s.get(Seat, row.seat_id)
            assert seat is not None and seat.state is SeatState.free  # held by nobody: freed
            assert all(seat.state is SeatState.free for seat in s.scalars(select(Seat)))
            kinds = Counter(e.kind for e in s.scalars(select(Email)))
            assert all(n == 1 for n in kinds.values()), kinds  # no email twice
