"""What one request may cost the api: a body over ``api.max_body_size`` is refused (413) by
FastAPI's own limit before it is read, and a client that pauses longer than
``api.request_timeout`` while sending its body is answered 408 and let go, so a few slow or
huge requests cannot hold the workers or the memory of every other caller."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from wod.settings import ApiSettings

#: The push webhook's bodies: a push of many commits is larger than any other request.
WEBHOOK_MAX_BODY = 5 * 1024 * 1024


class RequestTimeout:
    """Answer 408 when the client stops sending its body for ``seconds``: the refusal is raised
    from the body's reading, so the error handlers answer it like any other."""

    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def timed_receive() -> Message:
            try:
                async with asyncio.timeout(self.seconds):
                    return await receive()
            except TimeoutError:
                raise HTTPException(
                    408,
                    f"The request body did not arrive within {self.seconds:g} s.",
                    headers={"Connection": "close"},
                ) from None

        await self.app(scope, timed_receive, send)


def server_options(api: ApiSettings) -> dict[str, Any]:
    """uvicorn's options for the api: client addresses from no proxy unless one is trusted."""
    return {
        "proxy_headers": bool(api.forwarded_allow_ips),
        "forwarded_allow_ips": api.forwarded_allow_ips or "",
        "timeout_keep_alive": 5,
        "h11_max_incomplete_event_size": 16 * 1024,
    }
