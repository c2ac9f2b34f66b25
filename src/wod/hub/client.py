"""Driving JupyterHub through its REST API: the :class:`HubClient` interface, the real client,
and a fake for tests of the agent without a hub."""

from __future__ import annotations

import time
from typing import Protocol

import httpx

from wod.errors import HubError, HubUnavailable

#: Answers of a hub (or of the proxy in front of it) that is restarting or overloaded.
UNAVAILABLE = (502, 503, 504)


class HubClient(Protocol):
    """What the backend agent needs from the hub. Contract: every call is idempotent (deleting
    a missing user or stopping a stopped server succeeds) and raises :class:`HubError` when the
    hub cannot do it, :class:`HubUnavailable` when it did not answer."""

    def ensure_user(self, username: str) -> None: ...

    def start_server(self, username: str) -> None: ...

    def wait_ready(self, username: str, timeout: float) -> None:
        """Return once the user's server answers (:class:`HubError` when it stopped, or did
        not answer within ``timeout`` seconds)."""
        ...

    def stop_server(self, username: str) -> None: ...

    def delete_user(self, username: str) -> None:
        """Remove the user with its server and sessions (old cookies stop working)."""
        ...


class JupyterHubClient:
    """The hub's REST API with the wod-backend service token."""

    def __init__(
        self,
        api_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.http = httpx.Client(
            base_url=api_url.rstrip("/"),
            headers={"Authorization": f"token {token}"},
            timeout=timeout,
            transport=transport,
        )
        self.stop_timeout = 60.0

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, ok: tuple[int, ...]) -> httpx.Response:
        try:
            response = self.http.request(method, path)
        except httpx.TransportError as exc:
            raise HubUnavailable(f"hub {method} {path}: {exc or type(exc).__name__}") from exc
        except httpx.HTTPError as exc:
            raise HubError(f"hub {method} {path}: {exc}") from exc
        if response.status_code in UNAVAILABLE:
            raise HubUnavailable(f"hub {method} {path}: {response.status_code} (unavailable)")
        if response.status_code not in ok:
            raise HubError(f"hub {method} {path}: {response.status_code} {response.text[:200]}")
        return response

    def ensure_user(self, username: str) -> None:
        self._call("POST", f"/users/{username}", (201, 409))

    def start_server(self, username: str) -> None:
        self._call("POST", f"/users/{username}/server", (201, 202, 400))

    def wait_ready(self, username: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            response = self._call("GET", f"/users/{username}", (200,))
            server = response.json().get("servers", {}).get("")
            if server and server.get("ready"):
                return
            if not server:
                raise HubError(f"the server of {username} stopped before it was ready")
            if time.monotonic() > deadline:
                raise HubError(f"the server of {username} was not ready in {timeout:.0f} s")
            time.sleep(0.2)

    def stop_server(self, username: str) -> None:
        deadline = time.monotonic() + self.stop_timeout
        while True:
            response = self._call("GET", f"/users/{username}", (200, 404))
            if response.status_code == 404:
                return
            server = response.json().get("servers", {}).get("")
            if not server:
                return
            if server.get("pending") != "stop":
                self._call("DELETE", f"/users/{username}/server", (202, 204, 400, 404))
            if time.monotonic() > deadline:
                raise HubError(f"the server of {username} did not stop in {self.stop_timeout} s")
            time.sleep(0.2)

    def delete_user(self, username: str) -> None:
        self.stop_server(username)
        self._call("DELETE", f"/users/{username}", (204, 404))


class FakeHub:
    """Remembers users and running servers (unit tests, dev without a hub)."""

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.running: set[str] = set()
        self.calls: list[tuple[str, str]] = []

    def ensure_user(self, username: str) -> None:
        self.calls.append(("ensure_user", username))
        self.users.add(username)

    def start_server(self, username: str) -> None:
        self.calls.append(("start_server", username))
        if username not in self.users:
            raise HubError(f"no user {username}")
        self.running.add(username)

    def wait_ready(self, username: str, timeout: float) -> None:
        self.calls.append(("wait_ready", username))
        if username not in self.running:
            raise HubError(f"the server of {username} stopped before it was ready")

    def stop_server(self, username: str) -> None:
        self.calls.append(("stop_server", username))
        self.running.discard(username)

    def delete_user(self, username: str) -> None:
        self.calls.append(("delete_user", username))
        self.running.discard(username)
        self.users.discard(username)
