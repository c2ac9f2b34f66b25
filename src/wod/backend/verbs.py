"""The verbs a backend agent runs on its host (ARCHITECTURE §5): CREATE, CLEANUP, RESET, PURGE.

Every verb is idempotent: running it twice leaves the same end state, and whatever state a
failure leaves, PURGE cleans it (it needs no workshop). Each returns a
:class:`~wod.wire.JobReport` with its log. The host mode (:mod:`wod.hub.modes`) only changes
the :class:`~wod.hub.modes.Accounts` and :class:`~wod.hub.modes.SeatFiles` the verbs are given,
and whether compiled scripts can be hidden; the steps are the same.
"""

from __future__ import annotations

import dataclasses
import logging
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wod.backend.appliances import SSH_CONFIG_ENV, Appliance, add_known_hosts, make_seat_key
from wod.backend.compile import Compiler
from wod.backend.content import ContentSource, as_source
from wod.backend.hooks import (
    VARIABLES_FILE_ENV,
    Hooks,
    hook_environment,
    pass_files,
    read_handed_back,
    settings_secrets,
)
from wod.backend.ldap import LdapPasswords
from wod.content.completion import Notebook, completion_percent, load_notebook
from wod.content.layers import Content
from wod.content.render import (
    RenderedFile,
    make_environment,
    render_text,
    render_workshop,
    undefined_names,
    workshop_files,
)
from wod.content.variables import (
    PROTECTED_NAMES,
    content_folder_name,
    seat_context,
    seat_variables,
)
from wod.content.wodyml import parse_wod_yml
from wod.domain.secrets import new_password
from wod.errors import HubUnavailable, TemplateError, VerbError, WodError
from wod.hub.client import HubClient
from wod.hub.lab import LAB_FOLDER, seat_lab_file
from wod.hub.modes import Accounts, SeatFiles, SeatLimiter
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
        self.start_server = job.start_server
        self.lab_token = job.lab_token

    @property
    def slug(self) -> str:
        if not self.workshop:
            raise VerbError(f"{self.verb} needs a workshop")
        return self.workshop.slug

    @property
    def flags(self) -> WorkshopOrder:
        """The workshop's flags (all off when the job names no workshop)."""
        return self.workshop or NO_WORKSHOP

    @property
    def has_appliance(self) -> bool:
        return self.flags.monoappliance or self.flags.multiappliance


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
        isolated: bool = False,
        limiter: SeatLimiter | None = None,
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
        #: Whether the host mode isolates seats (the templates' ``SEATISOLATED``).
        self.isolated = isolated
        #: The seats' resource limits, when the host mode enforces them.
        self.limiter = limiter

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
        except HubUnavailable as exc:
            job_log(f"FAILED, the hub is unavailable: {exc}")
            error = str(exc)[:ERROR_LIMIT]
            return JobReport(ok=False, log=job_log.tail(), error=error, unavailable=True)
        except (WodError, OSError, ValueError) as exc:
            job_log(f"FAILED: {exc}")
            return JobReport(ok=False, log=job_log.tail(), error=str(exc)[:ERROR_LIMIT])
        job_log(f"{order.verb} done in {time.monotonic() - started:.2f} s")
        return outcome.model_copy(update={"log": job_log.tail()})

    # ------------------------------------------------------------------ helpers

    def _hooks(self, order: Order) -> Hooks:
        secrets = settings_secrets(self.settings)
        return Hooks(order.content, self.settings.backend.hook_timeout, secrets)

    def _source(self, order: Order) -> Path:
        slug = order.slug
        source = order.content.workshop(content_folder_name(slug))
        if source is None:
            raise VerbError(f"workshop {slug} is not in the content of this host")
        return source.folder

    def home(self, username: str) -> Path:
        return self.settings.backend.students_dir / username

    def _variables(
        self,
        order: Order,
        seat: int,
        password: str | None,
        produced: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
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
        ctx = dataclasses.replace(ctx, produced=produced or {}, isolated=self.isolated)
        return seat_variables(self.settings, ctx, expose_password=flags.varpass or flags.ldap)

    def _env(
        self,
        order: Order,
        seat: int | None,
        username: str | None,
        password: str | None,
        variables: dict[str, Any],
        appliance: Appliance | None = None,
    ) -> dict[str, str]:
        env = hook_environment(
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
        if appliance is not None:
            env[SSH_CONFIG_ENV] = str(appliance.config)
        return env

    @contextmanager
    def _scratch(self) -> Iterator[Path]:
        """A private folder of one job (mode 0700): the hooks' variables file, the appliance's
        ssh config. A process a hook left running may still write there: removing it never
        fails the job."""
        with tempfile.TemporaryDirectory(prefix="wod-job-", ignore_cleanup_errors=True) as folder:
            yield Path(folder)

    def _appliance(
        self, order: Order, variables: Mapping[str, Any], scratch: Path
    ) -> Appliance | None:
        """The seat's appliance as the agent reaches it; None for a workshop without one, or
        when this agent leaves the appliances to the hooks (no ``appliance.ssh_key_file``)."""
        target = variables.get("WODRTARGET")
        if not order.has_appliance or target is None:
            return None
        if self.settings.appliance.ssh_key_file is None:
            return None
        return Appliance(self.settings.appliance, str(target), scratch)

    def _render_first(
        self, order: Order, source: Path, variables: Mapping[str, Any], job_log: JobLog
    ) -> list[RenderedFile] | None:
        """The seat's files rendered before the seat is touched, so that a broken template
        fails the job first; None when the only errors are variables that the ``create`` hooks
        may still hand back (then the files are rendered after them, and fail there)."""
        folder = content_folder_name(order.slug)
        try:
            return render_workshop(
                source, variables, self.settings.content.template_patterns, label=folder
            )
        except TemplateError as exc:
            names = undefined_names(exc.problems)
            if names is None or not order.content.scripts(f"create-{folder}"):
                raise
            job_log(f"{folder}: {', '.join(names)} not defined yet: left to the create hook(s)")
            return None

    def _seat_on_appliance(
        self,
        username: str,
        target: str | None,
        appliance: Appliance | None,
        job_log: JobLog,
    ) -> None:
        """CREATE of an appliance workshop: the seat's key pair in its home, and with
        ``appliance.ssh_key_file`` its account and key on the appliance."""
        home, owner = self.home(username), self.accounts.owner(username)
        key = make_seat_key(home, username, owner)
        job_log(f"seat key {key.fingerprint} made in ~/.ssh/id_ed25519 (ed25519)")
        if appliance is None:
            job_log(
                f"appliance {target}: accounts left to the workshop's hooks "
                "(no appliance.ssh_key_file on this host)"
            )
            return
        appliance.install(username, key, job_log)
        added = add_known_hosts(home, appliance.host_key_lines(), owner)
        job_log(f"appliance {target}: {added} host key(s) added to the seat's known_hosts")

    def _release_appliance(
        self,
        order: Order,
        username: str,
        appliance: Appliance | None,
        *,
        keep_home: bool,
        job_log: JobLog,
    ) -> None:
        """Lock the seat out of its appliance and wipe its home there; a failure is logged and
        the verb goes on (a participant must always be locked out and their seat cleaned)."""
        if appliance is None:
            return
        try:
            appliance.release(username, keep_home=keep_home, log=job_log)
        except VerbError as exc:
            job_log(f"{exc} (not fatal for a {order.verb}: going on)")

    def _handed_back(
        self, order: Order, seat: int, variables_file: Path, job_log: JobLog
    ) -> dict[str, Any]:
        """What the ``create`` hooks handed back: the file of ``WOD_VARIABLES_FILE``, then the
        original platform's ``pass/`` files (removed once read, as the original did)."""
        folder = content_folder_name(order.slug)
        produced = read_handed_back(variables_file)
        for path in pass_files(order.content, [folder, order.slug], seat):
            produced.update(read_handed_back(path))
            path.unlink(missing_ok=True)
        if produced:
            job_log(f"create hook(s) handed back {', '.join(sorted(produced))}")
        ignored = sorted(PROTECTED_NAMES & produced.keys())
        if ignored:
            job_log(f"  ignored: {', '.join(ignored)} (the platform's own)")
        return produced

    def _lock_out(self, username: str, job_log: JobLog) -> None:
        if self.limiter is not None:  # read before the server stops: its counters go with it
            for line in self.limiter.contained(username):
                job_log(f"contained on {username}: {line}")
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
        if self.limiter is not None:
            self.limiter.clear(username)

    def _apply_limits(self, source: Path, username: str, job_log: JobLog) -> None:
        if self.limiter is None:
            return
        spec, problems = parse_wod_yml(source / "wod.yml")
        if spec is None:
            errors = "; ".join(str(p) for p in problems if not p.warning)
            raise VerbError(f"the workshop's wod.yml has errors: {errors[:500]}")
        applied = self.limiter.apply(username, spec.limits)
        job_log(f"limits of {username}: {applied.describe()}")

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
        """Lock out, account, password, fresh home, the appliance's account, ``create-`` hooks
        (they may hand variables back), render and deploy, ``compile``, ``post-copy-`` hooks,
        hub user: the original platform's order."""
        with self._scratch() as scratch:
            return self._create(order, job_log, scratch)

    def _create(self, order: Order, job_log: JobLog, scratch: Path) -> JobReport:
        folder = content_folder_name(order.slug)
        source = self._source(order)
        username, seat = order.username, order.seat
        password = new_password()
        variables = self._variables(order, seat, password)
        rendered = self._render_first(order, source, variables, job_log)
        self._lock_out(username, job_log)
        self.accounts.prepare(seat, username, self.home(username))
        self._set_password(order, username, password, job_log)
        self.files.reset_home(username, order.content.skel_folders())
        job_log("new password set, home reset from the skeleton")
        self._apply_limits(source, username, job_log)
        appliance = self._appliance(order, variables, scratch)
        if order.has_appliance:
            target = variables.get("WODRTARGET")
            self._seat_on_appliance(username, target, appliance, job_log)
        handed_back = scratch / "variables.yml"
        handed_back.write_text("")
        for stale in pass_files(order.content, [folder, order.slug], seat):
            stale.unlink(missing_ok=True)  # an earlier attempt's: never another holder's token
        env = self._env(order, seat, username, password, variables, appliance)
        env[VARIABLES_FILE_ENV] = str(handed_back)
        self._hooks(order).run("create", folder, env, variables, job_log)
        produced = self._handed_back(order, seat, handed_back, job_log)
        if produced:
            variables = self._variables(order, seat, password, produced)
            env = self._env(order, seat, username, password, variables, appliance)
        if rendered is None or produced:
            rendered = render_workshop(
                source, variables, self.settings.content.template_patterns, label=folder
            )
        job_log(f"{folder}: {len(rendered)} files rendered for seat {seat}")
        self.files.deploy(username, folder, rendered)
        job_log(f"{folder} deployed")
        if order.lab_token is not None:
            lab = seat_lab_file(order.lab_token, self.settings.backend.api_url, folder, rendered)
            self.files.deploy(username, LAB_FOLDER, [lab])
            job_log("lab token written")
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
        if order.start_server:  # a warm seat: warm once its lab answers
            self.hub.start_server(username)
            self.hub.wait_ready(username, self.settings.hub.spawn_timeout)
            job_log("server started")
        elif self.settings.backend.prespawn:
            self.hub.start_server(username)
            job_log("server starting")
        return JobReport(ok=True, password=password)

    def cleanup(self, order: Order, job_log: JobLog) -> JobReport:
        username, seat = order.username, order.seat
        self._lock_out(username, job_log)
        variables = self._variables(order, seat, None)
        with self._scratch() as scratch:
            appliance = self._appliance(order, variables, scratch)
            self._hooks(order).run(
                "cleanup",
                content_folder_name(order.slug),
                self._env(order, seat, username, None, variables, appliance),
                variables,
                job_log,
            )
            # a reset: true workshop keeps the appliance's home for RESET, as the hub home
            self._release_appliance(
                order, username, appliance, keep_home=order.flags.reset, job_log=job_log
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
        with self._scratch() as scratch:
            if order.workshop:
                variables = self._variables(order, low, None)
                appliance = self._appliance(order, variables, scratch)
                env = self._env(order, low, f"student{low}", None, variables, appliance)
                ran = self._hooks(order).run(
                    "reset", content_folder_name(order.slug), env, variables, job_log
                )
                job_log(f"{ran} reset hook(s) for seats {low}-{high}")
            for number in range(high, low - 1, -1):
                username = f"student{number}"
                self._lock_out(username, job_log)
                self._erase(username, job_log)
                self._release_seat_appliance(order, number, scratch, job_log)
        return JobReport(ok=True)

    def purge(self, order: Order, job_log: JobLog) -> JobReport:
        self._lock_out(order.username, job_log)
        self._erase(order.username, job_log)
        if order.workshop is not None:  # PURGE needs no workshop; when it names one, clean there
            with self._scratch() as scratch:
                self._release_seat_appliance(order, order.seat, scratch, job_log)
        return JobReport(ok=True)

    def _release_seat_appliance(
        self, order: Order, seat: int, scratch: Path, job_log: JobLog
    ) -> None:
        """RESET, PURGE: lock seat ``seat`` out of its appliance and wipe its home there (for a
        workshop with one); whatever fails is logged and the verb goes on."""
        if not order.has_appliance:
            return
        try:
            appliance = self._appliance(order, self._variables(order, seat, None), scratch)
        except WodError as exc:  # e.g. the appliance address is no longer set
            job_log(f"appliance of student{seat}: {exc} (not fatal for a {order.verb}: going on)")
            return
        self._release_appliance(
            order, f"student{seat}", appliance, keep_home=False, job_log=job_log
        )

    def setup_appliance(self, order: Order, job_log: JobLog) -> JobReport:
        """``setup-pre-``, then ``setup-`` for each appliance (once for a shared one, once per
        seat for per-seat ones), then ``setup-post-`` hooks of a workshop."""
        with self._scratch() as scratch:
            self._setup_appliance(order, job_log, scratch)
        return JobReport(ok=True, log=job_log.tail())

    def _setup_appliance(self, order: Order, job_log: JobLog, scratch: Path) -> None:
        flags = order.flags
        folder = content_folder_name(order.slug)
        low, high = flags.seat_min or 1, flags.seat_max or 1
        variables = self._variables(order, low, None)
        # setup-pre- and setup-post- reach the first appliance, each setup- its own
        env = self._env(
            order, None, None, None, variables, self._appliance(order, variables, scratch)
        )
        env.update({"WOD_SEAT_MIN": str(low), "WOD_SEAT_MAX": str(high)})
        self._hooks(order).run("setup-pre", folder, env, variables, job_log)
        seats = range(low, high + 1) if flags.multiappliance else range(low, low + 1)
        for seat in seats:
            seat_vars = self._variables(order, seat, None)
            appliance = self._appliance(order, seat_vars, scratch)
            seat_env = {
                **env,
                **self._env(order, seat, None, None, seat_vars, appliance),
                "WOD_SEAT_MIN": str(low),
                "WOD_SEAT_MAX": str(high),
            }
            self._hooks(order).run("setup", folder, seat_env, seat_vars, job_log)
        self._hooks(order).run("setup-post", folder, env, variables, job_log)

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
