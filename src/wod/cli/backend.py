"""``wod backend``: the agent of a location."""

from __future__ import annotations

import signal
import sys
import time
from types import FrameType
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from wod import logs
from wod.backend.agent import build_agent, build_verbs
from wod.backend.client import ApiClient
from wod.backend.conformity import Report, check_host, probe_hub, repair
from wod.backend.mailorders import MailOrderListener
from wod.backend.metrics import serve_metrics
from wod.backend.orders import parse_seats
from wod.cli.common import console, edge, settings
from wod.errors import ConfigError
from wod.hub.modes import load_host_mode
from wod.settings import Settings

app = typer.Typer(help="The backend agent of a location.", no_args_is_help=True)


@app.command("run")
@edge
def run() -> None:
    """Claim and run this location's jobs until SIGINT or SIGTERM."""
    current = settings()
    current.require_secrets("hub.api_token")
    logs.configure(current.log_level, current.log.format)
    agent = build_agent(current)
    agent.metrics = serve_metrics(current.backend.metrics_host, current.backend.metrics_port)
    listener = None
    if current.mailorders.enabled:
        listener = MailOrderListener(
            current.mailorders, agent.verbs.content, agent.verbs, agent.client, agent.running
        )
        listener.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        agent.run()
    finally:
        agent.metrics.stop()
        if listener is not None:
            listener.stop()


seats_app = typer.Typer(help="The seats of this host.", no_args_is_help=True)
app.add_typer(seats_app, name="seats")


def _seat_range(current: Settings, seats: str | None) -> range:
    if seats:
        low, high = parse_seats(seats.replace("-", ","))
        return range(low, high + 1)
    if current.backend.token is None:
        raise ConfigError("give --seats FIRST-LAST, or backend.token to ask the api")
    client = ApiClient(current.backend.api_url, current.backend.token.get_secret_value())
    try:
        location = client.location()
    finally:
        client.close()
    return range(location.seat_min, location.seat_max + 1)


def _run_check(current: Settings, seats: range, *, fix: bool, only_seats: bool) -> Report:
    mode = load_host_mode(current)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("seats", total=len(seats))
        report = check_host(
            current,
            mode,
            seats,
            progress=lambda n: bar.advance(task, n),
            hub_probe=None if only_seats else (lambda: probe_hub(current)),
        )
    if only_seats:
        report.findings = [
            f
            for f in report.findings
            if f.what.startswith(("student", str(current.backend.students_dir)))
        ]
    return repair(report) if fix else report


@app.command("check")
@edge
def check(
    fix: Annotated[bool, typer.Option("--fix", help="Repair what can be repaired safely.")] = False,
    seats: Annotated[str | None, typer.Option(help="FIRST-LAST; default: ask the api.")] = None,
) -> None:
    """Check this hub host: seats, homes, permissions, hub, seats' environment, hook scripts."""
    current = settings()
    span = _seat_range(current, seats)
    report = _run_check(current, span, fix=fix, only_seats=False)
    for finding in report.findings:
        mark = "fixable" if finding.repair else "needs you"
        console.print(f"[{mark}] {finding.what}", highlight=False, markup=False)
    for what in report.repaired:
        console.print(f"[repaired] {what}", highlight=False, markup=False)
    if fix:
        console.print(f"{len(report.repaired)} repaired")
    console.print(f"{len(span)} seats checked, {len(report.findings)} problem(s)")
    if report.findings:
        sys.exit(1)


@seats_app.command("sync")
@edge
def sync(
    seats: Annotated[str | None, typer.Option(help="FIRST-LAST; default: ask the api.")] = None,
) -> None:
    """Create or repair every seat of this location (system mode: the Linux accounts)."""
    current = settings()
    span = _seat_range(current, seats)
    started = time.monotonic()
    report = _run_check(current, span, fix=True, only_seats=True)
    console.print(
        f"{len(span)} seats in {time.monotonic() - started:.1f} s: "
        f"{len(report.repaired)} created or repaired, {len(report.findings)} left"
    )
    if report.findings:
        for finding in report.findings:
            console.print(finding.what, highlight=False, markup=False)
        sys.exit(1)


@app.command("setup-appliance")
@edge
def setup_appliance(
    workshop: Annotated[str, typer.Argument(help="Workshop folder, e.g. WKSHP-Docker101.")],
) -> None:
    """Run a workshop's setup hooks: setup-pre-, setup- (per appliance), setup-post-."""
    from wod.backend.orders import workshop_flags
    from wod.backend.verbs import JobLog, Order
    from wod.content.layers import Content
    from wod.wire import JobOrder

    current = settings()
    flags = workshop_flags(Content(current.content.paths), workshop)
    verbs = build_verbs(current)
    job_log = JobLog()
    job = JobOrder(id=0, verb="CREATE", attempt=1, seat=None, registration=None, workshop=flags)
    order = Order(job, verbs.content)
    try:
        verbs.setup_appliance(order, job_log)
    finally:
        console.print(job_log.text, highlight=False, markup=False)
