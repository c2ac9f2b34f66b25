"""The one-click start links the api makes: the manage page's start button redirects to a
fresh one, the credentials email carries one (and the password login beside it), both signed
with the key the hub's config gives the authenticator (tests/e2e/test_start_link.py follows
them on a real JupyterHub)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from tests.mail import part_text
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Registration
from wod.domain.clock import FakeClock
from wod.domain.secrets import manage_token
from wod.domain.unlock import derive_unlock_key, read_start_token
from wod.hub.config import render_config, unlock_key
from wod.mail.sender import MemoryMailer
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.settings import DEV_SECRET_KEY, Settings

ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)
FIRST = "/user/student1/lab/tree/WKSHP-Python101/0-ReadMeFirst.ipynb"


def secret_of(ctx: AppContext) -> str:
    with ctx.db.read() as s:
        nonce = s.scalars(select(Registration)).one().manage_nonce
    return manage_token(ctx.settings.secret_key.get_secret_value(), nonce)


def check_start_link(ctx: AppContext, url: str, now: float) -> str:
    """The token of a start link of student1 that opens the first notebook."""
    target = urlsplit(url)
    assert target.path == "/hub/wod-start/student1"
    query = parse_qs(target.query)
    assert query["next"] == [FIRST]
    token, key = query["token"][0], unlock_key(ctx.settings)
    signed = read_start_token(key, "student1", token, now)
    assert signed is not None
    assert signed.expires == int(now + ctx.settings.hub.start_link_validity)
    assert read_start_token(key, "student2", token, now) is None
    assert read_start_token(key, "student1", token, signed.expires + 1) is None
    return token


def test_the_start_button_redirects_to_a_fresh_start_link(
    client: TestClient, ctx: AppContext, agent: Agent, clock: FakeClock
) -> None:
    register(ctx, ADA)
    secret = secret_of(ctx)
    assert client.get(f"/manage/{secret}/start", follow_redirects=False).status_code == 404
    assert agent.run_once() is True  # CREATE: the workshop runs
    page = client.get(f"/manage/{secret}")
    assert f'href="/manage/{secret}/start"' in page.text
    tokens = set()
    for _ in range(2):
        answer = client.get(f"/manage/{secret}/start", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["referrer-policy"] == "no-referrer"
        assert answer.headers["cache-control"] == "no-store"
        tokens.add(check_start_link(ctx, answer.headers["location"], clock.now().timestamp()))
    assert len(tokens) == 2  # each press, its own one-time token
    key = unlock_key(ctx.settings)
    assert f"c.WodAuthenticator.unlock_key = {key!r}" in render_config(ctx.settings)


def test_the_credentials_email_carries_a_start_link_and_the_password_login(
    ctx: AppContext, agent: Agent, clock: FakeClock, mailer: MemoryMailer
) -> None:
    register(ctx, ADA)
    assert agent.run_once() is True
    outbox.send_due(ctx)
    (message,) = [m for m in mailer.sent if "User name:" in part_text(m, "plain")]
    text, html = part_text(message, "plain"), part_text(message, "html")
    link = re.search(r"(http\S+/hub/wod-start/\S+)", text)
    assert link, text
    token = check_start_link(ctx, link[1], clock.now().timestamp())
    assert token in unquote(html.replace("&amp;", "&"))
    assert f"/hub/login?next={FIRST}&username=student1" in unquote(text)
    assert "within 60 minutes" in text


def test_without_a_key_the_start_button_opens_the_login_page(
    client: TestClient, ctx: AppContext, agent: Agent
) -> None:
    ctx.settings.hub.unlock_key = SecretStr("")  # start links off
    register(ctx, ADA)
    assert agent.run_once() is True
    answer = client.get(f"/manage/{secret_of(ctx)}/start", follow_redirects=False)
    assert answer.status_code == 303
    assert "/hub/login?next=" in answer.headers["location"]
    assert "username=student1" in answer.headers["location"]


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


def test_the_hubs_login_page_carries_the_portals_branding(tmp_path: Path) -> None:
    folders = {"students_dir": tmp_path / "s", "credentials_dir": tmp_path / "c"}
    settings = Settings(
        backend=folders, branding={"wod_name": "Ada's Workshops", "primary_color": "#01a982"}
    )
    config = render_config(settings)
    assert "c.JupyterHub.template_paths = [" in config and "wod/hub/templates" in config
    assert "'wod_name': \"Ada's Workshops\"" in config
    assert "c.WodAuthenticator.used_tokens_file = " in config
    assert (Path(__file__).parents[2] / "src/wod/hub/templates/login.html").exists()
