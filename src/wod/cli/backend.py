"""``wod backend``: the agent of a location."""

from __future__ import annotations

import signal
from types import FrameType

import typer

from wod import logs
from wod.backend.agent import build_agent
from wod.backend.mailorders import MailOrderListener
from wod.cli.common import edge, settings

app = typer.Typer(help="The backend agent of a location.", no_args_is_help=True)


@app.command("run")
@edge
def run() -> None:
    """Claim and run this location's jobs until SIGINT or SIGTERM."""
    current = settings()
    current.require_secrets("hub.api_token")
    logs.configure(current.log_level)
    agent = build_agent(current)
    listener = None
    if current.mailorders.enabled:
        listener = MailOrderListener(
            current.mailorders, agent.verbs.content, agent.verbs, agent.client
        )
        listener.start()

    def stop(signum: int, frame: FrameType | None) -> None:
        agent.stop()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        agent.run()
    finally:
        if listener is not None:
            listener.stop()
