"""Driving JupyterHub through its REST API: the :class:`HubClient` interface, the real client,
and a fake for tests of the agent without a hub."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, Protocol

import httpx

from wod.errors import HubError, HubUnavailable

#: Answers of a hub (or of the proxy in front of it) that is restarting or overloaded.
UNAVAILABLE = (502, 503, 504)
#: Users asked per page of ``GET /users`` (the hub's own maximum by default).
PAGE = 200
#: The answer with ``items`` and ``_pagination`` (JupyterHub 2 and later).
PAGINATED = "application/jupyterhub-pagination+json"


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

    def activity(self) -> dict[str, datetime | None]:
        """Every user's last activity as the hub knows it: the latest of the user's and its
        servers' ``last_activity`` (the proxy's traffic and the server's own reports, kernel
        execution included); None: none yet."""
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

    def _call(self, method: str, path: str, ok: tuple[int, ...], **options: Any) -> httpx.Response:
        try:
            response = self.http.request(method, path, **options)
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

    def activity(self) -> dict[str, datetime | None]:
        seen: dict[str, datetime | None] = {}
        offset: int | None = 0
        while offset is not None:
            page = self._call(
                "GET",
                "/users",
                (200,),
                params={"offset": offset, "limit": PAGE},
                headers={"Accept": PAGINATED},
            ).json()
            items = page["items"] if isinstance(page, dict) else page
            for user in items:
                seen[user["name"]] = last_activity(user)
            following = page.get("_pagination", {}).get("next") if isinstance(page, dict) else None
            offset = following["offset"] if following else None
        return seen


def last_activity(user: dict[str, Any]) -> datetime | None:
    """The latest ``last_activity`` of a user model of the hub and of its servers."""
    servers = (user.get("servers") or {}).values()
    stamps = [user.get("last_activity"), *(server.get("last_activity") for server in servers)]
    moments = [datetime.fromisoformat(stamp) for stamp in stamps if isinstance(stamp, str)]
    # JupyterHub writes UTC with a Z; an older one may write none
    aware = [m if m.tzinfo is not None else m.replace(tzinfo=UTC) for m in moments]
    return max(aware, default=None)


class FakeHub:
    """Remembers users and running servers (unit tests, dev without a hub)."""

    def __init__(self) -> None:
        self.users: set[str] = set()
        self.running: set[str] = set()
        self.calls: list[tuple[str, str]] = []
        #: What :meth:`activity` answers for each user (a test sets it).
        self.last_activity: dict[str, datetime | None] = {}

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

    def activity(self) -> dict[str, datetime | None]:
        self.calls.append(("activity", ""))
        return {user: self.last_activity.get(user) for user in self.users | set(self.last_activity)}
