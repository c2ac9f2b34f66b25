"""Orders by mail: a valid order runs and is recorded at the api; every malformed or
unauthorised message is refused at the SMTP level and nothing runs."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import TypedDict

import pytest
from sqlalchemy import select

from tests.servers import ApiServer
from wod.backend.client import ApiClient
from wod.backend.mailorders import MailOrderListener
from wod.backend.verbs import Verbs
from wod.context import AppContext
from wod.db.models import Job
from wod.domain.states import JobState
from wod.hub.client import FakeHub
from wod.hub.credentials import MemoryCredentialStore
from wod.hub.modes.files import LocalSeatFiles
from wod.hub.modes.hub import HubAccounts
from wod.ports import free_port
from wod.settings import MailOrderSettings

SENDER, SECRET = "orders@wod.example", "s3cret-order-key"


class Change(TypedDict, total=False):
    """What a refused order changes in :func:`send`'s keyword arguments."""

    sender: str
    secret: str | None


@pytest.fixture
def listener(ctx: AppContext, server: ApiServer, token: str) -> Iterator[MailOrderListener]:
    settings = MailOrderSettings(enabled=True, port=free_port(), sender=SENDER, secret=SECRET)
    verbs = Verbs(
        ctx.settings,
        ctx.content,
        LocalSeatFiles(ctx.settings.backend.students_dir),
        FakeHub(),
        HubAccounts(MemoryCredentialStore()),
    )
    client = ApiClient(server.url, token)
    running = MailOrderListener(settings, ctx.content, verbs, client)
    running.start()
    yield running
    running.stop()
    client.close()


def reply_text(reply: bytes | str) -> str:
    """The text of a refusal: smtplib hands the server's reply over as bytes."""
    assert isinstance(reply, bytes)
    return reply.decode()


def send(
    listener: MailOrderListener,
    subject: str,
    body: str,
    *,
    sender: str = SENDER,
    secret: str | None = SECRET,
) -> tuple[int, str]:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, "wod@hub.example", subject
    if secret is not None:
        message["X-Wod-Secret"] = secret
    message.set_content(body)
    with smtplib.SMTP(listener.settings.host, listener.settings.port, timeout=10) as smtp:
        try:
            smtp.send_message(message, from_addr=sender)
        except smtplib.SMTPDataError as exc:
            return exc.smtp_code, reply_text(exc.smtp_error)
    return 250, "accepted"


def settle(listener: MailOrderListener) -> None:
    for future in list(listener.pending):
        future.result(timeout=60)


def test_a_valid_order_runs_and_is_recorded(ctx: AppContext, listener: MailOrderListener) -> None:
    assert send(listener, "CREATE 3 0 ada@example.org", "WKSHP-Python101\n") == (250, "accepted")
    settle(listener)
    home = ctx.settings.backend.students_dir / "student3"
    assert (home / "WKSHP-Python101" / "0-ReadMeFirst.ipynb").exists()
    with ctx.db.read() as s:
        (job,) = s.scalars(select(Job)).all()
    assert job.verb.value == "CREATE" and job.state is JobState.done
    assert "taken by mail" in job.log and "CREATE student3" in job.log
    assert send(listener, "PURGE 3 0", "WKSHP-Python101\n")[0] == 250
    settle(listener)
    assert not home.exists()


@pytest.mark.parametrize(
    ("subject", "body", "change", "why"),
    [
        ("CREATE 3 0", "WKSHP-Python101", {"sender": "intruder@evil.example"}, "sender"),
        ("CREATE 3 0", "WKSHP-Python101", {"secret": None}, "X-Wod-Secret"),
        ("CREATE 3 0", "WKSHP-Python101", {"secret": "guess"}, "X-Wod-Secret"),
        ("DELETE 3 0", "WKSHP-Python101", {}, "subject"),
        ("CREATE three 0", "WKSHP-Python101", {}, "subject"),
        ("CREATE 3 0; rm -rf /", "WKSHP-Python101", {}, "subject"),
        ("CREATE 3 0", "WKSHP-Nope", {}, "no workshop"),
        ("CREATE 30 0", "WKSHP-Python101", {}, "outside the range"),
        ("CREATE 1,3 0", "WKSHP-Python101", {}, "one seat"),
        ("PURGE 1,3 0", "WKSHP-Python101", {}, "one seat"),
    ],
)
def test_everything_else_is_refused_and_nothing_runs(
    ctx: AppContext,
    listener: MailOrderListener,
    subject: str,
    body: str,
    change: Change,
    why: str,
) -> None:
    code, reason = send(listener, subject, body, **change)
    assert code == 550 and why in reason
    settle(listener)
    assert not ctx.settings.backend.students_dir.exists()
    with ctx.db.read() as s:
        assert s.scalars(select(Job)).all() == []


def test_an_order_by_mail_moves_no_registration_nor_seat(
    ctx: AppContext, listener: MailOrderListener
) -> None:
    from wod.db.models import Registration, Seat
    from wod.domain.states import RegistrationState, SeatState
    from wod.services.registrations import RegistrationRequest, register

    rid = register(ctx, RegistrationRequest("WKSHP-Python101", "a@example.org", "A", "C", True)).id
    with ctx.db.write() as s:  # the api's CREATE is not run: claim it away
        job = s.scalars(select(Job)).one()
        job.state = JobState.failed
    assert send(listener, "RESET 1 0", "WKSHP-Python101\n")[0] == 250
    settle(listener)
    with ctx.db.read() as s:
        registration = s.get(Registration, rid)
        seat = s.scalar(select(Seat).where(Seat.number == 1))
        external = s.scalars(select(Job).where(Job.source == "mail")).one()
    assert external.state is JobState.done
    assert registration is not None and registration.state is RegistrationState.queued
    assert seat is not None and seat.state is SeatState.reserved
