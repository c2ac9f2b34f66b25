"""The verbs a backend agent runs on its host (ARCHITECTURE §5): CREATE, CLEANUP, RESET, PURGE.

Every verb is idempotent: running it twice leaves the same end state, and whatever state a
failure leaves, PURGE cleans it (it needs no workshop). Each returns a
:class:`~wod.wire.JobReport` with its log. The host mode (:mod:`wod.hub.modes`) only changes
the :class:`~wod.hub.modes.Accounts` and :class:`~wod.hub.modes.SeatFiles` the verbs are given,
and whether compiled scripts can be hidden; the steps are the same.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wod.backend.compile import Compiler
from wod.backend.content import ContentSource, as_source
from wod.backend.hooks import Hooks, hook_environment
from wod.backend.ldap import LdapPasswords
from wod.content.completion import Notebook, completion_percent, load_notebook
from wod.content.layers import Content
from wod.content.render import make_environment, render_text, render_workshop, workshop_files
from wod.content.variables import content_folder_name, seat_context, seat_variables
from wod.domain.secrets import new_password
from wod.errors import VerbError, WodError
from wod.hub.client import HubClient
from wod.hub.modes import Accounts, SeatFiles
from wod.settings import Settings
from wod.wire import ERROR_LIMIT, LOG_LIMIT, JobOrder, JobReport, WorkshopOrder

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

    def tail(self, limit: int = LOG_LIMIT) -> str:
        """The text, its end kept when it is longer than a report carries."""
        text = self.text
        return text if len(text) <= limit else "[… earlier lines dropped …]\n" + text[-limit + 40 :]


class Order:
    """A job as the verbs read it: the api's :class:`~wod.wire.JobOrder`, or one built on the
    hub host (``wod test-action``, mail orders), which may name a range of seats to RESET."""

    def __init__(
        self, job: JobOrder, content: Content, seats: tuple[int, int] | None = None
    ) -> None:
        self.id = job.id
        self.content = content  # the content of the job's revision (or this host's own)
        self.verb = job.verb
        self.username = job.seat.username if job.seat else ""
        self.seat = job.seat.number if job.seat else 0
        self.workshop: WorkshopOrder | None = job.workshop
        self.seats = seats

    @property
    def slug(self) -> str:
        if not self.workshop:
            raise VerbError(f"{self.verb} needs a workshop")
        return self.workshop.slug

    @property
    def flags(self) -> WorkshopOrder:
        """The workshop's flags (all off when the job names no workshop)."""
        return self.workshop or NO_WORKSHOP


NO_WORKSHOP = WorkshopOrder(
    slug="",
    seat_min=1,
    seat_max=1,
    reset=False,
    varpass=False,
    ldap=False,
    compile=[],
    monoappliance=False,
    multiappliance=False,
)


class Verbs:
    """CREATE, CLEANUP, RESET and PURGE for the seats of this host."""

    def __init__(
        self,
        settings: Settings,
        content: Content | ContentSource,
        files: SeatFiles,
        hub: HubClient,
        accounts: Accounts,
        *,
        ldap: LdapPasswords | None = None,
        compiler: Compiler | None = None,
    ) -> None:
        self.settings = settings
        self.contents = as_source(content)
        #: This host's own content folders (for orders taken on this host).
        self.content = self.contents.local
        self.files = files
        self.hub = hub
        self.accounts = accounts
        self.ldap = ldap
        self.compiler = compiler or Compiler(hides_files=False)

    def run(self, job: JobOrder, seats: tuple[int, int] | None = None) -> JobReport:
        """Run one job (on ``seats``, a range, for a RESET built on the host); a failure
        becomes an unsuccessful report with its message."""
        job_log = JobLog()
        try:
            order = Order(job, self.contents.content_for(job), seats)
        except (WodError, OSError, ValueError) as exc:
            job_log(f"{job.verb} job {job.id}: FAILED: {exc}")
            return JobReport(ok=False, log=job_log.tail(), error=str(exc)[:ERROR_LIMIT])
        handlers: dict[str, Callable[[Order, JobLog], JobReport]] = {
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
            return JobReport(ok=False, log=job_log.tail(), error=str(exc)[:ERROR_LIMIT])
        job_log(f"{order.verb} done in {time.monotonic() - started:.2f} s")
        return outcome.model_copy(update={"log": job_log.tail()})

    # ------------------------------------------------------------------ helpers

    def _hooks(self, order: Order) -> Hooks:
        return Hooks(order.content, self.settings.backend.hook_timeout)

    def _source(self, order: Order) -> Path:
        slug = order.slug
        source = order.content.workshop(content_folder_name(slug))
        if source is None:
            raise VerbError(f"workshop {slug} is not in the content of this host")
        return source.folder

    def home(self, username: str) -> Path:
        return self.settings.backend.students_dir / username

    def _variables(self, order: Order, seat: int, password: str | None) -> dict[str, Any]:
        flags = order.flags
        ctx = seat_context(
            order.content,
            order.slug,
            seat,
            password,
            seat_min=flags.seat_min or 1,
            monoappliance=flags.monoappliance,
            multiappliance=flags.multiappliance,
        )
        return seat_variables(self.settings, ctx, expose_password=flags.varpass or flags.ldap)

    def _env(
        self,
        order: Order,
        seat: int | None,
        username: str | None,
        password: str | None,
        variables: dict[str, Any],
    ) -> dict[str, str]:
        return hook_environment(
            verb=order.verb,
            seat=seat,
            username=username,
            home=self.home(username) if username else None,
            folder=content_folder_name(order.slug),
            slug=order.slug,
            workshop_id=order.flags.id,
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
        if order.flags.ldap:
            if self.ldap is None:
                raise VerbError("the workshop uses LDAP but no ldap.url is set on this host")
            self.ldap.set_password(username, password)
            job_log("password also set in LDAP")

    def _erase(self, username: str, job_log: JobLog) -> None:
        self.files.erase(username)
        killed = self.accounts.kill_processes(username)
        job_log(f"home erased{f', {killed} leftover process(es) ended' if killed else ''}")

    # ------------------------------------------------------------------ verbs

    def create(self, order: Order, job_log: JobLog) -> JobReport:
        folder = content_folder_name(order.slug)
        source = self._source(order)
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
        self.files.reset_home(username, order.content.skel_folders())
        job_log("new password set, home reset from the skeleton")
        env = self._env(order, seat, username, password, variables)
        self._hooks(order).run("create", folder, env, variables, job_log)
        self.files.deploy(username, folder, rendered)
        job_log(f"{folder} deployed")
        for name in order.flags.compile:
            self.compiler.install(
                order.content,
                name,
                variables,
                self.home(username) / folder,
                self.accounts.owner(username),
                job_log,
            )
        self._hooks(order).run("post-copy", folder, env, variables, job_log)
        self.hub.ensure_user(username)
        if self.settings.backend.prespawn:
            self.hub.start_server(username)
            job_log("server starting")
        return JobReport(ok=True, password=password)

    def cleanup(self, order: Order, job_log: JobLog) -> JobReport:
        username, seat = order.username, order.seat
        self._lock_out(username, job_log)
        variables = self._variables(order, seat, None)
        self._hooks(order).run(
            "cleanup",
            content_folder_name(order.slug),
            self._env(order, seat, username, None, variables),
            variables,
            job_log,
        )
        completion = self.measure_completion(order)
        job_log(f"completion {completion} %")
        if order.flags.reset:
            job_log("home kept for RESET")
        else:
            self._erase(username, job_log)
        return JobReport(ok=True, completion=completion)

    def reset(self, order: Order, job_log: JobLog) -> JobReport:
        low, high = order.seats or (order.seat, order.seat)
        if order.workshop:
            variables = self._variables(order, low, None)
            env = self._env(order, low, f"student{low}", None, variables)
            ran = self._hooks(order).run(
                "reset", content_folder_name(order.slug), env, variables, job_log
            )
            job_log(f"{ran} reset hook(s) for seats {low}-{high}")
        for number in range(high, low - 1, -1):
            username = f"student{number}"
            self._lock_out(username, job_log)
            self._erase(username, job_log)
        return JobReport(ok=True)

    def purge(self, order: Order, job_log: JobLog) -> JobReport:
        self._lock_out(order.username, job_log)
        self._erase(order.username, job_log)
        return JobReport(ok=True)

    def setup_appliance(self, order: Order, job_log: JobLog) -> JobReport:
        """``setup-pre-``, then ``setup-`` for each appliance (once for a shared one, once per
        seat for per-seat ones), then ``setup-post-`` hooks of a workshop."""
        flags = order.flags
        folder = content_folder_name(order.slug)
        low, high = flags.seat_min or 1, flags.seat_max or 1
        variables = self._variables(order, low, None)
        env = self._env(order, None, None, None, variables)
        env.update({"WOD_SEAT_MIN": str(low), "WOD_SEAT_MAX": str(high)})
        self._hooks(order).run("setup-pre", folder, env, variables, job_log)
        seats = range(low, high + 1) if flags.multiappliance else range(low, low + 1)
        for seat in seats:
            seat_vars = self._variables(order, seat, None)
            seat_env = {
                **env,
                **self._env(order, seat, None, None, seat_vars),
                "WOD_SEAT_MIN": str(low),
                "WOD_SEAT_MAX": str(high),
            }
            self._hooks(order).run("setup", folder, seat_env, seat_vars, job_log)
        self._hooks(order).run("setup-post", folder, env, variables, job_log)
        return JobReport(ok=True, log=job_log.tail())

    def measure_completion(self, order: Order) -> int:
        """Executed code cells of the seat's copy over the shipped ones (ARCHITECTURE §7.5)."""
        folder = content_folder_name(order.slug)
        source = self._source(order)
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
