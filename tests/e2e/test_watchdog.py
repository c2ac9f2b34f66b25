"""The abuse watchdog on real processes of real seat accounts (system mode): a CPU burner is
killed, its registration ended and its seat purged; a whitelisted kernel is left alone."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from tests.e2e.conftest import UID_BASE, wait_for
from tests.factories import seed
from tests.servers import serve
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.backend.watchdog import AbuseWatchdog
from wod.context import AppContext
from wod.db.models import Job, Registration
from wod.domain.states import RegistrationState
from wod.hub.client import FakeHub
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.system import SystemAccounts, seat_by_uid
from wod.services.registrations import RegistrationRequest, register
from wod.settings import WatchdogSettings
from wod.web.app import create_app

BURN = ["/usr/bin/python3", "-c", "while True: pass"]


@pytest.fixture
def launched() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.kill()
        process.wait(10)


def as_seat(processes: list[subprocess.Popen[bytes]], user: str, *command: str) -> psutil.Process:
    launcher = subprocess.Popen(
        ["runuser", "-u", user, "--", *command],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(launcher)
    uid = UID_BASE + int(user.removeprefix("student"))
    return wait_for(
        lambda: next(
            (
                c
                for c in psutil.Process(launcher.pid).children(recursive=True)
                if c.uids().real == uid
            ),
            None,
        ),
        10,
        f"a process of {user}",
    )


def test_cpu_burner_killed_kernel_spared(
    ctx: AppContext, system_students: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    settings = ctx.settings.model_copy(
        update={
            "backend": ctx.settings.backend.model_copy(
                update={
                    "students_dir": system_students,
                    "account_mode": "system",
                    "uid_base": UID_BASE,
                }
            )
        }
    )
    accounts = SystemAccounts(UID_BASE)
    verbs = Verbs(
        settings, ctx.content, LocalSeatFiles(system_students, accounts.owner), FakeHub(), accounts
    )
    token = seed(ctx)
    with serve(create_app(ctx, background=False)) as server:
        client = ApiClient(server.url, token)
        agent = Agent(client, verbs, poll_interval=0.01, workers=1)
        rid = register(
            ctx, RegistrationRequest("WKSHP-Python101", "miner@example.org", "M", "C", True)
        ).id
        assert agent.run_once()  # CREATE: student1 exists and holds the seat
        accounts.prepare(2, "student2", system_students / "student2")
        burner = as_seat(launched, "student1", *BURN)
        kernel = as_seat(
            launched,
            "student2",
            "bash",
            "-c",
            "exec -a ipykernel_launcher " + " ".join(f"'{a}'" for a in BURN),
        )
        now = [0.0]
        reported = []

        def report(abuse):  # type: ignore[no-untyped-def]
            reported.append(abuse)
            client.report_abuse(int(abuse.seat.removeprefix("student")), abuse.reason)

        watchdog = AbuseWatchdog(
            WatchdogSettings(cpu_percent=50, period=60, interval=0.1),
            seat_by_uid(UID_BASE),
            accounts,
            report,
            clock=lambda: now[0],
        )
        assert watchdog.scan() == []  # first look: CPU is measured from here
        time.sleep(0.5)  # let the burner burn: the CPU figure is real
        assert watchdog.scan() == []  # hot, but not for the period yet
        now[0] = 61.0
        time.sleep(0.5)
        (abuse,) = watchdog.scan()
        assert abuse.seat == "student1" and "CPU" in abuse.reason
        wait_for(
            lambda: not burner.is_running() or burner.status() == psutil.STATUS_ZOMBIE,
            10,
            "the burner to die",
        )
        assert kernel.is_running() and kernel.status() != psutil.STATUS_ZOMBIE
        with ctx.db.read() as s:
            reg = s.get(Registration, rid)
            jobs = [j.verb.value for j in s.scalars(select(Job).order_by(Job.id))]
        assert reg is not None and reg.state is RegistrationState.ended
        assert reg.ended_reason == "abuse" and jobs == ["CREATE", "PURGE"]
        assert agent.run_once()  # the PURGE
        assert not (system_students / "student1").exists()
        client.close()


def test_deny_listed_commands_die_at_once(
    ctx: AppContext, system_students: Path, launched: list[subprocess.Popen[bytes]]
) -> None:
    accounts = SystemAccounts(UID_BASE)
    accounts.prepare(3, "student3", system_students / "student3")
    miner = as_seat(launched, "student3", "bash", "-c", "exec -a xmrig sleep 600")
    reported = []
    watchdog = AbuseWatchdog(WatchdogSettings(), seat_by_uid(UID_BASE), accounts, reported.append)
    (abuse,) = watchdog.scan()
    assert abuse.seat == "student3" and "deny-listed" in abuse.reason and reported == [abuse]
    wait_for(
        lambda: not miner.is_running() or miner.status() == psutil.STATUS_ZOMBIE,
        10,
        "the miner to die",
    )
