"""One scheduler pass as history grows: 1,000 live registrations and up to 1,000,000 past ones.

The pass reads only rows whose due time has come, through indexes. Beside it, in the same run,
a pass the way the original platform did it (load every registration, then look at each one)
on the same data, and the ratio of the two.

Run: .venv/bin/python -m bench.scheduler_tick [--history 1000000] [--database-url URL]
Target: the pass stays flat as history grows (under 50 ms here).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session
from tests.factories import make_workshop

from wod.context import AppContext, build_context
from wod.db.migrate import upgrade
from wod.db.models import Registration, Seat
from wod.domain.clock import FakeClock
from wod.domain.states import RegistrationState, SeatState
from wod.scheduler.loop import run_pass
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location
from wod.settings import Settings

LIVE = 1000
CHUNK = 20_000
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def setup(database_url: str) -> tuple[AppContext, int, int, list[int]]:
    from wod.content.check import check_content

    folder = Path(tempfile.mkdtemp(prefix="wod-tick-"))
    make_workshop(folder / "content", "WKSHP-Tick", (1, LIVE))
    settings = Settings(
        database_url=database_url, content={"paths": [folder / "content"]}, scheduler={"batch": 200}
    )
    ctx = build_context(settings, clock=FakeClock(NOW))
    upgrade(ctx.db)
    with ctx.db.write() as session:
        apply_import(session, plan_import(session, check_content(ctx.content, settings)), NOW)
        location = ensure_location(
            session,
            name="local",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=LIVE,
            now=NOW,
        )
        seats = list(session.scalars(select(Seat.id).where(Seat.location_id == location.id)))
        from wod.db.models import Workshop

        workshop = session.scalars(select(Workshop)).one()
        return ctx, workshop.id, location.id, seats


def add_live(ctx: AppContext, workshop: int, location: int, seats: list[int]) -> None:
    rows = [
        {
            "workshop_id": workshop,
            "email": f"live{n}@example.org",
            "name": "L",
            "company": "C",
            "location_id": location,
            "seat_id": seat,
            "state": RegistrationState.active,
            "created_at": NOW - timedelta(minutes=30),
            "ready_at": NOW - timedelta(minutes=30),
            "ends_at": NOW + timedelta(hours=1, minutes=30),
            "reminder_due_at": NOW + timedelta(minutes=30),
            "manage_nonce": "",
            "manage_token_hash": f"live{n:060d}",
            "language": "en",
            "extended": False,
        }
        for n, seat in enumerate(seats)
    ]
    with ctx.db.write() as session:
        session.execute(insert(Registration), rows)
        seat_table = Seat.__table__
        assert isinstance(seat_table, Table)
        session.execute(seat_table.update().values(state=SeatState.ready))


def add_history(
    ctx: AppContext, workshop: int, location: int, seat: int, start: int, count: int
) -> None:
    for first in range(start, start + count, CHUNK):
        rows = [
            {
                "workshop_id": workshop,
                "email": f"past{n}@example.org",
                "name": "P",
                "company": "C",
                "location_id": location,
                "seat_id": seat,
                "state": RegistrationState.ended,
                "created_at": NOW - timedelta(days=1 + n % 900),
                "ready_at": NOW - timedelta(days=1 + n % 900),
                "ends_at": NOW - timedelta(days=1 + n % 900) + timedelta(hours=2),
                "ended_at": NOW - timedelta(days=1 + n % 900) + timedelta(hours=2),
                "completion": n % 101,
                "manage_nonce": "",
                "manage_token_hash": None,
                "language": "en",
                "extended": False,
            }
            for n in range(first, min(first + CHUNK, start + count))
        ]
        with ctx.db.write() as session:
            session.execute(insert(Registration), rows)


def analyze(ctx: AppContext) -> None:
    """Refresh the planner's statistics, as PostgreSQL's autovacuum does after a bulk load
    (without it, the pass right after a tenfold growth may plan a sequential scan)."""
    with ctx.db.engine.connect() as conn:
        conn.exec_driver_sql("ANALYZE")
        conn.commit()


def timed(action: Callable[[], object], repeat: int) -> float:
    """Median seconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def load_everything(ctx: AppContext) -> int:
    """The original's tick: every registration loaded, each one looked at."""
    due = 0
    with ctx.db.read() as session:
        assert isinstance(session, Session)
        for registration in session.scalars(select(Registration)):
            if registration.state is RegistrationState.active and registration.ends_at is not None:
                due += registration.ends_at <= NOW
    return due


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=1_000_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='wod-tick-db-')}/wod.sqlite3"
    ctx, workshop, location, seats = setup(url)
    add_live(ctx, workshop, location, seats)
    print(f"database {ctx.db.url.get_backend_name()}, {LIVE} live registrations")
    print(f"{'past registrations':>20} {'scheduler pass':>16} {'load-all pass':>15} {'ratio':>8}")
    done = 0
    for size in sorted({0, min(10_000, args.history), min(100_000, args.history), args.history}):
        start = time.perf_counter()
        add_history(ctx, workshop, location, seats[0], done, size - done)
        done = size
        analyze(ctx)
        filled = time.perf_counter() - start
        tick = timed(lambda: run_pass(ctx), 20)
        full = timed(lambda: load_everything(ctx), 1 if size >= 100_000 else 3)
        print(
            f"{size:>20,} {tick * 1000:>13.1f} ms {full * 1000:>12.0f} ms {full / tick:>7.0f}x"
            f"   (history inserted in {filled:.1f} s)"
        )
    verdict = "met" if tick < 0.05 else "NOT met"
    print(f"target: pass under 50 ms with {done:,} past registrations: {verdict}")
    ctx.close()


if __name__ == "__main__":
    main()
