"""The whole platform in one process for end-to-end tests and benchmarks: the api on uvicorn
(with its scheduler and outbox loops and the dev mail catcher), the backend agent in a thread,
and a real JupyterHub child process, each on free loopback ports under one folder."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from tests.conftest import SAMPLE_CONTENT
from tests.factories import seed
from tests.servers import ApiServer
from wod.api.app import create_app
from wod.backend.agent import Agent, build_agent
from wod.context import AppContext, build_context
from wod.domain.clock import Clock
from wod.hub.process import HubProcess
from wod.ports import free_port
from wod.settings import Settings


def stack_settings(folder: Path, database_url: str) -> Settings:
    api, hub, smtp = free_port(), free_port(), free_port()
    return Settings(
        database_url=database_url,
        data_dir=folder / "data",
        content={"paths": [SAMPLE_CONTENT]},
        api={"port": api, "public_url": f"http://127.0.0.1:{api}"},
        smtp={"host": "127.0.0.1", "port": smtp},
        backend={
            "api_url": f"http://127.0.0.1:{api}",
            "students_dir": folder / "students",
            "credentials_dir": folder / "credentials",
            "poll_interval": 0.1,
            "workers": 4,
        },
        hub={
            "dir": folder / "hub",
            "port": hub,
            "internal_port": free_port(),
            "proxy_api_port": free_port(),
            "public_url": f"http://127.0.0.1:{hub}",
            "api_url": f"http://127.0.0.1:{hub}/hub/api",
            "api_token": "stack-" + "x" * 40,
        },
        dev={"mail_catcher": True, "maildir": folder / "mail"},
        scheduler={"interval": 0.2},
        outbox={"interval": 0.2},
    )


@dataclass
class LocalStack:
    ctx: AppContext
    api: ApiServer
    hub: HubProcess
    agent: Agent

    def wake(self) -> None:
        """Run the scheduler and outbox passes now (after moving an injected clock)."""
        self.api.server.config.app.state.wake()


@contextmanager
def local_stack(settings: Settings, clock: Clock | None = None) -> Iterator[LocalStack]:
    """Start everything with the sample content and a location of seats 1-20; stop it all."""
    ctx = build_context(settings, clock=clock)
    token = seed(ctx, seats=(1, 20), hub_url=settings.hub.public_url)
    backend = settings.backend.model_copy(update={"token": SecretStr(token)})
    agent = build_agent(settings.model_copy(update={"backend": backend}))
    agent_thread = threading.Thread(target=agent.run, name="stack-agent", daemon=True)
    api = ApiServer(create_app(ctx), port=settings.api.port)
    hub = HubProcess(settings)
    try:
        hub.start()
        api.start()
        agent_thread.start()
        yield LocalStack(ctx, api, hub, agent)
    finally:
        agent.stop()
        if agent_thread.is_alive():
            agent_thread.join(30)
        if api.thread.is_alive():
            api.stop()
        hub.stop()
        ctx.close()
