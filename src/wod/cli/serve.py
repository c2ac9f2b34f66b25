"""``wod api`` (the api, in one process or several) and ``wod up`` (the whole platform on this
machine)."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import httpx
import typer
import uvicorn
from fastapi import FastAPI

from wod import logs
from wod.cli.common import State, console, edge, settings
from wod.context import AppContext, build_context
from wod.db.migrate import current_revision, head_revision
from wod.errors import ConfigError, Failure
from wod.folderlock import FolderLock
from wod.hub.modes.local import (
    LocalSeats,
    choose_local_seats,
    prepare_local_seats,
    ready_seat_accounts,
)
from wod.hub.process import HubProcess
from wod.metrics import MULTIPROCESS_DIR
from wod.ports import port_is_free
from wod.scheduler.loop import start_loops
from wod.services.admin import users as admins
from wod.services.admin.platform import LOCATION, Prepared, prepare_platform
from wod.settings import Settings, UpSettings, load_settings
from wod.web.app import create_app, start_catcher
from wod.web.limits import server_options

#: Where ``wod api --workers`` tells its workers the config file it was given.
WORKER_CONFIG = "WOD_API_WORKER_CONFIG"


@edge
def api(
    host: Annotated[str | None, typer.Option(help="Listen address.")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes on the one port (one per core uses them all); each runs "
            "the api with its own scheduler and outbox, which are safe side by side.",
        ),
    ] = 1,
) -> None:
    """Run the api (REST, portal pages, scheduler and outbox), in this process or in
    ``--workers`` processes."""
    current = settings()
    current.require_secrets("secret_key")
    logs.configure(current.log_level, current.log.format)
    ctx = build_context(current)
    try:
        _check_schema(ctx)
        listen: dict[str, Any] = {
            "host": host or current.api.host,
            "port": port or current.api.port,
        }
        options: dict[str, Any] = {
            "log_level": "warning",
            "access_log": False,
            **server_options(current.api),
        }
        if workers == 1:
            uvicorn.run(create_app(ctx), **listen, **options)
        else:
            ctx.close()
            _run_workers(current, workers, listen, options)
    finally:
        ctx.close()


def _check_schema(ctx: AppContext) -> None:
    revision = current_revision(ctx.db)
    if revision != head_revision():
        raise ConfigError(
            f"the database is at revision {revision or 'empty'}, not {head_revision()}: "
            "run `wod db upgrade` first"
        )


@edge
def worker() -> None:
    """Run the scheduler and the outbox without the api, until stopped (Ctrl-C or SIGTERM).

    For an api host whose requests should not share a process with the sending of emails and
    the timers: its ``wod api`` then runs with ``scheduler.enabled`` and ``outbox.enabled``
    false, and this process does that work (several are safe side by side, as api processes
    are). It looks for due work every ``scheduler.interval`` and ``outbox.interval``."""
    current = settings()
    current.require_secrets("secret_key")
    logs.configure(current.log_level, current.log.format)
    if not (current.scheduler.enabled or current.outbox.enabled):
        raise ConfigError(
            "scheduler.enabled and outbox.enabled are both false: the worker would do nothing"
        )
    ctx = build_context(current)
    stopped = threading.Event()
    try:
        _check_schema(ctx)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda _sig, _frame: stopped.set())
        loops = start_loops(ctx)
        console.print(f"worker: {', '.join(loop.name for loop in loops)} running")
        stopped.wait()
        for loop in loops:
            loop.stop()
        console.print("worker: stopped")
    finally:
        ctx.close()


def _run_workers(
    current: Settings, workers: int, listen: dict[str, Any], options: dict[str, Any]
) -> None:
    """``workers`` api processes on one socket (uvicorn's supervisor restarts one that
    dies). Their metrics are added up across them (prometheus-client's multiprocess mode,
    in a folder of this run); the dev mail catcher, when on, runs here, once: the workers
    read what it stored."""
    metrics_dir = Path(tempfile.mkdtemp(prefix="wod-metrics-"))
    os.environ[MULTIPROCESS_DIR] = str(metrics_dir)  # before the workers import wod.metrics
    os.environ[WORKER_CONFIG] = str(State.config or "")
    os.environ["WOD_DEV__MAIL_CATCHER"] = "false"  # the workers' settings: this one has it
    catcher = start_catcher(current)
    console.print(f"api: {workers} workers on {listen['host']}:{listen['port']}")
    try:
        uvicorn.run("wod.cli.serve:worker_app", factory=True, workers=workers, **listen, **options)
    finally:
        if catcher is not None:
            catcher.stop()
        shutil.rmtree(metrics_dir, ignore_errors=True)


def worker_app() -> FastAPI:
    """The app of one worker of ``wod api --workers`` (run in the worker process)."""
    config = os.environ.get(WORKER_CONFIG)
    current = load_settings(Path(config) if config else None)
    logs.configure(current.log_level, current.log.format)
    return create_app(build_context(current))


def _data_secret(path: Path) -> str:
    """A random secret kept in ``path`` of a data folder: made once, kept 0600, reused."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    return token


def _hub_token(data_dir: Path) -> str:
    """The hub service token of this data folder: made once, kept 0600, reused."""
    return _data_secret(data_dir / "hub" / "api_token")


def secret_key_file(data_dir: Path) -> Path:
    """Where ``wod up`` keeps the ``secret_key`` of a data folder."""
    return data_dir / "secret_key"


def _secret_key(data_dir: Path) -> str:
    """The ``secret_key`` of this data folder (never the public development default, with
    which anyone who reads the database could decrypt the live seat passwords)."""
    return _data_secret(secret_key_file(data_dir))


#: The ports of ``wod up`` unless told others.
UP_API_PORT = 8000
UP_HUB_PORT = 8001
UP_SMTP_PORT = 8025


def up_environment(
    data_dir: Path,
    api_port: int,
    hub_port: int,
    smtp_port: int,
    up: UpSettings | None = None,
    euid: int | None = None,
) -> dict[str, str]:
    """The settings of every process of ``wod up``, as WOD_ environment variables; its seats
    as :func:`~wod.hub.modes.local.choose_local_seats` decides for the user ``euid``."""
    data = data_dir.resolve()
    seats = choose_local_seats(data, up or UpSettings(), os.geteuid() if euid is None else euid)
    api_url = f"http://127.0.0.1:{api_port}"
    hub_url = f"http://127.0.0.1:{hub_port}"
    env = {
        "WOD_MODE": "development",
        "WOD_DATA_DIR": str(data),
        "WOD_SECRET_KEY": _secret_key(data),
        "WOD_API__PORT": str(api_port),
        "WOD_API__PUBLIC_URL": api_url,
        "WOD_BACKEND__API_URL": api_url,
        "WOD_BACKEND__ACCOUNT_MODE": seats.mode,
        "WOD_BACKEND__STUDENTS_DIR": str(seats.students_dir),
        "WOD_BACKEND__CREDENTIALS_DIR": str(seats.credentials_dir),
        "WOD_BACKEND__UID_BASE": str(seats.uid_base),
        "WOD_HUB__PORT": str(hub_port),
        "WOD_HUB__INTERNAL_PORT": str(hub_port + 80),
        "WOD_HUB__PROXY_API_PORT": str(hub_port + 81),
        "WOD_HUB__PUBLIC_URL": hub_url,
        "WOD_HUB__API_URL": f"{hub_url}/hub/api",
        "WOD_HUB__DIR": str(data / "hub"),
        "WOD_HUB__API_TOKEN": _hub_token(data),
        "WOD_SMTP__HOST": "127.0.0.1",
        "WOD_SMTP__PORT": str(smtp_port),
        "WOD_SMTP__SECURITY": "none",
        "WOD_DEV__MAIL_CATCHER": "true",
        "WOD_DEV__MAILDIR": str(data / "mail"),
    }
    if seats.singleuser_venv is not None:
        env["WOD_HUB__SINGLEUSER_VENV"] = str(seats.singleuser_venv)
    return env


def up_notices(seats: LocalSeats, api_port: int) -> list[str]:
    """What ``wod up`` says at start: how its seats are kept apart (a warning when they are
    not), and that its mail catcher shows every email to anyone."""
    if seats.warning is not None:
        isolation = f"[bold yellow]warning:[/bold yellow] {seats.warning}"
    else:
        isolation = (
            f"seats: Linux users studentN with uid {seats.uid_base} + N, each seat's server run "
            f"as its own user, homes in {seats.students_dir}"
        )
    mail = (
        f"[bold yellow]warning:[/bold yellow] the mail catcher "
        f"(http://127.0.0.1:{api_port}/dev/mail) shows every participant's email, passwords "
        "and manage links included, to anyone who reaches the api: wod up is for development, "
        "not for an event"
    )
    return [isolation, mail]


def prepare(current: Settings, seats: tuple[int, int] | None = None) -> Prepared:
    """Make the database ready for this machine (:func:`prepare_platform`), say what was done;
    what was done (the local location's agent token, its seats)."""
    ctx = build_context(current)
    try:
        done = prepare_platform(ctx, seats)
    finally:
        ctx.close()
    for problem in done.problems:
        console.print(f"[yellow]content:[/yellow] {problem}", highlight=False)
    if done.token_replaced is not None:
        console.print(
            f"[yellow]the agent token of location {LOCATION!r} was replaced:[/yellow] "
            f"{done.token_replaced}; an agent still using the former one is refused",
            highlight=False,
        )
    low, high = done.seats
    console.print(
        f"database ready, {done.workshops} workshop(s) imported, "
        f"location {LOCATION!r} with seats {low}-{high}"
    )
    if done.first_admin is not None:
        console.print(
            f"admin console user {done.first_admin!r} created; "
            f"its password is in {done.password_file}"
        )
    return done


#: The pinned versions the seats' environment is built with, when run from a checkout.
CONSTRAINTS = Path("requirements/constraints.txt")


def _say_new_secret_key(data: Path) -> None:
    if secret_key_file(data).exists() or not (data / "agent_token").exists():
        return
    console.print(
        f"[yellow]a secret key of its own for {data}[/yellow] (it used the public development "
        "default before): manage links sent before no longer open, and the seat passwords of "
        "live registrations are not shown again",
        highlight=False,
    )


def _seats_line(current: Settings) -> str:
    if current.backend.account_mode == "system":
        return f"Linux users, each on its own; homes in {current.backend.students_dir}"
    return "[bold yellow]NOT isolated from each other[/bold yellow] (see the warning above)"


def _admin_hint(current: Settings) -> str:
    password_file = admins.first_password_file(current)
    if password_file.exists():
        return f"  (user {admins.FIRST_USER}, password: cat {password_file})"
    return "  (users: wod admins list)"


class Stack:
    """The child processes of ``wod up``, stopped in reverse order."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.hub: HubProcess | None = None

    def spawn(self, name: str, *args: str) -> None:
        wod = [sys.executable, "-m", "wod"]
        process = subprocess.Popen([*wod, *args], env=self.env, start_new_session=True)
        self.children.append((name, process))

    def dead(self) -> str | None:
        for name, process in self.children:
            if process.poll() is not None:
                return f"{name} exited with {process.returncode}"
        if self.hub and self.hub.process and self.hub.process.poll() is not None:
            return f"JupyterHub exited with {self.hub.process.returncode} (see {self.hub.log_path})"
        return None

    def stop(self) -> None:
        for name, process in reversed(self.children):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                console.print(f"{name} did not stop in 15 s: killed")
                process.kill()
        if self.hub is not None:
            console.print("stopping JupyterHub and the seats' servers …")
            self.hub.stop()


def _wait_http(url: str, stack: Stack, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (problem := stack.dead()) is not None:
            raise Failure(problem)
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise Failure(f"{url} did not answer within {timeout} s")


@edge
def up(
    data_dir: Annotated[Path, typer.Option(help="Where the platform keeps its state.")] = Path(
        ".wod"
    ),
    api_port: Annotated[int, typer.Option(help="Port of the portal and api.")] = UP_API_PORT,
    hub_port: Annotated[int, typer.Option(help="Port of JupyterHub.")] = UP_HUB_PORT,
    smtp_port: Annotated[int, typer.Option(help="Port of the dev mail catcher.")] = UP_SMTP_PORT,
) -> None:
    """Run everything on this machine: api and portal, scheduler, backend agent, JupyterHub and
    a mail catcher, with the sample content. Stop with Ctrl-C."""
    lock = FolderLock(data_dir)
    lock.acquire()  # before anything else: a second wod up on this folder stops here
    try:
        _up(data_dir, api_port, hub_port, smtp_port)
    finally:
        lock.release()


def _configure(
    data_dir: Path, api_port: int, hub_port: int, smtp_port: int
) -> tuple[Settings, dict[str, str]]:
    """Choose and prepare the seats (:func:`choose_local_seats`), say what is not protected,
    make the database ready; the settings and the environment of the child processes."""
    given = settings()  # the environment and --config, before wod up's own settings
    seats = choose_local_seats(data_dir, given.up, os.geteuid())
    for notice in up_notices(seats, api_port):
        console.print(notice, highlight=False)
    _say_new_secret_key(data_dir.resolve())
    prepare_local_seats(
        seats, data_dir, given.hub.kernels, constraints=CONSTRAINTS, say=console.print
    )
    env = {**os.environ, **up_environment(data_dir, api_port, hub_port, smtp_port, given.up)}
    os.environ.update(env)
    current = settings()
    logs.configure(current.log_level, current.log.format)
    done = prepare(current)
    env["WOD_BACKEND__TOKEN"] = done.token
    if seats.isolated:
        low, high = done.seats
        ready_seat_accounts(seats, range(low, high + 1), say=console.print)
    return current, env


def _up(data_dir: Path, api_port: int, hub_port: int, smtp_port: int) -> None:
    ports = {
        "api": api_port,
        "hub": hub_port,
        "hub internal": hub_port + 80,
        "proxy api": hub_port + 81,
        "mail catcher": smtp_port,
    }
    taken = [f"{name} {port}" for name, port in ports.items() if not port_is_free(port)]
    if taken:
        raise ConfigError(
            f"ports already in use: {', '.join(taken)} (is another wod up running? "
            "choose others with --api-port/--hub-port/--smtp-port)"
        )
    current, env = _configure(data_dir, api_port, hub_port, smtp_port)
    stack = Stack(env)
    stopping = False

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        console.print("starting JupyterHub …")
        stack.hub = HubProcess(current)
        stack.hub.start()
        stack.spawn("api", "api")
        _wait_http(f"http://127.0.0.1:{api_port}/healthz", stack)
        stack.spawn("backend agent", "backend", "run")
        console.print(
            f"\n[bold green]wod is up[/bold green]\n"
            f"  portal        http://127.0.0.1:{api_port}/\n"
            f"  mail catcher  http://127.0.0.1:{api_port}/dev/mail\n"
            f"  admin console http://127.0.0.1:{api_port}/admin{_admin_hint(current)}\n"
            f"  JupyterHub    http://127.0.0.1:{hub_port}/\n"
            f"  api docs      http://127.0.0.1:{api_port}/api/docs\n"
            f"  state         {data_dir.resolve()}\n"
            f"  seats         {_seats_line(current)}\n"
            "Press Ctrl-C to stop.\n"
        )
        while not stopping:
            if (problem := stack.dead()) is not None:
                raise Failure(problem)
            time.sleep(0.5)
    finally:
        console.print("stopping …")
        stack.stop()
        console.print("stopped")
