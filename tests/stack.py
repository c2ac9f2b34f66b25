"""The whole platform in one process for end-to-end tests and benchmarks: the api on uvicorn
(with its scheduler and outbox loops and the dev mail catcher), the backend agent in a thread,
and a real JupyterHub child process, each on free loopback ports under one folder."""

from __future__ import annotations

import json
import os
import pwd
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from tests.conftest import SAMPLE_CONTENT
from tests.factories import seed
from tests.servers import ApiServer
from wod.backend.agent import Agent, build_agent
from wod.context import AppContext, build_context
from wod.domain.clock import Clock
from wod.hub.process import HubProcess
from wod.notify import Topic
from wod.ports import free_port
from wod.settings import Settings
from wod.web.app import create_app

#: Seconds the tests' hubs and the tests wait for a seat's server to start.
SPAWN_TIMEOUT = 240.0


def stack_settings(
    folder: Path,
    database_url: str,
    *,
    content: list[Path] | None = None,
    mode: str = "hub",
    students_dir: Path | None = None,
    singleuser_venv: Path | None = None,
    uid_base: int = 2000,
) -> Settings:
    api, hub, smtp = free_port(), free_port(), free_port()
    return Settings(
        database_url=database_url,
        data_dir=folder / "data",
        content={"paths": content or [SAMPLE_CONTENT]},
        api={"port": api, "public_url": f"http://127.0.0.1:{api}"},
        smtp={"host": "127.0.0.1", "port": smtp},
        backend={
            "api_url": f"http://127.0.0.1:{api}",
            "students_dir": students_dir or folder / "students",
            "credentials_dir": folder / "credentials",
            "poll_interval": 0.1,
            "workers": 4,
            "account_mode": mode,
            "uid_base": uid_base,
            "content_cache": folder / "content-cache",
        },
        hub={
            "dir": folder / "hub",
            "port": hub,
            "internal_port": free_port(),
            "proxy_api_port": free_port(),
            "public_url": f"http://127.0.0.1:{hub}",
            "api_url": f"http://127.0.0.1:{hub}/hub/api",
            "api_token": "stack-" + "x" * 40,
            "singleuser_venv": singleuser_venv,
            # a loaded machine may take minutes to start JupyterLab: wait for it
            "spawn_timeout": SPAWN_TIMEOUT,
        },
        dev={"mail_catcher": True, "maildir": folder / "mail"},
        scheduler={"interval": 0.2},
        # two emails, as the tests expect, whatever the agent's speed (the api's clock is
        # injected: a held welcome would wait for it)
        outbox={"interval": 0.2, "combine_within": 0},
    )


def hub_launcher(settings: Settings) -> list[str]:
    """How a test starts its hub. wod refuses a hub of the hub mode run as root (every seat
    would be root), and the suite runs as root in CI: there, such a hub runs as ``nobody``.
    Its seats' homes and password hashes are written by the test's agent, which runs as root
    in this process, so the hub keeps one capability, to pass file permissions
    (``CAP_DAC_OVERRIDE``, ambient: its seats' servers inherit it; ``no_setuid_fixup``: so
    that ``access()`` agrees) — less than root, and only for the test's own folders' sake."""
    if os.geteuid() != 0 or settings.backend.account_mode != "hub":
        return []
    nobody = pwd.getpwnam("nobody")
    return [
        "setpriv",
        f"--reuid={nobody.pw_uid}",
        f"--regid={nobody.pw_gid}",
        "--clear-groups",
        "--securebits=+no_setuid_fixup",
        "--inh-caps=+dac_override",
        "--ambient-caps=+dac_override",
        "--",
        "env",
        f"HOME={settings.hub.dir}",  # not root's home: nothing of the hub lands there
    ]


@dataclass
class LocalStack:
    ctx: AppContext
    api: ApiServer
    hub: HubProcess
    agent: Agent

    def wake(self) -> None:
        """Run the scheduler and outbox passes now (after moving an injected clock)."""
        self.ctx.notifier.publish([Topic.work, Topic.mail])


@contextmanager
def local_stack(
    settings: Settings, clock: Clock | None = None, seats: tuple[int, int] = (1, 20)
) -> Iterator[LocalStack]:
    """Start everything with the content and a location of ``seats``; stop it all."""
    ctx = build_context(settings, clock=clock)
    token = seed(ctx, seats=seats, hub_url=settings.hub.public_url)
    backend = settings.backend.model_copy(update={"token": SecretStr(token)})
    agent = build_agent(settings.model_copy(update={"backend": backend}))
    agent_thread = threading.Thread(target=agent.run, name="stack-agent", daemon=True)
    api = ApiServer(create_app(ctx), port=settings.api.port)
    hub = HubProcess(settings, launcher=hub_launcher(settings))
    try:
        # the api first: its port was only chosen free, and the seconds a hub takes to start
        # would leave it to any other process of the machine meanwhile
        api.start()
        hub.start()
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


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings a ``wod`` command run beside the stack needs, as WOD_ variables."""
    b, h = settings.backend, settings.hub
    env = {
        "WOD_DATABASE_URL": settings.resolved_database_url,
        "WOD_CONTENT__PATHS": json.dumps([str(p) for p in settings.content.paths]),
        "WOD_BACKEND__ACCOUNT_MODE": b.account_mode,
        "WOD_BACKEND__STUDENTS_DIR": str(b.students_dir),
        "WOD_BACKEND__CREDENTIALS_DIR": str(b.credentials_dir),
        "WOD_BACKEND__UID_BASE": str(b.uid_base),
        "WOD_BACKEND__API_URL": b.api_url,
        "WOD_HUB__API_URL": h.api_url,
        "WOD_HUB__PUBLIC_URL": h.public_url,
        "WOD_HUB__API_TOKEN": h.api_token.get_secret_value(),
    }
    if h.singleuser_venv is not None:
        env["WOD_HUB__SINGLEUSER_VENV"] = str(h.singleuser_venv)
    return env
