"""The whole platform for real (tests/stack.py): api, backend agent, JupyterHub, SMTP mail
catcher, each on free loopback ports in a temp folder. Only the clock is injected."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.servers import ApiServer
from tests.stack import LocalStack, local_stack, stack_settings
from wod.context import AppContext
from wod.domain.clock import FakeClock

T = TypeVar("T")


def wait_for(check: Callable[[], T | None], timeout: float = 60.0, what: str = "it") -> T:
    """Poll ``check`` until it returns something (a condition, not a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@dataclass
class Stack:
    local: LocalStack
    clock: FakeClock

    @property
    def ctx(self) -> AppContext:
        return self.local.ctx

    @property
    def api(self) -> ApiServer:
        return self.local.api

    @property
    def hub_url(self) -> str:
        return self.ctx.settings.hub.public_url

    def mail(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.api.url}/api/v1/dev/mail", timeout=10)
        answer.raise_for_status()
        messages: list[dict[str, Any]] = answer.json()
        return messages

    def wait_mail(self, to: str, subject_part: str, timeout: float = 60.0) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (m for m in self.mail() if m["to"] == to and subject_part in m["subject"]), None
            )

        return wait_for(find, timeout, f"an email '{subject_part}' to {to}")

    def wake(self) -> None:
        self.local.wake()


@pytest.fixture
def stack(tmp_path: Path, database_url: str, clock: FakeClock) -> Iterator[Stack]:
    with local_stack(stack_settings(tmp_path, database_url), clock) as local:
        yield Stack(local, clock)
