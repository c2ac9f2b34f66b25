"""Three ``wod api`` processes behind HAProxy on one PostgreSQL: registrations from 50 clients,
one instance killed (SIGKILL) in the middle and started again later. Exact seats (one
each, none twice), every email once, and the scheduler's timers (reminders, the end) fired once
for each registration although three schedulers race for them; the killed instance's clients
pressed again and got their registration."""

from __future__ import annotations

import math
import os
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from tests.conftest import PG_URL
from tests.e2e.conftest import wait_for
from tests.faults import haproxy
from tests.faults.harness import (
    SETTLE,
    Burst,
    KillAfter,
    check_invariants,
    platform,
    register_one,
    running_agent,
    wait_settled,
)
from wod.context import AppContext
from wod.db.models import Email, Job, Registration, Seat
from wod.domain.states import EmailState, JobState, RegistrationState, SeatState

pytestmark = [
    pytest.mark.faults,
    pytest.mark.skipif(not PG_URL, reason="several api processes need PostgreSQL"),
    pytest.mark.skipif(not haproxy.available(), reason="scripts/bootstrap --test installs HAProxy"),
]

INSTANCES = 3
CLIENTS = 50
# 1,000 registrations (FAULTS_REGISTRATIONS=1000) pass too, but their 4,000 emails keep the
# outboxes of a loaded 2-core machine busy for half an hour: the suite runs 150 by default;
# bench/burst.py --instances sends 1,000 through the same load balancer.
REGISTRATIONS = int(os.environ.get("FAULTS_REGISTRATIONS", "150"))
WORKSHOPS = 4
KILL_AFTER = REGISTRATIONS // 3


def addresses() -> list[str]:
    return [f"p{n}@example.org" for n in range(REGISTRATIONS)]


def now() -> datetime:
    return datetime.now(UTC)


def registrations(ctx: AppContext) -> dict[int, str]:
    with ctx.db.read() as s:
        return {r.id: r.email for r in s.scalars(select(Registration))}


def sent(ctx: AppContext, kind: str) -> bool:
    """Every registration has its email of ``kind`` sent."""
    with ctx.db.read() as s:
        rows = list(s.scalars(select(Email.state).where(Email.kind == kind)))
    return len(rows) == REGISTRATIONS and set(rows) == {EmailState.sent}


def reminded(ctx: AppContext) -> bool:
    return sent(ctx, "reminder")


def ended(ctx: AppContext) -> bool:
    with ctx.db.read() as s:
        left = s.scalar(
            select(Registration.id).where(Registration.state != RegistrationState.ended).limit(1)
        )
    return left is None and sent(ctx, "final")


def test_three_instances_behind_a_load_balancer_one_killed(
    tmp_path: Path, database_url: str
) -> None:
    seats = math.ceil(REGISTRATIONS / WORKSHOPS)  # enough for everyone, whatever the count
    with platform(tmp_path, database_url, workshops=WORKSHOPS, seats=seats) as built:
        apis = [built.api(f"i{n}").start() for n in range(INSTANCES)]
        balancer = haproxy.LoadBalancer(tmp_path, [api.port for api in apis]).start()
        victim = apis[1]
        burst = Burst()
        kill_when_due = KillAfter(burst, KILL_AFTER, victim)
        start = threading.Barrier(CLIENTS)

        def client(n: int) -> None:
            with httpx.Client(base_url=balancer.url, timeout=300) as http:
                start.wait()
                for i in range(n, REGISTRATIONS, CLIENTS):
                    workshop = built.workshops[i % WORKSHOPS]
                    register_one(http, burst, workshop, f"p{i}@example.org", retry_for=SETTLE)
                    kill_when_due()

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        try:
            with running_agent(built, balancer.url):
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join(1200)
                assert kill_when_due.done.is_set() and not burst.errors, burst.errors
                assert set(burst.statuses) <= {201, 409, 502, 503, 504}, burst.statuses
                rows = registrations(built.ctx)
                assert set(burst.created) <= set(rows)
                assert sorted(rows.values()) == sorted(addresses())  # one each, none lost
                victim.start()  # three schedulers again, for the timers below
                wait_settled(built.ctx, rows, timeout=2 * SETTLE)
                check_invariants(built.ctx, rows, built.relay, crashes=1)

                # the timers of every registration due now: the reminders, then the end
                with built.ctx.db.write() as s:
                    s.execute(update(Registration).values(reminder_due_at=now()))
                wait_for(lambda: reminded(built.ctx), 2 * SETTLE, "the reminders")
                with built.ctx.db.write() as s:
                    s.execute(update(Registration).values(ends_at=now()))
                wait_for(lambda: ended(built.ctx), 2 * SETTLE, "the registrations to end")
        finally:
            balancer.stop()
        with built.ctx.db.read() as s:
            jobs = Counter(
                (j.registration_id, j.verb.value, j.state)
                for j in s.scalars(select(Job).where(Job.registration_id.is_not(None)))
            )
            kinds = Counter((e.registration_id, e.kind) for e in s.scalars(select(Email)))
            seat_states = Counter(seat.state for seat in s.scalars(select(Seat)))
        for rid in rows:
            assert jobs[(rid, "CLEANUP", JobState.done)] == 1, rid
            assert kinds[(rid, "reminder")] == kinds[(rid, "final")] == 1, rid
        assert seat_states == {SeatState.free: WORKSHOPS * seats}
        ids = built.relay.message_ids()
        assert sum(n - 1 for n in ids.values()) <= 1, "emails received twice"
        logs = built.logs()
        assert "database is locked" not in logs
        assert "unexpected error" not in logs  # what a 500 logs
