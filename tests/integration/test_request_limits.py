"""What one request may cost, on a real uvicorn: a body over ``api.max_body_size`` is refused
(413) before it is read, a client pausing in the middle of its body is answered 408, no
proxy's ``X-Forwarded-For`` is believed unless configured, and a 405 says what is allowed."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from tests.servers import ApiServer, serve
from wod.context import AppContext
from wod.settings import ApiSettings, Settings
from wod.web.app import create_app
from wod.web.limits import WEBHOOK_MAX_BODY, server_options


@pytest.fixture
def settings(settings: Settings) -> Settings:
    settings.api.request_timeout = 0.5
    return settings


@pytest.fixture
def api(ctx: AppContext, token: str) -> Iterator[ApiServer]:
    with serve(create_app(ctx, background=False), **server_options(ctx.settings.api)) as running:
        yield running


def exchange(server: ApiServer, head: str, body: bytes = b"") -> tuple[int, dict[str, str], str]:
    """Send ``head`` and ``body`` as they are, then read the answer until the server closes or
    has sent it whole: (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as conn:
        conn.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < _length(answer):
            chunk = conn.recv(65536)
            if not chunk:
                break
            answer += chunk
    top, _, content = answer.partition(b"\r\n\r\n")
    status_line, *lines = top.decode().split("\r\n")
    headers = {k.lower(): v.strip() for k, v in (line.split(":", 1) for line in lines)}
    return int(status_line.split()[1]), headers, content.decode()


def _length(answer: bytes) -> int:
    top = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
    for line in top.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 1 << 30


def post_head(path: str, length: int) -> str:
    return (
        f"POST {path} HTTP/1.1\nHost: 127.0.0.1\nContent-Type: application/json\n"
        f"Content-Length: {length}\n"
    )


def test_a_body_over_the_limit_is_refused_before_it_is_read(api: ApiServer) -> None:
    # 50 MB announced, not one byte of it sent: the answer comes without waiting for it
    status, _, content = exchange(api, post_head("/api/v1/registrations", 50_000_000))
    assert status == 413
    assert content == "Content Too Large"


def test_a_streamed_body_is_cut_at_the_limit(api: ApiServer) -> None:
    head = (
        "POST /api/v1/registrations HTTP/1.1\nHost: 127.0.0.1\n"
        "Content-Type: application/json\nTransfer-Encoding: chunked\n"
    )
    chunk = b" " * 65536
    body = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 20  # 1.25 MiB, never finished
    status, headers, content = exchange(api, head, body)
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(content)["code"] == "body_too_large"


def test_a_body_under_the_limit_is_read(client: TestClient, token: str) -> None:
    answer = client.post("/api/v1/registrations", json={"workshop": "x" * 500_000})
    assert answer.status_code == 422  # read, and refused for what it says
    answer = client.post("/api/v1/registrations", content=b"{" + b" " * 1_100_000 + b"}")
    assert answer.status_code == 413


def test_the_webhook_has_room_for_a_large_push(client: TestClient) -> None:
    large = json.dumps({"ref": "refs/heads/main", "padding": "x" * 3_000_000})
    assert client.post("/api/v1/content/webhook", content=large).status_code != 413
    huge = b"{" + b" " * WEBHOOK_MAX_BODY + b"}"
    assert client.post("/api/v1/content/webhook", content=huge).status_code == 413


def test_a_client_that_stops_sending_its_body_gets_408(api: ApiServer) -> None:
    body = b'{"workshop": '  # 13 of the 100 bytes announced, then nothing
    status, headers, content = exchange(api, post_head("/api/v1/registrations", 100), body)
    assert status == 408
    assert json.loads(content)["code"] == "request_timeout"
    assert headers["connection"] == "close"


def test_the_api_still_answers_after_refusing(api: ApiServer) -> None:
    exchange(api, post_head("/api/v1/registrations", 50_000_000))
    status, _, content = exchange(api, "GET /api/v1/workshops HTTP/1.1\nHost: 127.0.0.1\n")
    assert status == 200
    assert json.loads(content)


def _echo_address() -> FastAPI:
    app = FastAPI()

    @app.get("/address")
    def address(request: Request) -> str:
        return request.client.host if request.client else ""

    return app


@pytest.mark.parametrize(
    ("trusted", "seen"), [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")], ids=["default", "set"]
)
def test_forwarded_for_is_believed_only_from_a_configured_proxy(trusted: str, seen: str) -> None:
    options = server_options(ApiSettings(forwarded_allow_ips=trusted))
    with serve(_echo_address(), **options) as server:
        head = "GET /address HTTP/1.1\nHost: 127.0.0.1\nX-Forwarded-For: 203.0.113.9\n"
        status, _, content = exchange(server, head)
    assert status == 200
    assert json.loads(content) == seen


def test_the_default_trusts_no_proxy() -> None:
    assert ApiSettings().forwarded_allow_ips == ""


def test_method_not_allowed_says_what_is(client: TestClient) -> None:
    answer = client.delete("/api/v1/workshops")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET"
    assert answer.json()["code"] == "method_not_allowed"
