from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import seed
from tests.servers import ApiServer, serve
from wod.backend.agent import Agent
from wod.backend.client import ApiClient
from wod.backend.verbs import Verbs
from wod.context import AppContext
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.web.app import create_app


@pytest.fixture
def token(ctx: AppContext) -> str:
    """The sample content imported and a location with seats 1-20; the location's token."""
    return seed(ctx)


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, background=False)) as test_client:
        yield test_client


@pytest.fixture
def server(ctx: AppContext, token: str) -> Iterator[ApiServer]:
    with serve(create_app(ctx, background=False)) as running:
        yield running


@pytest.fixture
def hub() -> FakeHub:
    return FakeHub()


@pytest.fixture
def credentials() -> MemoryCredentialStore:
    return MemoryCredentialStore()


@pytest.fixture
def agent(
    ctx: AppContext, server: ApiServer, token: str, hub: FakeHub, credentials: MemoryCredentialStore
) -> Iterator[Agent]:
    verbs = Verbs(
        ctx.settings,
        ctx.content,
        LocalSeatFiles(ctx.settings.backend.students_dir),
        hub,
        HubAccounts(credentials),
    )
    client = ApiClient(server.url, token)
    yield Agent(client, verbs, poll_interval=0.01, workers=1)
    client.close()
