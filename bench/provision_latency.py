"""Provisioning latency on the real stack: api (uvicorn, scheduler and outbox loops), backend
agent, JupyterHub with configurable-http-proxy, SMTP mail catcher — all on this machine.

Sequential registrations, alternating between a workshop with a pool of warm seats
(WKSHP-Python101, ``warm: N``) and one without (WKSHP-Shell101: every seat built on demand),
so that both are measured in the same run, on the same stack. Before a warm registration the
pool is given the time to refill (a participant does not arrive the very second the previous
one did); that refill time is printed too. For each registration, the time from the POST to
  - the credentials email queued (the seat is ready: CREATE done and reported, or warm),
  - the credentials email delivered to the SMTP server,
  - a login with the emailed password that reaches the seat's JupyterLab (server started).

Run: .venv/bin/python -m bench.provision_latency [--count 16] [--warm 3] [--database-url URL]
Targets on this machine: with warm seats p95 ≤ 0.5 s to the credentials email and ≤ 1.5 s to
an open lab; without, p95 under 5 s to a working login. The original platform needs minutes
(a 20 s polling job on each side of an Ansible run), so it has no runnable baseline here.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import select, update
from tests.stack import LocalStack, local_stack, stack_settings

from wod.db.migrate import upgrade
from wod.db.models import Email, Registration, Seat, Workshop
from wod.db.session import Database
from wod.domain.states import SeatState


def login_works(hub_url: str, username: str, password: str, deadline: float) -> float:
    """Seconds (monotonic clock) at which the seat's JupyterLab answered after a login."""
    with httpx.Client(base_url=hub_url, follow_redirects=True, timeout=30) as web:
        web.get("/hub/login")
        xsrf = next(c.value for c in web.cookies.jar if c.name == "_xsrf")
        answer = web.post(
            f"/hub/login?next=/user/{username}/lab",
            data={"username": username, "password": password, "_xsrf": xsrf},
        )
        if "/hub/login" in str(answer.url):
            raise RuntimeError(f"login refused for {username}")
        while time.monotonic() < deadline:
            page = web.get(f"/user/{username}/lab")
            if page.status_code == 200 and f"/user/{username}/lab" in str(page.url):
                return time.monotonic()
            time.sleep(0.05)
    raise RuntimeError(f"the server of {username} did not start")


def wait_credentials(api: str, email: str, deadline: float) -> tuple[float, str, str]:
    while time.monotonic() < deadline:
        for mail in httpx.get(f"{api}/api/v1/dev/mail", params={"limit": 5}).json():
            if mail["to"] == email and "credentials" in mail["subject"]:
                user = re.search(r"User name:\s+(\S+)", mail["text"])
                password = re.search(r"Password:\s+(\S+)", mail["text"])
                assert user and password
                return time.monotonic(), user[1], password[1]
        time.sleep(0.02)
    raise RuntimeError(f"no credentials email for {email}")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def report(name: str, values: list[float]) -> None:
    print(
        f"  {name:38} p50 {statistics.median(values):6.2f} s   p95 {percentile(values, 95):6.2f} s"
        f"   max {max(values):6.2f} s"
    )


WARM, COLD = "WKSHP-Python101", "WKSHP-Shell101"


def warm_seats(stack: LocalStack) -> int:
    with stack.ctx.db.read() as s:
        return len(
            s.scalars(
                select(Seat.id).where(
                    Seat.state == SeatState.warm,
                    Seat.warm_workshop_id
                    == select(Workshop.id).where(Workshop.slug == WARM).scalar_subquery(),
                )
            ).all()
        )


def wait_pool(stack: LocalStack, size: int, deadline: float) -> float:
    """Seconds until the warm workshop's pool holds ``size`` warm seats."""
    start = time.monotonic()
    while warm_seats(stack) < size:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the pool did not reach {size} warm seats")
        time.sleep(0.05)
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=16)
    parser.add_argument("--warm", type=int, default=3, help="pool size of the warm workshop")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wod-bench-"))
    settings = stack_settings(tmp, args.database_url or f"sqlite:///{tmp / 'wod.sqlite3'}")
    # every participant comes from this machine's address: no cap on its live registrations
    limits = {"live_per_address": 10_000, "rate_per_ip": 10_000}
    settings = settings.model_copy(
        update={"registration": settings.registration.model_copy(update=limits)}
    )
    upgrade(Database(settings.resolved_database_url))
    figures: dict[str, dict[str, list[float]]] = {
        mode: {"queued": [], "delivered": [], "login": []} for mode in ("warm", "cold")
    }
    refills: list[float] = []
    with local_stack(settings) as stack:
        api = stack.api.url
        with stack.ctx.db.write() as s:
            s.execute(update(Workshop).where(Workshop.slug == WARM).values(warm=args.warm))
        print(
            f"stack up: api {api}, hub {settings.hub.public_url}, "
            f"database {stack.ctx.db.url.get_backend_name()}; "
            f"{args.count} sequential registrations, {WARM} with a pool of {args.warm}, "
            f"{COLD} without"
        )
        for n in range(args.count):
            mode = "warm" if n % 2 == 0 else "cold"
            workshop = WARM if mode == "warm" else COLD
            if mode == "warm":
                live = n // 2  # the warm workshop's registrations so far (its pool shrinks)
                refills.append(wait_pool(stack, min(args.warm, 10 - live), time.monotonic() + 300))
            email = f"bench{n}@example.org"
            start = time.monotonic()
            answer = httpx.post(
                f"{api}/api/v1/registrations",
                json={
                    "workshop": workshop,
                    "email": email,
                    "name": f"Bench {n}",
                    "company": "Bench",
                    "accept_terms": True,
                },
            )
            answer.raise_for_status()
            rid = answer.json()["id"]
            got_mail, username, password = wait_credentials(api, email, start + 60)
            ready = login_works(settings.hub.public_url, username, password, start + 120)
            with stack.ctx.db.read() as s:
                reg = s.get(Registration, rid)
                sent = s.scalar(
                    select(Email).where(Email.registration_id == rid, Email.kind == "credentials")
                )
                assert reg is not None and sent is not None
                queued = (sent.created_at - reg.created_at).total_seconds()
            mine = figures[mode]
            mine["queued"].append(queued)
            mine["delivered"].append(got_mail - start)
            mine["login"].append(ready - start)
            print(
                f"  #{n + 1:2} {mode} {username:10} queued {queued:5.2f} s"
                f"  mail {mine['delivered'][-1]:5.2f} s  login works {mine['login'][-1]:5.2f} s"
            )
    for mode, title in (("warm", f"with a pool of {args.warm} warm seats"), ("cold", "cold")):
        values = figures[mode]
        print(f"\nregistration → ({title}, {len(values['login'])} registrations)")
        report("credentials email queued (server)", values["queued"])
        report("credentials email received (client)", values["delivered"])
        report("seat login works, JupyterLab answers", values["login"])
    print(f"\npool refill before a warm registration: p50 {statistics.median(refills):.2f} s")
    warm, cold = figures["warm"], figures["cold"]
    checks = [
        ("warm: credentials email p95 ≤ 0.5 s", percentile(warm["delivered"], 95) <= 0.5),
        ("warm: lab open p95 ≤ 1.5 s", percentile(warm["login"], 95) <= 1.5),
        ("cold: lab open p95 < 5 s", percentile(cold["login"], 95) < 5),
    ]
    for name, ok in checks:
        print(f"target {name}: {'met' if ok else 'NOT met'}")
    speedup = statistics.median(cold["login"]) / statistics.median(warm["login"])
    print(f"lab open p50: warm {speedup:.1f}× faster than cold")


if __name__ == "__main__":
    main()
