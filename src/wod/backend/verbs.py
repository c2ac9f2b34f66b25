"""The verbs a backend agent runs on its host (ARCHITECTURE §5): CREATE, CLEANUP, RESET, PURGE.

Every verb is idempotent: running it twice leaves the same end state, and whatever state a
failure leaves, PURGE cleans it (it needs no workshop). Each returns an :class:`Outcome`
with its log. The account mode (hub or system) only changes the :class:`Accounts` and the
owner of the seat's files; the steps are the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wod.backend.accounts import Accounts
from wod.backend.compile import Compiler
from wod.backend.hooks import Hooks, hook_environment
from wod.backend.ldap import LdapPasswords
from wod.backend.seatfiles import SeatFiles
from wod.content.completion import Notebook, completion_percent, load_notebook
from wod.content.layers import Content
from wod.content.render import make_environment, render_text, render_workshop, workshop_files
from wod.content.variables import content_folder_name, seat_context, seat_variables
from wod.domain.secrets import new_password
from wod.errors import VerbError, WodError
from wod.hub.client import HubClient
from wod.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class JobLog:
    """Timestamped lines of one job, sent to the api with the report (never a secret)."""

    lines: list[str] = field(default_factory=list)

    def __call__(self, message: str) -> None:
        stamp = datetime.now(UTC).strftime("%H:%M:%S.%f")[:-3]
        self.lines.append(f"{stamp} {message}")
        log.info(message)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@dataclass
class Outcome:
    ok: bool
    log: str
    error: str | None = None
    password: str | None = None
    completion: int | None = None

    def as_report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"ok": self.ok, "log": self.log}
        for key in ("error", "password", "completion"):
            value = getattr(self, key)
            if value is not None:
                report[key] = value
        return report


@dataclass(frozen=True)
class Order:
    """A job as received from the api (or built locally by test-action and mail orders)."""

    id: int
    verb: str
    username: str
    seat: int
    workshop: dict[str, Any] | None
    seats: tuple[int, int] | None = None  # RESET of a range

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Order:
        seat = data.get("seat") or {}
        seats = data.get("seats")
        return cls(
            int(data["id"]),
            str(data["verb"]),
            str(seat.get("username", "")),
            int(seat.get("number", 0)),
            data.get("workshop"),
            (int(seats[0]), int(seats[1])) if seats else None,
        )

    @property
    def slug(self) -> str:
        if not self.workshop:
            raise VerbError(f"{self.verb} needs a workshop")
        return str(self.workshop["slug"])

    def flag(self, name: str) -> bool:
        return bool((self.workshop or {}).get(name))


class Verbs:
    """CREATE, CLEANUP, RESET and PURGE for the seats of this host."""

    def __init__(
        self,
        settings: Settings,
        content: Content,
        files: SeatFiles,
        hub: HubClient,
        accounts: Accounts,
        *,
        ldap: LdapPasswords | None = None,
        compiler: Compiler | None = None,
    ) -> None:
        self.settings = settings
        self.content = content
        self.files = files
        self.hub = hub
        self.accounts = accounts
        self.ldap = ldap
        self.compiler = compiler or Compiler(accounts.mode)
        self.hooks = Hooks(content, settings.backend.hook_timeout)

    def run(self, data: dict[str, Any]) -> Outcome:
        """Run one job; failures become an unsuccessful outcome with their message."""
        order = Order.parse(data)
        job_log = JobLog()
        handlers: dict[str, Callable[[Order, JobLog], Outcome]] = {
            "CREATE": self.create,
            "CLEANUP": self.cleanup,
            "RESET": self.reset,
            "PURGE": self.purge,
        }
        started = time.monotonic()
        target = f"{order.seats[0]}-{order.seats[1]}" if order.seats else order.username
        job_log(f"{order.verb} {target} (job {order.id}, {self.accounts.mode} accounts)")
        try:
            if order.verb not in handlers:
                raise VerbError(f"unknown verb {order.verb!r}")
            if not order.username and not order.seats:
                raise VerbError("the job names no seat")
            outcome = handlers[order.verb](order, job_log)
        except (WodError, OSError, ValueError) as exc:
            job_log(f"FAILED: {exc}")
            return Outcome(False, job_log.text, error=str(exc))
        job_log(f"{order.verb} done in {time.monotonic() - started:.2f} s")
        outcome.log = job_log.text
        return outcome

    # ------------------------------------------------------------------ helpers

    def _source(self, slug: str) -> Path:
        source = self.content.workshop(content_folder_name(slug))
        if source is None:
            raise VerbError(f"workshop {slug} is not in the content of this host")
        return source.folder

    def home(self, username: str) -> Path:
        return self.settings.backend.students_dir / username

    def _variables(self, order: Order, seat: int, password: str | None) -> dict[str, Any]:
        flags = order.workshop or {}
        ctx = seat_context(
            self.content,
            order.slug,
            seat,
            password,
            seat_min=int(flags.get("seat_min") or 1),
            monoappliance=bool(flags.get("monoappliance")),
            multiappliance=bool(flags.get("multiappliance")),
        )
        return seat_variables(
            self.settings, ctx, expose_password=bool(flags.get("varpass") or flags.get("ldap"))
        )

    def _env(
        self,
        order: Order,
        seat: int | None,
        username: str | None,
        password: str | None,
        variables: dict[str, Any],
    ) -> dict[str, str]:
        flags = order.workshop or {}
        return hook_environment(
            verb=order.verb,
            seat=seat,
            username=username,
            home=self.home(username) if username else None,
            folder=content_folder_name(order.slug),
            slug=order.slug,
            workshop_id=flags.get("id"),
            password=password,
            api_url=self.settings.backend.api_url,
            seat_range=order.seats or ((seat, seat) if seat else None),
            variables=variables,
        )

    def _lock_out(self, username: str, job_log: JobLog) -> None:
        self.accounts.lock(username)
        if self.ldap is not None:  # a directory password must not outlive the seat either
            try:
                self.ldap.set_password(username, new_password(24))
            except VerbError as exc:
                job_log(f"LDAP password not changed: {exc}")
        self.hub.delete_user(username)
        killed = self.accounts.kill_processes(username)
        job_log(
            f"{username} locked: password changed, hub user and sessions removed"
            + (f", {killed} process(es) ended" if killed else "")
        )

    def _set_password(self, order: Order, username: str, password: str, job_log: JobLog) -> None:
        self.accounts.set_password(username, password)
        if order.flag("ldap"):
            if self.ldap is None:
                raise VerbError("the workshop uses LDAP but no ldap.url is set on this host")
            self.ldap.set_password(username, password)
            job_log("password also set in LDAP")

    def _erase(self, username: str, job_log: JobLog) -> None:
        self.files.erase(username)
        killed = self.accounts.kill_processes(username)
        job_log(f"home erased{f', {killed} leftover process(es) ended' if killed else ''}")

    # ------------------------------------------------------------------ verbs

    def create(self, order: Order, job_log: JobLog) -> Outcome:
        folder = content_folder_name(order.slug)
        source = self._source(order.slug)
        username, seat = order.username, order.seat
        password = new_password()
        variables = self._variables(order, seat, password)
        rendered = render_workshop(
            source, variables, self.settings.content.template_patterns, label=folder
        )
        job_log(f"{folder}: {len(rendered)} files rendered for seat {seat}")
        self._lock_out(username, job_log)
        self.accounts.prepare(seat, username, self.home(username))
        self._set_password(order, username, password, job_log)
        self.files.reset_home(username, self.content.skel_folders())
        job_log("new password set, home reset from the skeleton")
        env = self._env(order, seat, username, password, variables)
        self.hooks.run("create", folder, env, variables, job_log)
        self.files.deploy(username, folder, rendered)
        job_log(f"{folder} deployed")
        for name in (order.workshop or {}).get("compile") or []:
            self.compiler.install(
                self.content,
                name,
                variables,
                self.home(username) / folder,
                self.accounts.owner(username),
                job_log,
            )
        self.hooks.run("post-copy", folder, env, variables, job_log)
        self.hub.ensure_user(username)
        if self.settings.backend.prespawn:
            self.hub.start_server(username)
            job_log("server starting")
        return Outcome(True, "", password=password)

    def cleanup(self, order: Order, job_log: JobLog) -> Outcome:
        username, seat = order.username, order.seat
        self._lock_out(username, job_log)
        variables = self._variables(order, seat, None)
        self.hooks.run(
            "cleanup",
            content_folder_name(order.slug),
            self._env(order, seat, username, None, variables),
            variables,
            job_log,
        )
        completion = self.measure_completion(order)
        job_log(f"completion {completion} %")
        if order.flag("reset"):
            job_log("home kept for RESET")
        else:
            self._erase(username, job_log)
        return Outcome(True, "", completion=completion)

    def reset(self, order: Order, job_log: JobLog) -> Outcome:
        low, high = order.seats or (order.seat, order.seat)
        if order.workshop:
            variables = self._variables(order, low, None)
            env = self._env(order, low, f"student{low}", None, variables)
            ran = self.hooks.run("reset", content_folder_name(order.slug), env, variables, job_log)
            job_log(f"{ran} reset hook(s) for seats {low}-{high}")
        for number in range(high, low - 1, -1):
            username = f"student{number}"
            self._lock_out(username, job_log)
            self._erase(username, job_log)
        return Outcome(True, "")

    def purge(self, order: Order, job_log: JobLog) -> Outcome:
        self._lock_out(order.username, job_log)
        self._erase(order.username, job_log)
        return Outcome(True, "")

    def setup_appliance(self, order: Order, job_log: JobLog) -> Outcome:
        """``setup-pre-``, then ``setup-`` for each appliance (once for a shared one, once per
        seat for per-seat ones), then ``setup-post-`` hooks of a workshop."""
        flags = order.workshop or {}
        folder = content_folder_name(order.slug)
        low, high = int(flags.get("seat_min") or 1), int(flags.get("seat_max") or 1)
        variables = self._variables(order, low, None)
        env = self._env(order, None, None, None, variables)
        env.update({"WOD_SEAT_MIN": str(low), "WOD_SEAT_MAX": str(high)})
        self.hooks.run("setup-pre", folder, env, variables, job_log)
        seats = range(low, high + 1) if flags.get("multiappliance") else range(low, low + 1)
        for seat in seats:
            seat_vars = self._variables(order, seat, None)
            seat_env = {
                **env,
                **self._env(order, seat, None, None, seat_vars),
                "WOD_SEAT_MIN": str(low),
                "WOD_SEAT_MAX": str(high),
            }
            self.hooks.run("setup", folder, seat_env, seat_vars, job_log)
        self.hooks.run("setup-post", folder, env, variables, job_log)
        return Outcome(True, job_log.text)

    def measure_completion(self, order: Order) -> int:
        """Executed code cells of the seat's copy over the shipped ones (ARCHITECTURE §7.5)."""
        folder = content_folder_name(order.slug)
        source = self._source(order.slug)
        env = make_environment(json_strings=True)
        variables: dict[str, Any] | None = None
        shipped: dict[str, Notebook] = {}
        seat: dict[str, Notebook | None] = {}
        for rel in workshop_files(source):
            if rel.suffix != ".ipynb" or rel.name.endswith("-checkpoint.ipynb"):
                continue
            raw = (source / rel).read_text(encoding="utf-8")
            notebook = load_notebook(raw)
            if notebook is None:  # valid only once rendered
                variables = variables or self._variables(order, order.seat, "x" * 16)
                notebook = load_notebook(render_text(env, raw, variables, "")[0])
            if notebook is None:
                continue
            shipped[str(rel)] = notebook
            text = self.files.read_text(order.username, PurePosixPath(folder) / rel)
            seat[str(rel)] = load_notebook(text) if text is not None else None
        return completion_percent(shipped, seat)
