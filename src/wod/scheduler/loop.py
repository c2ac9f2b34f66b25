"""The timers and the outbox worker, run as background threads of the api process.

Each pass is a plain function (:func:`run_pass`) that tests call directly with an injected
clock; the loop only repeats it. Several api processes may run their loops at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from wod import metrics
from wod.context import AppContext
from wod.db.session import first_line, unavailable
from wod.notify import Topic
from wod.services import content, provisioning
from wod.services.admin import retention
from wod.services.mail import outbox
from wod.services.registrations import idle, timers, waitlist
from wod.services.registrations.relocate import relocate_waiting

log = logging.getLogger(__name__)
#: Seconds between two looks at the content: a sync due, the revision in service to serve.
CONTENT_INTERVAL = 5.0
#: The longest pause between two passes while the database is unavailable, in seconds.
OUTAGE_INTERVAL = 5.0


@metrics.SCHEDULER_PASS.time()
def run_pass(ctx: AppContext) -> dict[str, int]:
    """One pass of every timer; counts of what was done."""
    return {
        "expired": timers.expire_due(ctx),  # before reminders: no reminder after the end
        "reminded": timers.remind_due(ctx),
        "idle_reclaimed": idle.reclaim_idle(ctx),  # before warnings: a warning per idle period
        "idle_warned": idle.warn_idle(ctx),
        "timed_out": timers.watch_provisioning(ctx),
        "unconfirmed": timers.expire_unconfirmed(ctx),
        "leases": timers.expire_leases(ctx),
        "counters": timers.forget_rate_counters(ctx),
        "silent": provisioning.watch_silence(ctx),
        "warm": provisioning.fill_pools(ctx),  # after the timers: seats they freed fill the pools
        "relocated": relocate_waiting(ctx),  # after silence: its waiting ones move at once
        "offers_expired": waitlist.expire_offers(ctx),  # before offers: their seats go on
        "offered": waitlist.offer_free_seats(ctx),
        "anonymised": retention.anonymise_due(ctx),
        "waitlist_forgotten": waitlist.forget_ended(ctx),
    }


class Loop:
    """Runs ``step`` every ``interval`` seconds in a daemon thread until stopped."""

    def __init__(self, name: str, step: Callable[[], object], interval: float) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self._stop = threading.Event()
        self._wake = threading.Event()
        self.unsubscribe: Callable[[], None] = lambda: None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run the next pass now (e.g. right after something was queued)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self.unsubscribe()
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        missed = 0  # passes in a row the database could not answer
        while not self._stop.is_set():
            try:
                self.step()
            except Exception as exc:  # a pass must never kill the loop
                if not unavailable(exc):
                    log.exception("%s: pass failed", self.name)
                elif missed == 0:  # an outage is said once, not with a traceback per pass
                    log.warning(
                        "%s: the database is unavailable; waiting for it: %s",
                        self.name,
                        first_line(exc),
                    )
                missed = missed + 1 if unavailable(exc) else 0
            else:
                if missed:
                    log.warning(
                        "%s: the database answers again (%d passes missed)", self.name, missed
                    )
                missed = 0
            # while the database is away, passes come less often (up to OUTAGE_INTERVAL)
            pause = min(max(self.interval, OUTAGE_INTERVAL), self.interval * 2**missed)
            self._wake.wait(pause)
            self._wake.clear()


def start_loops(ctx: AppContext) -> list[Loop]:
    """The scheduler and outbox loops the settings ask for, started, each woken after every
    commit that makes its work due (:attr:`wod.notify.Topic.work` for the scheduler and the
    content sync, :attr:`~wod.notify.Topic.mail` for the outbox) until it is stopped."""
    loops: list[tuple[Loop, Topic]] = []
    if ctx.settings.scheduler.enabled:
        # Once per start, not per pass: it is a catch-up for rows of an older schema.
        timers.backfill_live(ctx)
        scheduler = Loop("wod-scheduler", lambda: run_pass(ctx), ctx.settings.scheduler.interval)
        loops.append((scheduler, Topic.work))
    if ctx.settings.outbox.enabled:
        sender = Loop("wod-outbox", lambda: outbox.send_due(ctx), ctx.settings.outbox.interval)
        loops.append((sender, Topic.mail))
    if ctx.settings.scheduler.enabled:
        # Its own thread: a sync fetches from git and may take a while; the timers must not wait.
        syncer = Loop("wod-content", lambda: content.sync_due(ctx), CONTENT_INTERVAL)
        loops.append((syncer, Topic.work))
    for loop, topic in loops:
        loop.unsubscribe = ctx.notifier.subscribe(topic, loop.wake)
        loop.start()
    return [loop for loop, _ in loops]
