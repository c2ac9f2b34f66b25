"""A background loop says a database outage once, not with a traceback per pass, and says
when the database answers again; any other failure keeps its traceback."""

from __future__ import annotations

import logging
import threading

import pytest
from sqlalchemy.exc import OperationalError

from tests.e2e.conftest import wait_for
from wod.scheduler.loop import Loop


class Outage:
    """A pass that fails ``down`` times as a server that went away does, then ``broken``
    times with a bug of its own, then succeeds."""

    def __init__(self, down: int, broken: int = 0) -> None:
        self.down = down
        self.broken = broken
        self.passes = 0
        self.recovered = threading.Event()

    def __call__(self) -> None:
        self.passes += 1
        if self.passes <= self.down:
            raise OperationalError("SELECT 1", {}, Exception("connection refused\nDETAIL: x"))
        if self.passes <= self.down + self.broken:
            raise ValueError("a bug of the pass")
        self.recovered.set()


def run(step: Outage) -> None:
    loop = Loop("wod-test", step, 0.001)
    loop.start()
    try:
        wait_for(step.recovered.is_set, 60, "the loop to pass again")
    finally:
        loop.stop()


def test_an_outage_is_said_once_and_its_end_too(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="wod.scheduler.loop")
    run(Outage(down=6))
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "wod-test: the database is unavailable; waiting for it: connection refused",
        "wod-test: the database answers again (6 passes missed)",
    ]
    assert all(r.exc_info is None for r in caplog.records)


def test_any_other_failure_keeps_its_traceback(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="wod.scheduler.loop")
    run(Outage(down=0, broken=2))
    failed = [r for r in caplog.records if r.getMessage() == "wod-test: pass failed"]
    assert len(failed) == 2 and all(r.exc_info for r in failed)
