"""Logging: one format for every wod process (readable text by default, or one JSON object per
line with ``log.format = "json"``); secrets are never passed to a logger.

Each api request has a request id: the caller's ``X-Request-ID`` when it is a plain token, else
a new one. It is bound to the request's context (:func:`bound_request_id`), added to every
record logged while the request is handled, and sent back in the answer's ``X-Request-ID``. A
job queued by a request keeps it; the agent binds it while it runs the job and sends it with
its calls about that job, so one id follows a registration from the portal to the hub host.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

LogFormat = Literal["text", "json"]
HEADER = "X-Request-ID"
#: What a request id may be: it reaches log lines and a database column, so nothing else.
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
_TEXT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_request_id: ContextVar[str | None] = ContextVar("wod_request_id", default=None)
#: The attributes every record has: what is not among them came as ``extra``.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",  # uvicorn's copy of the message with terminal colours
}


def configure(level: str = "INFO", fmt: LogFormat = "text", stream: TextIO | None = None) -> None:
    """Send every record at ``level`` or above to ``stream`` (standard error) in ``fmt``."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(_TEXT, "%H:%M:%S"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "mail.log", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


# --------------------------------------------------------------------- the request id


def new_request_id() -> str:
    return secrets.token_hex(8)


def valid_request_id(value: str | None) -> str | None:
    """``value`` when it may serve as a request id, else None."""
    return value if value is not None and _VALID_ID.fullmatch(value) else None


def current_request_id() -> str | None:
    """The request id bound to the current context, if any."""
    return _request_id.get()


@contextmanager
def bound_request_id(value: str | None) -> Iterator[str | None]:
    """Bind ``value`` (when valid) as the request id of what runs inside; yields it."""
    token = _request_id.set(valid_request_id(value))
    try:
        yield _request_id.get()
    finally:
        _request_id.reset(token)


def outgoing_headers() -> dict[str, str]:
    """The headers that carry the current request id to another process."""
    current = _request_id.get()
    return {HEADER: current} if current is not None else {}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (None outside a request or a job) to every record it sees."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = _request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC), level, logger, message, request id, the
    ``extra`` values of the call, and the exception when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or _request_id.get(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


# --------------------------------------------------------------------- the api's middleware

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
_access = logging.getLogger("wod.request")


class RequestContext:
    """ASGI middleware: binds each HTTP request's id, sends it back in ``X-Request-ID``, and
    logs one line per request as its answer starts (status, time to answer), naming the
    route's template (never the path itself: a path may hold a manage token). Requests to a
    route under one of the ``quiet`` prefixes (the agents' polls, the probes) are logged at
    DEBUG unless they fail."""

    def __init__(self, app: ASGIApp, quiet: tuple[str, ...] = ()) -> None:
        self.app = app
        self.quiet = quiet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope.get("headers") or []).get(HEADER.lower().encode(), b"")
        request_id = valid_request_id(given.decode("latin-1")) if given else None
        request_id = request_id or new_request_id()
        started = time.perf_counter()
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                headers.append((HEADER.lower().encode(), request_id.encode()))
                message["headers"] = headers
                # logged before the answer leaves: its line is there once the caller has it
                self._log(scope, message["status"], time.perf_counter() - started)
                answered = True
            await send(message)

        token = _request_id.set(request_id)
        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            # the id stays bound: the error handler outside logs the exception with it (the
            # request's task ends with the answer, and its context with it)
            if not answered:
                self._log(scope, 500, time.perf_counter() - started)
            raise
        _request_id.reset(token)

    def _log(self, scope: Scope, status: int, seconds: float) -> None:
        route = route_of(scope)
        quiet = route is not None and route.startswith(self.quiet) and status < 400
        shown = route or "(no route)"
        _access.log(
            logging.DEBUG if quiet else logging.INFO,
            "%s %s %s %.0f ms",
            scope["method"],
            shown,
            status,
            seconds * 1000,
            extra={
                "method": scope["method"],
                "route": shown,
                "status": status,
                "duration_ms": round(seconds * 1000, 1),
            },
        )


def route_of(scope: Scope) -> str | None:
    """The template of the route that answered, once routed (``/manage/{token}``, never the
    token), with the prefixes of the routers it is in; a mount's own path for what the mount
    served (``/static``); None when nothing matched."""
    template = getattr(scope.get("route"), "path", None)
    if not isinstance(template, str):
        mount = scope.get("root_path") if "app_root_path" in scope else None
        return mount if isinstance(mount, str) and mount else None
    # the route knows its template below the routers that include it: their prefixes (fixed
    # text) are the leading segments of the path that the template does not account for
    path = str(scope.get("path", ""))
    if ":path}" in template:  # its last parameter spans segments: align on its fixed head
        at = path.find(template.split("{", 1)[0])
        return path[:at] + template if at > 0 else template
    extra = path.rstrip("/").count("/") - template.rstrip("/").count("/")
    return ("/".join(path.split("/")[: extra + 1]) if extra > 0 else "") + template
