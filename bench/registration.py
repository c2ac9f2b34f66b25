"""One participant at a time: the latency of a registration and the api's CPU per registration,
with the outbox running (each registration's welcome email delivered to an SMTP server of the
benchmark's own; no hub here, so no credentials email), on a throwaway PostgreSQL.

For each round, a fresh database and a ``wod api`` process (api, scheduler and outbox): a few
registrations to warm up, then ``--count`` registrations one after the other; the api's CPU
(user + system, from /proc) is counted from the first measured POST until its last email
arrived, and divided by the registrations. With ``--baseline REV`` the same rounds run against
that git revision too (a worktree of it), interleaved with this tree's, so both meet the same
machine load; the figures of both are printed side by side. With ``--backlog N``, N emails wait
in the outbox when the measured registrations start: their latency while the outbox drains
(and how long it took) shows whether sending competes with requests.

Run: .venv/bin/python -m bench.registration [--count 40] [--rounds 3] [--baseline REV]
         [--backlog 500]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.burst import ROOT, percentile, post_registration, postgresql, prepare, start_api
from wod.ports import free_port

WARM_UP = 5
TICKS = os.sysconf("SC_CLK_TCK")


class Sink:
    """An SMTP server that counts what it receives."""

    def __init__(self) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.count += 1
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.count < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.count} of {count} emails arrived in {timeout} s")
            time.sleep(0.01)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process so far (utime and stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


@dataclass
class Figures:
    latencies: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # seconds per registration, one per round
    drains: list[float] = field(default_factory=list)  # seconds to empty the backlog

    def line(self, label: str) -> str:
        # with a backlog the api's CPU is mostly the backlog's sending: its drain time instead
        cost = (
            f"backlog drained in {statistics.median(self.drains):5.1f} s"
            if self.drains
            else f"CPU {statistics.median(self.cpu) * 1000:6.1f} ms/registration"
        )
        return (
            f"{label:24} p50 {statistics.median(self.latencies) * 1000:6.1f} ms   "
            f"p95 {percentile(self.latencies, 95) * 1000:6.1f} ms   {cost} "
            f"({len(self.latencies)} registrations, {len(self.cpu)} rounds)"
        )


def queue_backlog(database_url: str, count: int) -> None:
    """``count`` admin alerts waiting in the outbox, queued as the platform queues them."""
    from datetime import UTC, datetime

    from wod.db.session import Database
    from wod.services.mail.queue import alert_admins

    db = Database(database_url)
    now = datetime.now(UTC)
    with db.write() as session:
        for n in range(count):
            alert_admins(session, ["ops@example.org"], f"backlog {n}", "text", f"bench:{n}", now)
    db.dispose()


def one_round(
    database_url: str, source: Path | None, count: int, into: Figures, backlog: int = 0
) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wod-bench-reg-"))
    settings = prepare(folder, database_url)
    if source is not None:
        schema_of(source, database_url)
    sink = Sink()
    sink.controller.start()
    extra = {
        "WOD_OUTBOX__ENABLED": "true",
        "WOD_SMTP__HOST": "127.0.0.1",
        "WOD_SMTP__PORT": str(sink.port),
    }
    if source is None:
        # no hub here, so no credentials email to combine with: the welcome goes at once,
        # as in a baseline that had no outbox.combine_within (it would only add idle time)
        extra["WOD_OUTBOX__COMBINE_WITHIN"] = "0"
    process, url = start_api(folder, settings, extra=extra, source=source)
    try:
        with httpx.Client(base_url=url, timeout=60) as http:

            def register(n: int) -> float:
                answer, elapsed = post_registration(http, n, "r")
                if answer.status_code != 201:
                    raise RuntimeError(f"registration {n}: {answer.status_code} {answer.text}")
                return elapsed

            for n in range(WARM_UP):
                register(n)
            sink.wait_for(WARM_UP)  # the welcome emails of the warm-up went
            queue_backlog(database_url, backlog)
            started = time.monotonic()
            before = cpu_seconds(process.pid)
            into.latencies.extend(register(n) for n in range(WARM_UP, WARM_UP + count))
            # every registration's welcome email (the credentials wait for a seat: no hub here)
            sink.wait_for(WARM_UP + count + backlog, timeout=120 + backlog)
            if backlog:
                into.drains.append(time.monotonic() - started)
            into.cpu.append((cpu_seconds(process.pid) - before) / count)
    finally:
        process.terminate()
        process.wait(20)
        sink.controller.stop()


def schema_of(source: Path, database_url: str) -> None:
    """Bring the database prepared by this tree down to the schema of the checkout at
    ``source`` (an older baseline refuses a newer schema): this tree's migrations know the
    way down."""
    from alembic import command

    from wod.db.migrate import alembic_config
    from wod.db.session import Database

    found = subprocess.run(
        [sys.executable, "-c", "from wod.db.migrate import head_revision as h; print(h())"],
        env={**os.environ, "PYTHONPATH": str(source / "src")},
        capture_output=True,
        text=True,
        check=True,
    )
    db = Database(database_url)
    command.downgrade(alembic_config(db), found.stdout.strip())
    db.dispose()


@contextmanager
def worktree(revision: str) -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="wod-bench-base-"))
    subprocess.run(
        ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), revision],
        check=True,
        capture_output=True,
    )
    try:
        yield folder
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(folder)], check=False
        )


def database(admin_url: str, name: str) -> str:
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision to measure beside this tree")
    parser.add_argument("--backlog", type=int, default=0, help="emails waiting at the start")
    args = parser.parse_args()
    variants: dict[str, Path | None] = {"this tree": None}
    with ExitStack() as stack:
        url = stack.enter_context(postgresql())
        if args.baseline:
            variants[f"baseline {args.baseline}"] = stack.enter_context(worktree(args.baseline))
        figures = {label: Figures() for label in variants}
        for n in range(args.rounds):
            order = list(variants.items())
            if n % 2:
                order.reverse()  # interleaved: neither always runs first
            for index, (label, source) in enumerate(order):
                one_round(
                    database(url, f"reg_{n}_{index}"),
                    source,
                    args.count,
                    figures[label],
                    args.backlog,
                )
        backlog = f", {args.backlog} emails waiting at the start" if args.backlog else ""
        print(
            f"{args.count} registrations one at a time per round, outbox on{backlog}, PostgreSQL:"
        )
        for label in variants:
            print(figures[label].line(label))


if __name__ == "__main__":
    main()
