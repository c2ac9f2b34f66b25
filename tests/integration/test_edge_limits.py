"""Values too large for the database or the file system are refused at the edge: every route
with an integer in its path answers 422 to one past 64 bits (it answered 500, an overflow inside
the database driver), whoever calls; file names longer than a file system keeps are a 404."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from tests.integration.test_admin_console import PASSWORD, login
from wod.context import AppContext
from wod.domain.limits import ID_MAX
from wod.domain.roles import Role
from wod.services.admin import users as admin_users
from wod.services.admin.tokens import create_token
from wod.settings import Settings
from wod.web.app import create_app

PARAM = re.compile(r"\{(\w+)\}")


def routes(entries: Iterable[BaseRoute], prefix: str = "") -> Iterator[tuple[str, APIRoute]]:
    """Every route of the app with its full path, through the routers it includes."""
    for entry in entries:
        if isinstance(entry, APIRoute):
            yield prefix + entry.path, entry
        elif (included := getattr(entry, "original_router", None)) is not None:
            yield from routes(included.routes, prefix + entry.include_context.prefix)  # type: ignore[attr-defined]


def integer_routes(app: FastAPI) -> list[tuple[str, str, str]]:
    """(method, path, integer parameter) of every route taking an integer in its path."""
    return [
        (method, path, param.name)
        for path, route in routes(app.routes)
        for param in route.dependant.path_params
        if param.field_info.annotation is int
        for method in sorted(route.methods or ())
    ]


def fill(path: str, name: str, value: int) -> str:
    """``path`` with ``value`` as its parameter ``name`` and a location's name for the others."""
    return PARAM.sub(lambda m: str(value) if m[1] == name else "local", path)


@pytest.fixture
def settings(settings: Settings, tmp_path: Path) -> Settings:
    """A layer with pictures, so that a long name reaches the file system's lookup."""
    layer = tmp_path / "pictures"
    for folder in ("badges", "avatars"):
        (layer / folder).mkdir(parents=True)
        (layer / folder / "known.png").write_bytes(b"\x89PNG\r\n")
    settings.content.paths = [*settings.content.paths, layer]
    return settings


@pytest.fixture
def app(ctx: AppContext, token: str) -> FastAPI:
    admin_users.create_user(ctx, "alice", PASSWORD, Role.admin)
    return create_app(ctx, background=False)


@dataclass
class Caller:
    """One client with every credential: the console session, the location's token for the
    agent routes, an admin token for the other api routes."""

    client: TestClient
    agent_token: str
    admin_token: str

    def call(self, method: str, path: str) -> int:
        agent = path.startswith("/api/v1/backend")
        console = path.startswith("/admin")
        answer: httpx.Response = self.client.request(
            method,
            path,
            headers={"Authorization": f"Bearer {self.agent_token if agent else self.admin_token}"},
            data={"csrf_token": self.client.cookies["wod_csrf"]} if console else None,
            json={} if method == "POST" and not console else None,
            follow_redirects=False,
        )
        return answer.status_code


@pytest.fixture
def caller(app: FastAPI, ctx: AppContext, token: str) -> Iterator[Caller]:
    with TestClient(app) as client:
        assert login(client, "alice").status_code == 303
        yield Caller(client, token, create_token(ctx, "edge", Role.admin))


def test_the_router_has_integer_routes_to_check(app: FastAPI) -> None:
    paths = {path for _, path, _ in integer_routes(app)}
    assert {"/api/v1/registrations/{registration_id}", "/admin/jobs/{job_id}"} <= paths
    assert len(paths) >= 10


@pytest.mark.parametrize("value", [2**64, 2**63, -(2**63) - 1, ID_MAX + 1, 0])
def test_integers_out_of_range_in_paths_are_refused(
    app: FastAPI, caller: Caller, value: int
) -> None:
    refused = {}
    for method, path, name in integer_routes(app):
        url = fill(path, name, value)
        refused[f"{method} {url}"] = caller.call(method, url)
    assert refused and set(refused.values()) == {422}, refused


def test_the_largest_integer_the_database_holds_is_merely_not_found(
    app: FastAPI, caller: Caller
) -> None:
    answers = {}
    for method, path, name in integer_routes(app):
        if method != "GET":
            continue
        url = fill(path, name, ID_MAX)
        answers[url] = caller.call(method, url)
    assert answers and set(answers.values()) <= {404, 200}, answers
    assert 404 in answers.values()


@pytest.mark.parametrize("folder", ["badges", "avatars"])
@pytest.mark.parametrize("length", [256, 1000, 4000])
def test_a_long_file_name_is_not_found(client: TestClient, folder: str, length: int) -> None:
    assert client.get(f"/{folder}/files/known.png").status_code == 200
    answer = client.get(f"/{folder}/files/{'a' * length}.png")
    assert answer.status_code == 404
