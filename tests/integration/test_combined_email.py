"""Fewer emails: the welcome email waits ``outbox.combine_within`` after registering; a seat
ready meanwhile sends one email with the welcome's words and the credentials, a slower one
gets the two emails as before. HTML emails fit a phone's width (tests/e2e/test_email_phone.py
measures it in Chromium). Times are given in the participant's time zone beside UTC."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from tests.integration.test_portal import csrf, form
from tests.mail import part_text
from wod.backend.agent import Agent
from wod.context import AppContext
from wod.db.models import Email, Registration
from wod.domain.clock import FakeClock
from wod.mail.sender import MemoryMailer
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register

REGISTER = "/workshops/WKSHP-Python101/register"
ADA = RegistrationRequest("WKSHP-Python101", "ada@example.org", "Ada", "Engines", True)


def kinds(ctx: AppContext) -> list[str]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Email.kind).order_by(Email.id)))


def test_a_seat_ready_within_the_delay_sends_one_email(
    ctx: AppContext, agent: Agent, clock: FakeClock, mailer: MemoryMailer
) -> None:
    ctx.settings.outbox.combine_within = timedelta(seconds=10)
    register(ctx, ADA)
    assert outbox.send_due(ctx) == 0  # the welcome waits
    clock.advance(timedelta(seconds=4))
    assert agent.run_once() is True  # the seat is ready 4 s after registering
    assert kinds(ctx) == ["credentials"]
    assert outbox.send_due(ctx) == 1
    (message,) = mailer.sent
    assert message["Subject"] == (
        "Welcome to Acme Workshops-on-Demand: your credentials for "
        "Python 101: a first, gentle taste of Python"
    )
    text, html = part_text(message, "plain"), part_text(message, "html")
    assert 'Thank you for registering for "Python 101' in text and "User name:" in text
    assert "Thank you for registering for <strong>Python 101" in html
    assert "Welcome to Acme Workshops-on-Demand!" in html
    clock.advance(timedelta(minutes=1))
    assert outbox.send_due(ctx) == 0  # and nothing more


def test_a_slower_seat_gets_the_welcome_then_the_credentials(
    ctx: AppContext, agent: Agent, clock: FakeClock, mailer: MemoryMailer
) -> None:
    ctx.settings.outbox.combine_within = timedelta(seconds=10)
    register(ctx, ADA)
    clock.advance(timedelta(seconds=10))
    assert outbox.send_due(ctx) == 1  # the welcome, once its delay is over
    assert agent.run_once() is True
    assert outbox.send_due(ctx) == 1
    welcome, credentials = mailer.sent
    assert str(welcome["Subject"]).startswith("Welcome to Acme Workshops-on-Demand: Python 101")
    assert str(credentials["Subject"]).startswith("Your Acme Workshops-on-Demand credentials")
    assert "Thank you for registering" not in part_text(credentials, "plain")


def test_without_a_delay_there_are_always_two_emails(
    ctx: AppContext, agent: Agent, mailer: MemoryMailer
) -> None:
    assert ctx.settings.outbox.combine_within == timedelta(0)  # the tests' default
    register(ctx, ADA)
    assert agent.run_once() is True
    assert outbox.send_due(ctx) == 2
    assert kinds(ctx) == ["welcome", "credentials"]


def test_html_emails_have_no_fixed_width(
    ctx: AppContext, agent: Agent, mailer: MemoryMailer
) -> None:
    register(ctx, ADA)
    assert agent.run_once() is True
    outbox.send_due(ctx)
    for message in mailer.sent:
        html = part_text(message, "html")
        assert 'width="600"' not in html and "648" not in html
        assert "width:100%;max-width:600px" in html


def test_times_in_emails_are_in_the_participants_time_zone_beside_utc(
    client: TestClient, ctx: AppContext, agent: Agent, mailer: MemoryMailer
) -> None:
    client.post(REGISTER, data={**form(csrf(client)), "time_zone": "Europe/Paris"})
    assert agent.run_once() is True
    outbox.send_due(ctx)
    with ctx.db.read() as s:
        assert s.scalars(select(Registration.time_zone)).one() == "Europe/Paris"
    (credentials,) = [m for m in mailer.sent if "credentials" in str(m["Subject"])]
    # the fixtures' clock: registered at 09:00 UTC on 28 Nov 2026, for 2 hours
    expected = "12:00 on 28 Nov 2026 (Europe/Paris) · 11:00 UTC on 28 Nov 2026"
    assert expected in part_text(credentials, "plain")
    assert expected in part_text(credentials, "html")


def test_an_unknown_time_zone_from_the_form_is_utc(
    client: TestClient, ctx: AppContext, agent: Agent, mailer: MemoryMailer
) -> None:
    client.post(REGISTER, data={**form(csrf(client)), "time_zone": "Nowhere/Land"})
    assert agent.run_once() is True
    outbox.send_due(ctx)
    with ctx.db.read() as s:
        assert s.scalars(select(Registration.time_zone)).one() is None
    (credentials,) = [m for m in mailer.sent if "credentials" in str(m["Subject"])]
    assert "until 11:00 UTC on 28 Nov 2026." in part_text(credentials, "plain")
