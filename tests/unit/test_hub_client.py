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
