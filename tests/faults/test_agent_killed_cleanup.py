"""The agent is killed (SIGKILL) in the middle of a CLEANUP and started again (the CREATE case
is tests/e2e/test_agent_restart.py, whose helpers this reuses): the new process says so in its
first heartbeat, the api gives the CLEANUP again at once — the api's clock does not move, no
lease has to run out —, the seat is freed, the registration ends, its final email goes once.
Real ``wod backend run`` processes, a real JupyterHub."""

from __future__ import annotations

import contextlib
import os
import signal
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import SAMPLE_CONTENT
from tests.e2e.conftest import wait_for
from tests.e2e.test_agent_restart import WORKSHOP, Agents, hook_pids
from tests.factories import seed
from tests.servers import ApiServer
from tests.stack import settings_env, stack_settings
from wod.context import AppContext, build_context
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState, Verb
from wod.hub.process import HubProcess
from wod.services.registrations import RegistrationRequest, register
from wod.services.registrations.manage import end_now
from wod.web.app import create_app

pytestmark = [pytest.mark.hub, pytest.mark.faults]


def cleanup_hook_layer(root: Path, marks: Path) -> Path:
    """A content layer holding only a ``cleanup`` hook of the workshop that says it started
    (with its pid) and waits until the test lets it go."""
    scripts = root / "scripts"
    scripts.mkdir(parents=True)
    hook = scripts / f"cleanup-{WORKSHOP}.sh"
    hook.write_text(
        f"#!/bin/sh\necho $$ >> {marks}/started\nwhile [ ! -e {marks}/go ]; do sleep 0.1; done\n"
    )
    hook.chmod(0o755)
    return root


def state_of(ctx: AppContext, registration_id: int) -> RegistrationState | None:
    with ctx.db.read() as s:
        row = s.get(Registration, registration_id)
        return row.state if row is not None else None


def test_an_agent_killed_during_a_cleanup_gets_it_again_when_it_restarts(
    tmp_path: Path, database_url: str, clock: FakeClock
) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    layer = cleanup_hook_layer(tmp_path / "hooks", marks)
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
    hub = HubProcess(settings)
    try:
        hub.start()
        api.start()
        registration_id = register(
            ctx, RegistrationRequest(WORKSHOP, "ada@example.org", "Ada", "Acme", True)
        ).id
        first = agents.start("first")
        wait_for(
            lambda: state_of(ctx, registration_id) is RegistrationState.active,
            240,
            "the seat to be ready",
        )
        end_now(ctx, registration_id, by_admin=True)  # the CLEANUP is queued
        (hook,) = wait_for(lambda: hook_pids(marks), 120, "the CLEANUP's hook to start")
        first.send_signal(signal.SIGKILL)  # a power cut of the agent, mid-CLEANUP
        first.wait(30)
        os.killpg(hook, signal.SIGKILL)  # its hook ran in a process group of its own
        with ctx.db.read() as s:
            (cleanup,) = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP))
            assert (cleanup.state, cleanup.attempts) == (JobState.running, 1)  # for nobody

        (marks / "go").touch()  # the second attempt's hook goes through
        agents.start("second")
        wait_for(
            lambda: state_of(ctx, registration_id) is RegistrationState.ended,
            240,
            "the registration to end after the restart",
        )

        def final_sent() -> bool:
            with ctx.db.read() as s:
                kinds = s.scalars(
                    select(Email.kind).where(
                        Email.registration_id == registration_id, Email.state == EmailState.sent
                    )
                )
                return "final" in list(kinds)

        wait_for(final_sent, 120, "the final email")
        with ctx.db.read() as s:
            (cleanup,) = s.scalars(select(Job).where(Job.verb == Verb.CLEANUP))
            assert (cleanup.state, cleanup.attempts) == (JobState.done, 2)
            assert "attempt 1 failed: the agent restarted while running it" in cleanup.log
            assert "lease expired" not in cleanup.log
            row = s.get(Registration, registration_id)
            assert row is not None
            seat = s.get(Seat, row.seat_id)
            assert seat is not None and seat.state is SeatState.free  # held by nobody: freed
            assert all(seat.state is SeatState.free for seat in s.scalars(select(Seat)))
            kinds = Counter(e.kind for e in s.scalars(select(Email)))
            assert all(n == 1 for n in kinds.values()), kinds  # no email twice
    finally:
        for pid in hook_pids(marks):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
        agents.stop()
        if api.thread.is_alive():
            api.stop()
        hub.stop()
        ctx.close()
