"""Real servers inside the test process: the api on uvicorn, the backend agent in a thread."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from fastapi import FastAPI

from wod.ports import free_port


class ApiServer:
    """uvicorn serving ``app`` on a free loopback port, in a thread."""

    def __init__(self, app: FastAPI, port: int | None = None, **options: Any) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="on",
            **options,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="test-uvicorn", daemon=True)

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(20)


@contextmanager
def serve(app: FastAPI, **options: Any) -> Iterator[ApiServer]:
    """``app`` on uvicorn with ``options`` (those of ``wod api``: see ``server_options``)."""
    server = ApiServer(app, **options)
    server.start()
    try:
        yield server
    finally:
        server.stop()
