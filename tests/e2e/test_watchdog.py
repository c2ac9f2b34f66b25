"""The abuse watchdog on real processes of real seat accounts (system mode): a CPU burner is
killed, its registration ended and its seat purged; a whitelisted kernel is left alone. CPU is
measured for real, with a threshold the test sets so low that a busy machine cannot hide a
burner."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from sqlalchemy import select

from tests.e2e.conftest import UID_BASE, SeatBlock, wait_for
from tests.factories import make_workshop, seed
from tests.servers import serve
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.backend.watchdog import Abuse, AbuseWatchdog
from wod.context import AppContext, build_context
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


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def burnt(process: psutil.Process, since: float, seconds: float) -> bool:
    """Whether ``process`` has used ``seconds`` of CPU more than ``since``: how long that
    takes depends on how busy the machine is, never what the test decides."""
    return cpu_seconds(process) >= since + seconds


@pytest.fixture
def burn_ctx(
    ctx: AppContext, tmp_path: Path, seat_block: SeatBlock
) -> Iterator[tuple[AppContext, str]]:
    """A platform whose workshop and location use this run's own seats, and its agent token."""
    layer = tmp_path / "burn-content"
    make_workshop(layer, "WKSHP-Burn", seat_block.seats(4))
    content = ctx.settings.content.model_copy(update={"paths": [layer]})
    burn = build_context(
        ctx.settings.model_copy(update={"content": content}), clock=ctx.clock, mailer=ctx.mailer
    )
    token = seed(burn, seats=seat_block.seats(20))
    yield burn, token
    burn.close()


def test_cpu_burner_killed_kernel_spared(
    burn_ctx: tuple[AppContext, str],
    system_students: Path,
    seat_block: SeatBlock,
    launched: list[subprocess.Popen[bytes]],
) -> None:
    (ctx, token), one, two = burn_ctx, seat_block.user(1), seat_block.user(2)
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
    with serve(create_app(ctx, background=False)) as server:
        client = ApiClient(server.url, token)
        agent = Agent(client, verbs, poll_interval=0.01, workers=1)
        rid = register(
            ctx, RegistrationRequest("WKSHP-Burn", "miner@example.org", "M", "C", True)
        ).id
        assert agent.run_once()  # CREATE: the first seat's account exists and holds the seat
        accounts.prepare(seat_block.n(2), two, system_students / two)
        burner = as_seat(launched, one, *BURN)
        kernel = as_seat(
            launched,
            two,
            "bash",
            "-c",
            "exec -a ipykernel_launcher " + " ".join(f"'{a}'" for a in BURN),
        )
        now = [0.0]

        def report(abuse: Abuse) -> None:
            client.report_abuse(int(abuse.seat.removeprefix("student")), abuse.reason)

        # 1 % of a core: a burner reaches it however busy the machine, a sleeper never does
        watchdog = AbuseWatchdog(
            WatchdogSettings(cpu_percent=1, period=60, interval=0.1),
            seat_by_uid(UID_BASE),
            accounts,
            report,
            clock=lambda: now[0],
        )
        assert watchdog.scan() == []  # first look: CPU is measured from here
        used = cpu_seconds(burner)
        wait_for(lambda: burnt(burner, used, 0.3), 120, "the burner to burn 0.3 s of CPU")
        assert watchdog.scan() == []  # hot, but not for the period yet
        now[0] = 61.0
        used = cpu_seconds(burner)
        wait_for(lambda: burnt(burner, used, 0.3), 120, "the burner to burn 0.3 s more")
        (abuse,) = watchdog.scan()
        assert abuse.seat == one and "CPU" in abuse.reason
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
        assert not (system_students / one).exists()
        client.close()


def test_deny_listed_commands_die_at_once(
    system_students: Path, seat_block: SeatBlock, launched: list[subprocess.Popen[bytes]]
) -> None:
    accounts = SystemAccounts(UID_BASE)
    third = seat_block.user(3)
    accounts.prepare(seat_block.n(3), third, system_students / third)
    miner = as_seat(launched, third, "bash", "-c", "exec -a xmrig sleep 600")
    # the seat's process is bash until its exec: the watchdog must meet the miner, not bash
    wait_for(lambda: miner.cmdline()[:1] == ["xmrig"], 10, "the miner to exec")
    reported: list[Abuse] = []
    watchdog = AbuseWatchdog(WatchdogSettings(), seat_by_uid(UID_BASE), accounts, reported.append)
    (abuse,) = watchdog.scan()
    assert abuse.seat == third and "deny-listed" in abuse.reason and reported == [abuse]
    wait_for(
        lambda: not miner.is_running() or miner.status() == psutil.STATUS_ZOMBIE,
        10,
        "the miner to die",
    )
