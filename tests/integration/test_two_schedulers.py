"""Two scheduler loops on one database (two api processes) over a few hundred registrations at
their due times: every email and every job exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from tests.factories import seed
from wod.context import AppContext, build_context
from wod.db.models import Email, Job, Registration, Seat, Workshop
from wod.domain.clock import FakeClock
from wod.domain.states import RegistrationState, SeatState
from wod.scheduler.loop import run_pass
from wod.services.provisioning.locations import ensure_location
from wod.settings import Settings

EXPIRING, REMINDED, WAITING = 120, 120, 60


def populate(ctx: AppContext, clock: FakeClock) -> None:
    """Registrations whose timers are all due now, each on its own seat."""
    now = clock.now()
    with ctx.db.write() as s:
        location = ensure_location(
            s,
            name="big",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=400,
            now=now,
        )
        workshop = s.scalar(select(Workshop).where(Workshop.slug == "WKSHP-Python101"))
        assert workshop is not None
        workshop.seat_min, workshop.seat_max, workshop.capacity = 1, 400, 400
        workshop.location = "big"
        seats = list(
            s.scalars(select(Seat).where(Seat.location_id == location.id).order_by(Seat.number))
        )
        for n in range(EXPIRING + REMINDED + WAITING):
            active = n < EXPIRING + REMINDED
            seats[n].state = SeatState.ready if active else SeatState.reserved
            s.add(
                Registration(
                    workshop_id=workshop.id,
                    email=f"p{n}@example.org",
                    name="P",
                    company="C",
                    location_id=location.id,
                    seat_id=seats[n].id,
                    created_at=now - timedelta(hours=3),
                    state=RegistrationState.active if active else RegistrationState.queued,
                    ready_at=now - timedelta(hours=2) if active else None,
                    ends_at=(
                        now - timedelta(seconds=n) if n < EXPIRING else now + timedelta(minutes=30)
                    )
                    if active
                    else None,
                    reminder_due_at=now - timedelta(seconds=1) if active else None,
                    provision_due_at=None if active else now - timedelta(seconds=1),
                    manage_nonce=f"n{n}",
                    manage_token_hash=f"{n:064d}",
                )
            )


def test_two_loops_do_everything_exactly_once(
    ctx: AppContext, settings: Settings, clock: FakeClock
) -> None:
    seed(ctx)
    populate(ctx, clock)
    other = build_context(settings, clock=clock)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def loop(context: AppContext) -> None:
        try:
            start.wait()
            while any(run_pass(context).values()):
                pass
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(c,)) for c in (ctx, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    other.close()
    assert errors == []

    with ctx.db.read() as s:
        emails = Counter((e.registration_id, e.kind) for e in s.scalars(select(Email)))
        job_count = Counter((j.seat_id, j.verb.value) for j in s.scalars(select(Job)))
        purges = s.scalar(select(func.count()).select_from(Job).where(Job.verb == "PURGE"))
        states = Counter(r.state for r in s.scalars(select(Registration)))
    assert set(emails.values()) == {1}
    assert Counter(kind for _, kind in emails) == {"reminder": REMINDED, "apology": WAITING}
    assert set(job_count.values()) == {1}
    assert sum(1 for (_, verb) in job_count if verb == "CLEANUP") == EXPIRING
    assert purges == WAITING
    assert states == {
        RegistrationState.ending: EXPIRING,
        RegistrationState.active: REMINDED,
        RegistrationState.failed: WAITING,
    }
