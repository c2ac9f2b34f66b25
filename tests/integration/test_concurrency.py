"""50 registrations fired at once at a workshop with 10 seats: exactly 10 created, each on a
different seat, and 40 refused as full — on SQLite and on PostgreSQL (whichever this run uses)."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import func, select

from tests.servers import serve
from wod.context import AppContext
from wod.db.models import Registration, Seat
from wod.domain.states import SeatState
from wod.web.app import create_app

PARALLEL = 50


def test_fifty_parallel_registrations_for_ten_seats(ctx: AppContext, token: str) -> None:
    barrier = threading.Barrier(PARALLEL)

    def register(n: int) -> httpx.Response:
        body = {
            "workshop": "WKSHP-Python101",
            "email": f"p{n}@example.org",
            "name": f"Person {n}",
            "company": "Crowd",
            "accept_terms": True,
        }
        with httpx.Client(base_url=server.url, timeout=60) as http:
            barrier.wait()
            return http.post("/api/v1/registrations", json=body)

    with serve(create_app(ctx, background=False)) as server, ThreadPoolExecutor(PARALLEL) as pool:
        answers = list(pool.map(register, range(PARALLEL)))

    outcome = Counter((a.status_code, a.json().get("code")) for a in answers)
    assert outcome == {(201, None): 10, (409, "workshop_full"): 40}, outcome
    with ctx.db.read() as s:
        seats = [r.seat_id for r in s.scalars(select(Registration))]
        assert len(seats) == 10 and len(set(seats)) == 10
        reserved = s.scalar(
            select(func.count()).select_from(Seat).where(Seat.state == SeatState.reserved)
        )
        assert reserved == 10
        numbers = sorted(s.scalars(select(Seat.number).where(Seat.id.in_(seats))))
        assert numbers == list(range(1, 11))
