"""The table of email kinds: every registered kind renders in text and html in the
registration's language, and a kind registered by a test — its templates and one row — is
queued, sent, resent by the table's rule and documented, with no other code changed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from tests.mail import part_text
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.docgen import emails_markdown
from wod.domain.clock import FakeClock
from wod.errors import InvalidState
from wod.mail.sender import MemoryMailer
from wod.services.mail import KINDS, outbox
from wod.services.mail.kinds import (
    CONFIRM,
    Audience,
    EmailKind,
    Liveness,
    kind_named,
    register_kind,
    unregister_kind,
)
from wod.services.mail.queue import alert_admins, queue_email
from wod.services.mail.resend import resend_email
from wod.services.registrations import RegistrationRequest, end_now, register

LANGUAGES = [("en", '<html lang="en">'), ("fr", '<html lang="fr">')]


def live_registration(ctx: AppContext, agent: Agent, language: str = "en") -> Registration:
    request = RegistrationRequest(
        "WKSHP-Python101", "ada@example.org", "Ada <b>", "E", True, language=language
    )
    rid = register(ctx, request).id
    assert agent.run_once()  # the CREATE: active, with its password
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
    assert registration is not None
    return registration


def unconfirmed_registration(ctx: AppContext, language: str) -> Registration:
    """Made with ``registration.confirm_email``: no seat, its confirmation link."""
    ctx.settings.registration.confirm_email = True
    request = RegistrationRequest(
        "WKSHP-Python101", "ada@example.org", "Ada <b>", "E", True, language=language
    )
    return register(ctx, request)


def queue_kind(ctx: AppContext, kind: EmailKind, registration: Registration, now: Any) -> None:
    with ctx.db.write() as s:
        if kind.audience is Audience.admins:
            payload = dict(kind.example_payload or {})
            alert_admins(s, ["ops@example.org"], payload["subject"], payload["text"], "t", now)
            return
        row = s.get(Registration, registration.id)
        assert row is not None
        example = kind.example_payload
        carried = dict(example) if example is not None else None
        queue_email(s, kind, row, now, key=f"test:{kind.name}", payload=carried)


@pytest.mark.parametrize("name", sorted(KINDS))
@pytest.mark.parametrize(("language", "html_lang"), LANGUAGES)
def test_every_kind_renders_in_text_and_html(
    ctx: AppContext,
    agent: Agent,
    clock: FakeClock,
    mailer: MemoryMailer,
    name: str,
    language: str,
    html_lang: str,
) -> None:
    kind = kind_named(name)
    if kind is CONFIRM:  # sent only before the address confirmed
        registration = unconfirmed_registration(ctx, language)
    else:
        registration = live_registration(ctx, agent, language)
    outbox.send_due(ctx)
    mailer.sent.clear()
    queue_kind(ctx, kind, registration, clock.now())
    assert outbox.send_due(ctx) == 1
    (message,) = mailer.sent
    html = part_text(message, "html")
    text = part_text(message, "plain")
    assert message["Subject"] and html.startswith("<!doctype html>") and text.strip()
    assert "{{" not in text and "{{" not in html
    if kind.audience is Audience.participant:
        assert message["To"] == "ada@example.org"
        assert "Ada <b>" not in html  # escaped in html
        if kind is CONFIRM:  # its link, and nothing to manage yet
            assert "/confirm/wodc_" in text and "/confirm/wodc_" in html
            assert "/manage/" not in text and "/manage/" not in html
        else:
            assert "/manage/wodm_" in text and "/manage/wodm_" in html
        assert html_lang in html, message["Subject"]
    else:
        assert message["To"] == "ops@example.org"


@pytest.fixture
def tip_kind(tmp_path: Path) -> Iterator[EmailKind]:
    """A kind of the tests' own: its three templates in a folder, and one row."""
    folder = tmp_path / "tip-templates"
    folder.mkdir()
    (folder / "workshop_tip.subject.j2").write_text("A tip for {{ workshop.name }}")
    (folder / "workshop_tip.txt.j2").write_text(
        "{{ tip }} ({{ time_left }} left)\n{{ manage_url }}\n"
    )
    (folder / "workshop_tip.html.j2").write_text(
        '<!doctype html><html lang="{{ language }}"><p>{{ tip }}</p></html>'
    )

    def tip(ctx: AppContext, email: Email, registration: Registration | None) -> dict[str, Any]:
        return {"tip": str((email.payload or {})["tip"])}

    kind = register_kind(
        EmailKind(
            "workshop_tip",
            "A tip in the middle of a workshop.",
            liveness=Liveness.seat_held,
            variable_names=("tip",),
            variables=tip,
            templates=folder,
            example_payload={"tip": "Save your notebook."},
        )
    )
    yield kind
    unregister_kind(kind.name)


def test_a_new_kind_is_its_templates_and_one_row(
    ctx: AppContext, agent: Agent, clock: FakeClock, mailer: MemoryMailer, tip_kind: EmailKind
) -> None:
    registration = live_registration(ctx, agent)
    outbox.send_due(ctx)
    mailer.sent.clear()
    with ctx.db.write() as s:
        row = s.get(Registration, registration.id)
        assert row is not None
        assert queue_email(s, tip_kind, row, clock.now(), payload={"tip": "Save your notebook."})
        assert not queue_email(s, tip_kind, row, clock.now())  # one per registration and kind
    assert outbox.send_due(ctx) == 1
    (message,) = mailer.sent
    assert message["Subject"].startswith("A tip for Python 101")
    text = part_text(message, "plain")
    assert text.startswith("Save your notebook. (2 hours left)") and "/manage/wodm_" in text
    with ctx.db.read() as s:
        email = s.scalars(select(Email).where(Email.kind == "workshop_tip")).one()
    assert resend_email(ctx, email.id).state.value == "pending"  # live: resent
    outbox.send_due(ctx)
    end_now(ctx, registration.id, by_admin=False)
    assert agent.run_once()  # the CLEANUP: the registration is over
    with pytest.raises(InvalidState, match="no longer holds"):  # the row's liveness rule
        resend_email(ctx, email.id)
    assert "| `workshop_tip` | participant | A tip in the middle of a workshop." in (
        emails_markdown()
    )
