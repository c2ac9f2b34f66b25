"""``wod backend run``: claim jobs of this location from the api, run them, report.

Several worker threads run jobs of different seats at once (the api never hands out two jobs
of one seat). The heartbeat names the jobs running, which keeps their leases, and this process
(``boot``), so that after a restart the api gives again at once the jobs the old process was
running. A report that cannot reach the api is tried again for ``REPORT_PATIENCE`` seconds
(the api accepts a late report); when the job's lease expired meanwhile the api gave the job
again, and the verbs are idempotent, so running it twice is harmless. Every
``idle.report_interval`` it also reports its seats' last activity as the hub knows it, so that
the api gives idle seats back.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from functools import partial

from wod import __version__ as VERSION
from wod import logs
from wod.backend.client import ApiClient
from wod.backend.compile import Compiler
from wod.backend.conformity import check_host, probe_hub
from wod.backend.content import AgentContent
from wod.backend.ldap import PythonLdapPasswords
from wod.backend.metrics import NO_METRICS, AgentMetrics
from wod.backend.running import RunningJobs
from wod.backend.verbs import Verbs
from wod.backend.watchdog import Abuse, AbuseWatchdog
from wod.content.layers import Content
from wod.errors import ApiClientError, ConfigError, HubError, VerbError
from wod.hub.client import HubClient, JupyterHubClient
from wod.hub.modes import HostMode, SeatLimiter, load_host_mode
from wod.settings import Settings
from wod.wire import ActivityIn, ContentRef, HeartbeatIn, JobReport, SeatActivityIn

log = logging.getLogger(__name__)
#: How long a report the api does not receive is tried again, in seconds.
REPORT_PATIENCE = 600.0


class Agent:
    """Claims and runs jobs until stopped."""

    def __init__(
        self,
        client: ApiClient,
        verbs: Verbs,
        *,
        poll_interval: float = 0.5,
        workers: int = 4,
        watchdog: AbuseWatchdog | None = None,
        checker: Callable[[], None] | None = None,
        check_interval: float = 86400.0,
        heartbeat_interval: float | None = None,
        activity_interval: float | None = None,
        containment: Callable[[], None] | None = None,
        containment_interval: float = 10.0,
    ) -> None:
        self.client = client
        self.verbs = verbs
        self.poll_interval = poll_interval
        self.workers = workers
        self.watchdog = watchdog
        self.checker = checker
        self.check_interval = check_interval
        self.heartbeat_interval = heartbeat_interval
        self.activity_interval = activity_interval
        self.containment = containment
        self.containment_interval = containment_interval
        self.stopping = threading.Event()
        self.boot = secrets.token_hex(16)
        self.running = RunningJobs()
        self.metrics: AgentMetrics = NO_METRICS

    def run_once(self) -> bool:
        """Claim one job and run it; False when there was nothing to do."""
        order = self.client.claim()
        if order is None:
            return False
        started = time.monotonic()
        with self.running.hold(order.id), logs.bound_request_id(order.request_id):
            report = self.verbs.run(order).model_copy(update={"attempt": order.attempt})
            self.metrics.job_ran(order.verb, report.ok, time.monotonic() - started)
            self._report(order.id, report)
        return True

    def _report(self, job_id: int, report: JobReport) -> None:
        deadline = time.monotonic() + REPORT_PATIENCE
        attempt = 0
        while True:
            attempt += 1
            try:
                self.client.report(job_id, report)
                return
            except ApiClientError as exc:
                if not exc.retryable:
                    log.error("report of job %s refused: %s", job_id, exc)
                    return
                delay = min(2.0**attempt, 30.0)
                if time.monotonic() + delay > deadline:
                    break
                log.warning("report of job %s failed (attempt %s): %s", job_id, attempt, exc)
                if self.stopping.wait(delay):
                    return
        log.error("job %s: report given up; the api will give the job again", job_id)

    def _worker(self) -> None:
        failures = 0
        while not self.stopping.is_set():
            try:
                worked = self.run_once()
                failures = 0
            except ApiClientError as exc:
                failures += 1
                if exc.status == 401:
                    log.error(
                        "the api refuses this agent's token (%s): the location's token was "
                        "replaced or the location is disabled; give backend.token the "
                        "location's current token (wod locations token NAME makes a new one)",
                        exc,
                    )
                else:
                    log.warning("cannot claim a job: %s", exc)
                self.stopping.wait(min(self.poll_interval * 2**failures, 30.0))
                continue
            if not worked:
                self.stopping.wait(self.poll_interval)

    def _check_daily(self) -> None:
        """The conformity check at start, then every ``check_interval`` seconds."""
        assert self.checker is not None
        while not self.stopping.is_set():
            try:
                self.checker()
            except Exception:  # a failed check must not stop the agent
                log.exception("conformity check failed")
            if self.stopping.wait(self.check_interval):
                return

    def _watch_containment(self) -> None:
        """Report what the seats' limits contained, every ``containment_interval`` seconds."""
        assert self.containment is not None
        while not self.stopping.wait(self.containment_interval):
            try:
                self.containment()
            except Exception:  # the api being down must not stop the watch
                log.exception("containment watch: pass failed")

    def beat(self) -> None:
        """Tell the api the agent is alive and which content revisions it holds, then fetch
        the bundles of the revision in service that this host lacks."""
        contents = self.verbs.contents
        held = contents.held() if isinstance(contents, AgentContent) else []
        answer = self.client.heartbeat(
            HeartbeatIn(revisions=held, running=self.running.ids(), boot=self.boot, version=VERSION)
        )
        if not isinstance(contents, AgentContent) or answer.revision is None:
            return
        for bundle in answer.bundles:
            ref = ContentRef(revision=answer.revision, bundle=bundle.bundle)
            try:
                contents.ensure(ref, bundle.folder)
            except VerbError as exc:
                log.warning("content not fetched ahead: %s", exc)

    def _heartbeat(self) -> None:
        """Beat every ``heartbeat_interval`` seconds: the api notes the agent's contact even
        while every worker runs a long job (and so claims nothing)."""
        assert self.heartbeat_interval is not None
        while not self.stopping.wait(self.heartbeat_interval):
            try:
                self.beat()
            except ApiClientError as exc:
                log.warning("heartbeat not received by the api: %s", exc)
                self.metrics.heartbeat_failed()

    def report_activity(self) -> int:
        """Read the last activity of this location's seats from the hub and report it to the
        api (a seat the hub does not know: none); how many live registrations it concerned."""
        location = self.client.location()
        seen = self.verbs.hub.activity()
        seats = [
            SeatActivityIn(seat=n, last_activity=seen.get(f"student{n}"))
            for n in range(location.seat_min, location.seat_max + 1)
        ]
        return self.client.report_activity(ActivityIn(seats=seats))

    def _report_activity(self) -> None:
        """Report the seats' activity every ``activity_interval`` seconds."""
        assert self.activity_interval is not None
        while not self.stopping.wait(self.activity_interval):
            try:
                self.report_activity()
            except (ApiClientError, HubError) as exc:
                log.warning("seats' activity not reported: %s", exc)

    def run(self) -> None:
        """Run the worker threads until :meth:`stop` is called. With a heartbeat, the first
        beat comes before any claim: it tells the api this process is new."""
        if self.heartbeat_interval is not None:
            try:
                self.beat()
            except ApiClientError as exc:
                log.warning("first heartbeat not received by the api: %s", exc)
        threads = [
            threading.Thread(target=self._worker, name=f"wod-agent-{i}", daemon=True)
            for i in range(self.workers)
        ]
        if self.heartbeat_interval is not None:
            threads.append(
                threading.Thread(target=self._heartbeat, name="wod-heartbeat", daemon=True)
            )
        if self.activity_interval is not None:
            threads.append(
                threading.Thread(target=self._report_activity, name="wod-activity", daemon=True)
            )
        if self.checker is not None:
            threads.append(
                threading.Thread(target=self._check_daily, name="wod-check", daemon=True)
            )
        if self.containment is not None:
            threads.append(
                threading.Thread(
                    target=self._watch_containment, name="wod-containment", daemon=True
                )
            )
        if self.watchdog is not None:
            threads.append(
                threading.Thread(
                    target=self.watchdog.run,
                    args=(self.stopping,),
                    name="wod-watchdog",
                    daemon=True,
                )
            )
        for thread in threads:
            thread.start()
            time.sleep(self.poll_interval / self.workers)  # spread the idle polls
        for thread in threads:
            thread.join()
        self.close()

    def close(self) -> None:
        """Close the HTTP connections of the agent."""
        self.client.close()
        close_hub = getattr(self.verbs.hub, "close", None)
        if close_hub is not None:
            close_hub()

    def stop(self) -> None:
        self.stopping.set()


def build_verbs(
    settings: Settings,
    *,
    hub: HubClient | None = None,
    mode: HostMode | None = None,
    client: ApiClient | None = None,
) -> Verbs:
    """The verbs of this host in its host mode; with the api's ``client``, jobs that name a
    content revision get it from the api."""
    mode = mode or load_host_mode(settings)
    ldap = PythonLdapPasswords(settings.ldap) if settings.ldap.url else None
    local = Content(settings.content.paths)
    contents: Content | AgentContent = local
    if client is not None:
        contents = AgentContent(local, client.bundle, settings.backend.content_cache)
    return Verbs(
        settings,
        contents,
        mode.seat_files,
        hub or JupyterHubClient(settings.hub.api_url, settings.hub.api_token.get_secret_value()),
        mode.accounts,
        ldap=ldap,
        compiler=Compiler(hides_files=mode.hides_files),
        isolated=mode.isolates_seats,
        limiter=mode.limiter,
    )


def report_containment(limiter: SeatLimiter, client: ApiClient) -> None:
    """Tell the api what the seats' limits contained since the last call (the admins are
    alerted; the seats go on)."""
    for username, events in limiter.events().items():
        log.warning("contained on %s: %s", username, "; ".join(events))
        client.report_contained(int(username.removeprefix("student")), events)


def build_agent(settings: Settings, *, hub: HubClient | None = None) -> Agent:
    """The agent of this host from its settings (the composition root of ``wod backend run``)."""
    backend = settings.backend
    if backend.token is None:
        raise ConfigError("backend.token is not set: give the agent its location token")
    mode = load_host_mode(settings)
    client = ApiClient(backend.api_url, backend.token.get_secret_value())
    verbs = build_verbs(settings, hub=hub, mode=mode, client=client)
    watchdog = None
    if settings.watchdog.enabled:

        def report(abuse: Abuse) -> None:
            client.report_abuse(int(abuse.seat.removeprefix("student")), abuse.reason)

        watchdog = AbuseWatchdog(settings.watchdog, mode.seat_of, mode.accounts, report)

    limiter = mode.limiter
    contain = partial(report_containment, limiter, client) if limiter is not None else None

    def daily_check() -> None:
        location = client.location()
        seats = range(location.seat_min, location.seat_max + 1)
        report = check_host(settings, mode, seats, hub_probe=lambda: probe_hub(settings))
        client.report_check([finding.what for finding in report.findings])

    return Agent(
        client,
        verbs,
        poll_interval=backend.poll_interval,
        workers=backend.workers,
        watchdog=watchdog,
        checker=daily_check,
        check_interval=backend.check_interval,
        heartbeat_interval=backend.heartbeat_interval,
        activity_interval=settings.idle.report_interval or None,
        containment=contain,
        containment_interval=settings.watchdog.interval,
    )
