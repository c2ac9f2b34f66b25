"""The hub client tells an unavailable hub (it may be restarting) from a hub that refused."""

from __future__ import annotations

import httpx
import pytest

from wod.errors import HubError, HubUnavailable
from wod.hub.client import JupyterHubClient


def client(handler: httpx.MockTransport) -> JupyterHubClient:
    return JupyterHubClient("http://hub.invalid/hub/api", "t", transport=handler)


def refused(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("connection refused", request=request)


@pytest.mark.parametrize("status", [502, 503, 504])
def test_a_gateway_answer_means_the_hub_is_unavailable(status: int) -> None:
    hub = client(httpx.MockTransport(lambda r: httpx.Response(status)))
    with pytest.raises(HubUnavailable, match=str(status)):
        hub.ensure_user("student1")


def test_a_refused_connection_means_the_hub_is_unavailable() -> None:
    hub = client(httpx.MockTransport(refused))
    with pytest.raises(HubUnavailable, match="connection refused"):
        hub.start_server("student1")


def test_a_refusal_of_the_hub_is_an_error_of_its_own() -> None:
    hub = client(httpx.MockTransport(lambda r: httpx.Response(403, text="forbidden")))
    with pytest.raises(HubError) as caught:
        hub.ensure_user("student1")
    assert not isinstance(caught.value, HubUnavailable)
    assert "403 forbidden" in str(caught.value)


def test_activity_reads_every_page_of_users_and_their_servers() -> None:
    """The latest of a user's and its servers' ``last_activity``, over every page."""
    asked: list[str] = []

    def users(request: httpx.Request) -> httpx.Response:
        asked.append(str(request.url.params))
        assert request.headers["Accept"] == "application/jupyterhub-pagination+json"
        if request.url.params["offset"] == "0":
            server = {"last_activity": "2026-11-28T09:30:00.123456Z", "ready": True}
            items = [
                {
                    "name": "student1",
                    "last_activity": "2026-11-28T09:00:00Z",
                    "servers": {"": server},
                },
                {"name": "student2", "last_activity": None, "servers": {}},
            ]
            return httpx.Response(
                200, json={"items": items, "_pagination": {"next": {"offset": 2}}}
            )
        items = [{"name": "student3", "last_activity": "2026-11-28T08:00:00", "servers": {}}]
        return httpx.Response(200, json={"items": items, "_pagination": {"next": None}})

    seen = client(httpx.MockTransport(users)).activity()
    assert len(asked) == 2
    assert {name: str(when) for name, when in seen.items()} == {
        "student1": "2026-11-28 09:30:00.123456+00:00",
        "student2": "None",
        "student3": "2026-11-28 08:00:00+00:00",  # no time zone written: UTC
    }
