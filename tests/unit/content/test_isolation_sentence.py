"""What the sample notebooks tell a participant about their files is true in every host mode:
the templates get the mode's isolation (``SEATISOLATED``) from the agent, and nothing else can
set it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_CONTENT
from wod.backend.agent import build_verbs
from wod.content.render import render_workshop
from wod.content.variables import SeatContext, seat_variables
from wod.hub.client import FakeHub
from wod.settings import Settings

PATTERNS = Settings().content.template_patterns
PROMISE = "nobody else can see or change your files"
WARNING = "other participants can see and change your files"


def readme(slug: str, isolated: bool) -> str:
    context = SeatContext(slug, 7, "Secr3tPassw0rd", isolated=isolated)
    files = render_workshop(SAMPLE_CONTENT / slug, seat_variables(Settings(), context), PATTERNS)
    item = next(f for f in files if f.path.name == "0-ReadMeFirst.ipynb")
    assert item.content is not None
    return item.content.decode()


@pytest.mark.parametrize("slug", ["WKSHP-Python101", "WKSHP-Shell101"])
def test_the_welcome_notebook_promises_privacy_only_when_seats_are_isolated(slug: str) -> None:
    isolated, shared = readme(slug, True), readme(slug, False)
    assert PROMISE in isolated and WARNING not in isolated
    assert WARNING in shared and PROMISE not in shared


def test_the_shell_workshop_says_whoami_differs_when_seats_share_a_user() -> None:
    isolated, shared = readme("WKSHP-Shell101", True), readme("WKSHP-Shell101", False)
    assert "Both should tell the same story" in isolated
    assert "On the Linux server you are the user **`student7`**" in isolated
    assert "Here they differ" in shared and "Both should tell" not in shared
    assert "On the Linux server you are the user" not in shared


def test_a_create_hook_cannot_claim_isolation() -> None:
    context = SeatContext("WKSHP-Python101", 7, None, produced={"SEATISOLATED": True})
    assert seat_variables(Settings(), context)["SEATISOLATED"] is False
    isolated = dataclasses.replace(context, isolated=True)
    assert seat_variables(Settings(), isolated)["SEATISOLATED"] is True


def test_the_agent_gives_its_host_modes_isolation(tmp_path: Path) -> None:
    def verbs_of(mode: str) -> bool:
        settings = Settings(
            backend={
                "account_mode": mode,
                "students_dir": tmp_path / "students",
                "credentials_dir": tmp_path / "credentials",
            }
        )
        return build_verbs(settings, hub=FakeHub()).isolated

    assert verbs_of("hub") is False
    if os.geteuid() == 0:  # the system mode's accounts need root
        assert verbs_of("system") is True
