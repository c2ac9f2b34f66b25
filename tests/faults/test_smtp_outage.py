"""The SMTP relay down for 5 minutes, and flapping (down, up, answering "451 try later"): the
outbox's retry schedule, with its default settings, runs on the injected clock, and after the
relay recovered every email was received exactly once, under the Message-ID its row keeps."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.factories import make_workshop, seed
from tests.faults.harness import Relay
from wod.context import AppContext, build_context
from wod.db.models import Email
from wod.domain.clock import FakeClock
from wod.domain.states import EmailState
from wod.services.mail import outbox
from wod.services.registrations import RegistrationRequest, register
from wod.settings import Settings

pytestmark = pytest.mark.faults

STEP = timedelta(seconds=10)  # how often the outbox loop looks, on the injected clock
OUTAGE = timedelta(minutes=5)
WORKSHOPS = ("WKSHP-Mail0", "WKSHP-Mail1")


@pytest.fixture
def relay() -> Iterator[Relay]:
    relay = Relay()
    yield relay
    relay.stop()


@pytest.fixture
def sender(
    settings: Settings, clock: FakeClock, relay: Relay, tmp_path: Path
) -> Iterator[AppContext]:
    """The outbox of an api process with the default retry schedule, its SMTP mailer pointed at
    the relay, on the injected clock; two workshops of 40 seats."""
    layer = tmp_path / "mail-content"
    for n, slug in enumerate(WORKSHOPS):
        make_workshop(layer, slug, (n * 40 + 1, (n + 1) * 40))
    smtp = settings.smtp.model_copy(update={"port": relay.port, "timeout": 5.0})
    content = settings.content.model_copy(update={"paths": [layer]})
    ctx = build_context(settings.model_copy(update={"smtp": smtp, "content": content}), clock=clock)
    seed(ctx, seats=(1, 80))
    yield ctx
    ctx.close()


def people(ctx: AppContext, first: int, count: int) -> None:
    for n in range(first, first + count):
        request = RegistrationRequest(WORKSHOPS[n % 2], f"p{n}@example.org", "P", "C", True)
        register(ctx, request)


def emails(ctx: AppContext) -> list[Email]:
    with ctx.db.read() as s:
        return list(s.scalars(select(Email).order_by(Email.id)))


def run_until_sent(ctx: AppContext, clock: FakeClock, limit: timedelta) -> None:
    """The outbox loop on the injected clock until every email is sent (or ``limit``)."""
    deadline = clock.now() + limit
    while any(e.state is not EmailState.sent for e in emails(ctx)):
        assert clock.now() < deadline, [(e.id, e.state, e.last_error) for e in emails(ctx)]
        outbox.send_due(ctx)
        clock.advance(STEP)


def check_once(ctx: AppContext, relay: Relay) -> None:
    rows = emails(ctx)
    assert all(e.state is EmailState.sent for e in rows)
    ids = relay.message_ids()
    assert sorted(ids) == sorted(str(e.message_id) for e in rows)
    assert set(ids.values()) == {1}, ids


def test_five_minutes_without_a_relay_then_every_email_once(
    sender: AppContext, clock: FakeClock, relay: Relay
) -> None:
    people(sender, 0, 20)
    down_until = clock.now() + OUTAGE
    while clock.now() < down_until:  # nothing listens on the relay's port
        assert outbox.send_due(sender) == 0
        clock.advance(STEP)
    rows = emails(sender)
    assert all(e.state is EmailState.pending and e.attempts >= 5 for e in rows), [
        (e.state, e.attempts) for e in rows
    ]
    people(sender, 20, 10)  # and people went on registering

    relay.start()
    run_until_sent(sender, clock, timedelta(minutes=15))
    check_once(sender, relay)


def test_a_flapping_relay_gets_every_email_once(
    sender: AppContext, clock: FakeClock, relay: Relay
) -> None:
    # per step: up, down, up but refusing, ...; people register all along
    phases = itertools.cycle(["up", "down", "refusing", "down", "up", "refusing"])
    for n in range(24):
        people(sender, n * 2, 2)
        phase = next(phases)
        if phase == "down":
            relay.stop()
        elif relay.controller is None:
            relay.start()
        relay.refusing = phase == "refusing"
        outbox.send_due(sender)
        clock.advance(STEP)
    assert any(e.attempts > 1 for e in emails(sender))  # the flapping was felt
    assert relay.count() > 0  # and so were the moments it was up
    if relay.controller is None:
        relay.start()
    relay.refusing = False
    run_until_sent(sender, clock, timedelta(minutes=30))
    check_once(sender, relay)
