"""The whole platform for real: the api (uvicorn, with its scheduler and outbox loops), the
backend agent, a JupyterHub with configurable-http-proxy, and an SMTP server (the dev mail
catcher), each on free loopback ports in a temp folder. Only the clock is injected."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from pydantic import SecretStr

from tests.factories import seed
from tests.servers import ApiServer
from wod.api.app import create_app
from wod.backend.agent import Agent, build_agent
from wod.context import AppContext, build_context
from wod.domain.clock import FakeClock
from wod.hub.process import HubProcess
from wod.ports import free_port
from wod.settings import Settings

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
    ctx: AppContext
    api: ApiServer
    hub: HubProcess
    agent: Agent
    clock: FakeClock

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
        self.api.server.config.app.state.wake()


@pytest.fixture
def e2e_settings(tmp_path: Path, database_url: str) -> Settings:
    from tests.conftest import SAMPLE_CONTENT

    hub_port, api_port, smtp_port = free_port(), free_port(), free_port()
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        content={"paths": [SAMPLE_CONTENT]},
        api={"port": api_port, "public_url": f"http://127.0.0.1:{api_port}"},
        smtp={"host": "127.0.0.1", "port": smtp_port},
        backend={
            "api_url": f"http://127.0.0.1:{api_port}",
            "students_dir": tmp_path / "students",
            "credentials_dir": tmp_path / "credentials",
            "poll_interval": 0.1,
            "workers": 2,
        },
        hub={
            "dir": tmp_path / "hub",
            "port": hub_port,
            "internal_port": free_port(),
            "proxy_api_port": free_port(),
            "public_url": f"http://127.0.0.1:{hub_port}",
            "api_url": f"http://127.0.0.1:{hub_port}/hub/api",
            "api_token": "e2e-" + "x" * 40,
        },
        dev={"mail_catcher": True, "maildir": tmp_path / "mail"},
        scheduler={"interval": 0.2},
        outbox={"interval": 0.2},
    )


@pytest.fixture
def stack(e2e_settings: Settings, clock: FakeClock) -> Iterator[Stack]:
    ctx = build_context(e2e_settings, clock=clock)
    token = seed(ctx, seats=(1, 20), hub_url=e2e_settings.hub.public_url)
    backend = e2e_settings.backend.model_copy(update={"token": SecretStr(token)})
    agent = build_agent(e2e_settings.model_copy(update={"backend": backend}))
    agent_thread = threading.Thread(target=agent.run, name="e2e-agent", daemon=True)
    api = ApiServer(create_app(ctx), port=e2e_settings.api.port)
    hub = HubProcess(e2e_settings)
    try:
        hub.start()
        api.start()
        agent_thread.start()
        yield Stack(ctx, api, hub, agent, clock)
    finally:
        agent.stop()
        if agent_thread.is_alive():
            agent_thread.join(30)
        if api.thread.is_alive():
            api.stop()
        hub.stop()
        ctx.close()
