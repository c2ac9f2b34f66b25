from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from tests.factories import seed
from wod.api.app import create_app
from wod.context import AppContext


@pytest.fixture
def token(ctx: AppContext) -> str:
    """The sample content imported and a location with seats 1-20; the location's token."""
    return seed(ctx)


@pytest.fixture
def client(ctx: AppContext) -> Iterator[TestClient]:
    with TestClient(create_app(ctx, background=False)) as test_client:
        yield test_client
