"""The portal of a development platform whose seats share one Linux user (``wod up`` run by an
ordinary user: the hub mode) says so on every page; one whose seats are isolated, or a
production portal, does not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.factories import seed
from wod.context import build_context
from wod.db.migrate import upgrade
from wod.domain.clock import FakeClock
from wod.settings import Mode, Settings
from wod.web.app import create_app

BANNER = "the seats are not isolated from each other"


def page(settings: Settings, clock: FakeClock, path: str, mode: Mode, account: str) -> str:
    backend = settings.backend.model_copy(update={"account_mode": account})
    changed = settings.model_copy(update={"mode": mode, "backend": backend})
    ctx = build_context(changed, clock=clock)
    try:
        upgrade(ctx.db)
        seed(ctx)
        with TestClient(create_app(ctx, background=False)) as client:
            answer = client.get(path)
            assert answer.status_code == 200, answer.text
            text: str = answer.text
            return text
    finally:
        ctx.close()


@pytest.mark.parametrize("path", ["/", "/workshops/WKSHP-Python101", "/terms"])
def test_the_banner_is_on_every_page_of_a_development_hub_mode(
    settings: Settings, clock: FakeClock, path: str
) -> None:
    text = page(settings, clock, path, Mode.development, "hub")
    assert BANNER in text and "do not run an event on it" in text


def test_no_banner_when_seats_are_isolated_or_in_production(
    settings: Settings, clock: FakeClock
) -> None:
    assert BANNER not in page(settings, clock, "/", Mode.development, "system")
    assert BANNER not in page(settings, clock, "/terms", Mode.production, "hub")


def test_the_banner_speaks_the_page_language(settings: Settings, clock: FakeClock) -> None:
    text = page(settings, clock, "/?lang=fr", Mode.development, "hub")
    assert "les postes ne sont pas isolés les uns des autres" in text
