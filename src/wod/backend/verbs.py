"""The verbs a backend agent runs on its host (ARCHITECTURE §5), in hub account mode.

Every verb is idempotent: running it twice leaves the same end state, and whatever state a
failure leaves, PURGE cleans it. Each returns an :class:`Outcome` with its log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from wod.backend.seatfiles import SeatFiles
from wod.content.completion import Notebook, completion_percent, load_notebook
from wod.content.layers import Content
from wod.content.render import make_environment, render_text, render_workshop, workshop_files
from wod.content.variables import SeatContext, content_folder_name, seat_variables
from wod.domain.secrets import new_password
from wod.errors import VerbError, WodError
from wod.hub.client import HubClient
from wod.hub.credentials import CredentialStore
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
    """A job as received from the api."""

    id: int
    verb: str
    username: str
    seat: int
    workshop: dict[str, Any] | None

    @classmethod
    def parse(cls, data: dict[str, Any]) -> Order:
        seat = data.get("seat") or {}
        return cls(
            int(data["id"]),
            str(data["verb"]),
            str(seat.get("username", "")),
            int(seat.get("number", 0)),
            data.get("workshop"),
        )

    @property
    def slug(self) -> str:
        if not self.workshop:
            raise VerbError(f"{self.verb} needs a workshop")
        return str(self.workshop["slug"])


class HubModeVerbs:
    """CREATE, CLEANUP, RESET and PURGE for seats that are hub users (no Linux accounts)."""

    def __init__(
        self,
        settings: Settings,
        content: Content,
        files: SeatFiles,
        hub: HubClient,
        credentials: CredentialStore,
    ) -> None:
        self.settings = settings
        self.content = content
        self.files = files
        self.hub = hub
        self.credentials = credentials

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
        job_log(f"{order.verb} {order.username} (job {order.id})")
        try:
            if not order.username:
                raise VerbError("the job names no seat")
            outcome = handlers[order.verb](order, job_log)
        except (WodError, OSError, ValueError) as exc:
            job_log(f"FAILED: {exc}")
            return Outcome(False, job_log.text, error=str(exc))
        job_log(f"{order.verb} done in {time.monotonic() - started:.2f} s")
        outcome.log = job_log.text
        return outcome

    def _source(self, slug: str) -> Path:
        source = self.content.workshop(content_folder_name(slug))
        if source is None:
            raise VerbError(f"workshop {slug} is not in the content of this host")
        return source.folder

    def _variables(self, order: Order, password: str | None) -> dict[str, Any]:
        flags = order.workshop or {}
        return seat_variables(
            self.settings,
            SeatContext(order.slug, order.seat, password),
            expose_password=bool(flags.get("varpass") or flags.get("ldap")),
        )

    def _lock_out(self, order: Order, job_log: JobLog) -> None:
        self.credentials.remove(order.username)
        self.hub.delete_user(order.username)
        job_log("seat locked: password removed, hub user removed with its server and sessions")

    def create(self, order: Order, job_log: JobLog) -> Outcome:
        folder = content_folder_name(order.slug)
        source = self._source(order.slug)
        password = new_password()
        rendered = render_workshop(
            source,
            self._variables(order, password),
            self.settings.content.template_patterns,
            label=folder,
        )
        job_log(f"{folder}: {len(rendered)} files rendered for seat {order.seat}")
        self._lock_out(order, job_log)
        self.credentials.set_password(order.username, password)
        job_log("new password set")
        self.files.reset_home(order.username, self.content.skel_folders())
        self.files.deploy(order.username, folder, rendered)
        job_log(f"home reset and {folder} deployed")
        self.hub.ensure_user(order.username)
        if self.settings.backend.prespawn:
            self.hub.start_server(order.username)
            job_log("server starting")
        return Outcome(True, "", password=password)

    def cleanup(self, order: Order, job_log: JobLog) -> Outcome:
        self._lock_out(order, job_log)
        completion = self.measure_completion(order)
        job_log(f"completion {completion} %")
        if order.workshop and order.workshop.get("reset"):
            job_log("home kept for RESET")
        else:
            self.files.erase(order.username)
            job_log("home erased")
        return Outcome(True, "", completion=completion)

    def reset(self, order: Order, job_log: JobLog) -> Outcome:
        self._lock_out(order, job_log)
        self.files.erase(order.username)
        job_log("home erased")
        return Outcome(True, "")

    def purge(self, order: Order, job_log: JobLog) -> Outcome:
        return self.reset(order, job_log)

    def measure_completion(self, order: Order) -> int:
        """Executed code cells of the seat's copy over the shipped ones (ARCHITECTURE §7.5)."""
        folder = content_folder_name(order.slug)
        source = self._source(order.slug)
        env = make_environment(json_strings=True)
        variables = self._variables(order, "x" * 16)
        shipped: dict[str, Notebook] = {}
        seat: dict[str, Notebook | None] = {}
        for rel in workshop_files(source):
            if rel.suffix != ".ipynb" or rel.name.endswith("-checkpoint.ipynb"):
                continue
            raw = (source / rel).read_text(encoding="utf-8")
            notebook = load_notebook(raw) or load_notebook(render_text(env, raw, variables, "")[0])
            if notebook is None:
                continue
            shipped[str(rel)] = notebook
            text = self.files.read_text(order.username, PurePosixPath(folder) / rel)
            seat[str(rel)] = load_notebook(text) if text is not None else None
        return completion_percent(shipped, seat)
