"""The email outbox against a real SMTP server (the dev mail catcher): delivery, retries with
backoff while the server is down, nothing lost, nothing sent twice, order kept."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import select

from wod.backend.agent import Agent
from wod.context import AppContext, build_context
from wod.db.models import Email
from wod.domain.clock import FakeClock
from wod.domain.states import EmailState
from wod.mail.catcher import MailCatcher, read_mail
from wod.mail.sender import MemoryMailer
from wod.ports import free_port
from wod.services.mail import outbox
from wod.services.mail.kinds import FINAL, EmailKind, register_kind, unregister_kind
from wod.services.mail.resend import resend_email
from wod.services.registrations import RegistrationRequest, register
from wod.settings import Settings


def smtp_context(settings: Settings, clock: FakeClock, port: int) -> AppContext:
    smtp = settings.smtp.model_copy(update={"port": port, "timeout": 2.0})
    return build_context(settings.model_copy(update={"smtp": smtp}), clock=clock)


def people(ctx: AppContext, n: int) -> list[int]:
    return [
        register(
            ctx, RegistrationRequest("WKSHP-Python101", f"p{i}@example.org", f"P {i}", "C", True)
        ).id
        for i in range(n)
    ]


def test_smtp_down_then_up_delivers_every_email_once(
    ctx: AppContext, token: str, settings: Settings, clock: FakeClock, tmp_path: Path
) -> None:
    port = free_port()
    sender = smtp_context(settings, clock, port)
    people(sender, 3)
    assert outbox.send_due(sender) == 0  # nobody listens on the port yet
    with sender.db.read() as s:
        rows = list(s.scalars(select(Email)))
    assert [(e.state, e.attempts) for e in rows] == [(EmailState.pending, 1)] * 3
    assert all("Connection refused" in (e.last_error or "") for e in rows)
    assert outbox.send_due(sender) == 0  # not due again before the backoff

    catcher = MailCatcher(tmp_path / "mail", "127.0.0.1", port)
    catcher.start()
    try:
        clock.advance(timedelta(seconds=settings.outbox.backoff))
        assert outbox.send_due(sender) == 3
        assert outbox.send_due(sender) == 0
    finally:
        catcher.stop()
        sender.close()
    mail = read_mail(tmp_path / "mail")
    assert sorted(m["to"] for m in mail) == ["p0@example.org", "p1@example.org", "p2@example.org"]
    assert all(m["subject"].startswith("Welcome to") and m["html"] for m in mail)


def test_backoff_doubles_and_the_email_is_given_up_after_its_attempts(
    ctx: AppContext, token: str, clock: FakeClock
) -> None:
    assert isinstance(ctx.mailer, MemoryMailer)
    ctx.mailer.down = True
    people(ctx, 1)
    delays = []
    for _ in range(ctx.settings.outbox.attempts):
        outbox.send_due(ctx)
        with ctx.db.read() as s:
            email = s.scalars(select(Email)).one()
        delays.append((email.next_attempt_at - clock.now()).total_seconds())
        clock.set(email.next_attempt_at)
    assert email.state is EmailState.failed and email.attempts == ctx.settings.outbox.attempts
    backoff = ctx.settings.outbox.backoff
    assert delays[:4] == [backoff, backoff * 2, backoff * 4, backoff * 8]


def test_emails_of_one_registration_go_out_in_order(
    ctx: AppContext, token: str, clock: FakeClock
) -> None:
    from wod.db.models import Registration
    from wod.services.mail.queue import queue_email

    rid = people(ctx, 1)[0]
    with ctx.db.write() as s:
        registration = s.get(Registration, rid)
        assert registration is not None
        queue_email(s, FINAL, registration, clock.now())
        queue_email(s, FINAL, registration, clock.now())  # the same kind twice: one row
    assert isinstance(ctx.mailer, MemoryMailer)
    ctx.mailer.down = True
    outbox.send_due(ctx)
    ctx.mailer.down = False
    outbox.send_due(ctx)  # the final email waits for the welcome email's retry
    assert ctx.mailer.sent == []
    clock.advance(timedelta(minutes=5))
    assert outbox.send_due(ctx) == 2
    kinds = [m["Subject"].split()[0] for m in ctx.mailer.sent]
    assert kinds == ["Welcome", "Thanks"]


def test_dev_mail_json_and_page(ctx: AppContext, token: str, tmp_path: Path) -> None:
    from wod.mail.render import RenderedEmail, build_message
    from wod.mail.sender import SmtpMailer
    from wod.web.app import create_app

    port = free_port()
    catcher = MailCatcher(ctx.settings.dev.maildir, "127.0.0.1", port)
    catcher.start()
    try:
        mailer = SmtpMailer(ctx.settings.smtp.model_copy(update={"port": port}))
        for n in (1, 2):
            mailer.send(
                build_message(
                    RenderedEmail(f"Subject {n}", f"text {n}", f"<p>html {n}</p>"),
                    sender="a@example.org",
                    sender_name="A",
                    recipient=f"r{n}@example.org",
                )
            )
        mailer.close()
    finally:
        catcher.stop()
    with TestClient(create_app(ctx, background=False)) as client:
        mail = client.get("/api/v1/dev/mail").json()
        assert [(m["to"], m["subject"]) for m in mail] == [
            ("r2@example.org", "Subject 2"),
            ("r1@example.org", "Subject 1"),
        ]
        assert mail[0]["text"].strip() == "text 2" and "<p>html 2</p>" in mail[0]["html"]
        page = client.get("/dev/mail")
        assert page.status_code == 200 and "Subject 2" in page.text


@pytest.fixture
def broken_kind(tmp_path: Path) -> Iterator[EmailKind]:
    """A kind whose templates name a variable no email has: it can never be built."""
    folder = tmp_path / "broken-templates"
    folder.mkdir()
    for part in ("subject", "txt", "html"):
        (folder / f"broken.{part}.j2").write_text("{{ no_such_variable }}")
    kind = register_kind(EmailKind("broken", "A kind for tests.", templates=folder))
    yield kind
    unregister_kind(kind.name)


def test_an_email_that_cannot_be_built_is_retried_and_given_up(
    ctx: AppContext, token: str, clock: FakeClock, broken_kind: EmailKind
) -> None:
    from wod.db.models import Registration
    from wod.services.mail.queue import queue_email

    rid = people(ctx, 1)[0]
    outbox.send_due(ctx)
    with ctx.db.write() as s:
        registration = s.get(Registration, rid)
        assert registration is not None
        queue_email(s, broken_kind, registration, clock.now())
    for _ in range(ctx.settings.outbox.attempts):
        assert outbox.send_due(ctx) == 0
        clock.advance(timedelta(hours=2))
    with ctx.db.read() as s:
        broken = s.scalar(select(Email).where(Email.kind == "broken"))
    assert broken is not None and broken.state is EmailState.failed
    assert broken.attempts == ctx.settings.outbox.attempts
    assert "could not be built" in (broken.last_error or "")


def test_an_unknown_kind_is_refused_when_queued_and_fails_at_once_when_sent(
    ctx: AppContext, token: str, clock: FakeClock
) -> None:
    from wod.db.models import Registration
    from wod.errors import MailError
    from wod.services.mail.queue import queue_email

    rid = people(ctx, 1)[0]
    outbox.send_due(ctx)
    gone = register_kind(EmailKind("gone", "A kind whose plug-in is then removed."))
    with ctx.db.write() as s:
        registration = s.get(Registration, rid)
        assert registration is not None
        with pytest.raises(MailError, match="unknown email kind 'misspelt'"):
            queue_email(s, EmailKind("misspelt", "Never registered."), registration, clock.now())
        assert queue_email(s, gone, registration, clock.now())
    unregister_kind(gone.name)
    assert outbox.send_due(ctx) == 0
    with ctx.db.read() as s:
        row = s.scalar(select(Email).where(Email.kind == "gone"))
        assert s.scalar(select(Email).where(Email.kind == "misspelt")) is None
    assert row is not None and row.state is EmailState.failed and row.attempts == 1
    assert "unknown email kind 'gone'" in (row.last_error or "")


def test_smtp_down_for_a_whole_lifecycle_then_every_email_once_and_in_order(
    ctx: AppContext,
    agent: Agent,
    settings: Settings,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    from wod.scheduler.loop import run_pass

    port = free_port()
    sender = smtp_context(settings, clock, port)
    ids = people(ctx, 3)
    while agent.run_once():  # CREATE x3
        pass
    clock.advance(timedelta(hours=2))
    run_pass(ctx)
    while agent.run_once():  # CLEANUP x3
        pass
    for _ in range(3):  # the server is down: attempts fail, nothing is lost
        sender_sent = outbox.send_due(sender)
        assert sender_sent == 0
        clock.advance(timedelta(minutes=10))
    catcher = MailCatcher(tmp_path / "mail", "127.0.0.1", port)
    catcher.start()
    try:
        for _ in range(5):
            outbox.send_due(sender)
            clock.advance(timedelta(minutes=10))
    finally:
        catcher.stop()
        sender.close()
    received = list(reversed(read_mail(tmp_path / "mail")))  # oldest first
    assert len(received) == 9
    for n, _ in enumerate(ids):
        mine = [m["subject"].split()[0] for m in received if m["to"] == f"p{n}@example.org"]
        assert mine == ["Welcome", "Your", "Thanks"]  # welcome, credentials, final


class _LosesItsFirstReplies:
    """An SMTP relay that takes each message but, the first ``drops`` times, hangs up before
    saying so: the sender cannot know the message arrived."""

    def __init__(self, drops: int) -> None:
        self.drops = drops
        self.received: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.received.append(message_from_bytes(envelope.content))
        if self.drops:
            self.drops -= 1
            server.transport.close()
        return "250 OK"


def test_an_email_whose_reply_was_lost_is_sent_again_with_its_message_id(
    ctx: AppContext, token: str, settings: Settings, clock: FakeClock
) -> None:
    port = free_port()
    relay = _LosesItsFirstReplies(drops=3)
    controller = Controller(relay, hostname="127.0.0.1", port=port)
    controller.start()
    sender = smtp_context(settings, clock, port)
    try:
        people(sender, 1)
        for _ in range(3):
            assert outbox.send_due(sender) == 0  # the relay hung up: tried again later
            clock.advance(timedelta(hours=1))
        assert outbox.send_due(sender) == 1
        with sender.db.read() as s:
            (email,) = s.scalars(select(Email))
        assert (email.state, email.attempts) == (EmailState.sent, 4)
        ids = {str(m["Message-ID"]) for m in relay.received}
        assert len(relay.received) == 4 and ids == {email.message_id}  # one id, four copies

        resent = resend_email(sender, email.id)
        assert resent.message_id is None
        assert outbox.send_due(sender) == 1
        assert len(relay.received) == 5
        assert str(relay.received[-1]["Message-ID"]) not in ids  # a resend is a new message
    finally:
        controller.stop()
        sender.close()
