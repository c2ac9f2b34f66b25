"""The manage page's start button: a redirect to the hub's unlock link, signed with the key
the hub's config gives the authenticator (tests/e2e/test_kernels_lockout.py follows it on a
real JupyterHub)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Registration
from wod.domain.clock import FakeClock
from wod.domain.secrets import manage_token
from wod.domain.unlock import UNLOCK_VALIDITY, derive_unlock_key, valid_unlock_token
from wod.hub.config import render_config, unlock_key
from wod.services.registrations import RegistrationRequest, register
from wod.settings import DEV_SECRET_KEY, Settings

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)


def secret_of(ctx: AppContext) -> str:
    with ctx.db.read() as s:
        nonce = s.scalars(select(Registration)).one().manage_nonce
    return manage_token(ctx.settings.secret_key.get_secret_value(), nonce)


def test_the_start_button_goes_through_the_hubs_unlock_link(
    client: TestClient, ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    register(ctx, ADA)
    secret = secret_of(ctx)
    assert client.get(f"/manage/{secret}/start", follow_redirects=False).status_code == 404
    assert agent.run_once() is True  # CREATE: the workshop runs
    page = client.get(f"/manage/{secret}")
    assert f'href="/manage/{secret}/start"' in page.text
    answer = client.get(f"/manage/{secret}/start", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["referrer-policy"] == "no-referrer"
    target = urlsplit(answer.headers["location"])
    assert target.path == "/hub/wod-unlock/student1"
    query = parse_qs(target.query)
    assert query["next"] == ["/user/student1/lab/tree/WKSHP-Python101/0-ReadMeFirst.ipynb"]
    token, key, now = query["token"][0], unlock_key(ctx.settings), clock.now().timestamp()
    assert valid_unlock_token(key, "student1", token, now)
    assert not valid_unlock_token(key, "student2", token, now)
    assert not valid_unlock_token(key, "student1", token, now + UNLOCK_VALIDITY + 1)
    assert f"c.WodAuthenticator.unlock_key = {key!r}" in render_config(ctx.settings)


def test_an_unknown_token_has_no_start_button(client: TestClient, token: str) -> None:
    assert client.get("/manage/nope/start", follow_redirects=False).status_code == 404


def test_the_unlock_key_is_set_derived_or_off(tmp_path: Path) -> None:
    def settings(**values: Any) -> Settings:
        folders = {"students_dir": tmp_path / "s", "credentials_dir": tmp_path / "c"}
        return Settings(backend=folders, **values)

    secret = "s" * 16 + "0123456789abcdef" * 2
    assert unlock_key(settings(secret_key=secret)) == derive_unlock_key(secret)
    assert unlock_key(settings(hub={"unlock_key": "given"})) == "given"
    assert unlock_key(settings()) == derive_unlock_key(DEV_SECRET_KEY)  # development
    production = settings(mode="production")  # a hub host without the api's settings
    assert unlock_key(production) == ""
    assert "c.WodAuthenticator.unlock_key = ''" in render_config(production)
