"""Provisioning latency on the real stack: api (uvicorn, scheduler and outbox loops), backend
agent, JupyterHub with configurable-http-proxy, SMTP mail catcher — all on this machine.

20 sequential registrations; for each, the time from the POST to
  - the credentials email queued (the seat is ready: CREATE done and reported),
  - the credentials email delivered to the SMTP server,
  - a login with the emailed password that reaches the seat's JupyterLab (server started).

Run: .venv/bin/python -m bench.provision_latency [--count 20] [--database-url URL]
Target on this machine: p95 under 5 s to a working login. The original platform needs
minutes (a 20 s polling job on each side of an Ansible run), so it has no runnable baseline here.
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
from sqlalchemy import select
from tests.stack import local_stack, stack_settings

from wod.db.migrate import upgrade
from wod.db.models import Email, Registration
from wod.db.session import Database


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=20)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="wod-bench-"))
    settings = stack_settings(tmp, args.database_url or f"sqlite:///{tmp / 'wod.sqlite3'}")
    upgrade(Database(settings.resolved_database_url))
    queued: list[float] = []
    delivered: list[float] = []
    login: list[float] = []
    with local_stack(settings) as stack:
        api = stack.api.url
        print(
            f"stack up: api {api}, hub {settings.hub.public_url}, "
            f"database {stack.ctx.db.url.get_backend_name()}; "
            f"{args.count} sequential registrations"
        )
        for n in range(args.count):
            workshop = "WKSHP-Python101" if n % 2 == 0 else "WKSHP-Shell101"
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
                queued.append((sent.created_at - reg.created_at).total_seconds())
            delivered.append(got_mail - start)
            login.append(ready - start)
            print(
                f"  #{n + 1:2} {username:10} queued {queued[-1]:5.2f} s"
                f"  mail {delivered[-1]:5.2f} s  login works {login[-1]:5.2f} s"
            )
    print("\nregistration →")
    report("credentials email queued (server)", queued)
    report("credentials email received (client)", delivered)
    report("seat login works, JupyterLab answers", login)
    verdict = "met" if percentile(login, 95) < 5 else "NOT met"
    print(f"target p95 < 5 s to a working login: {verdict}")


if __name__ == "__main__":
    main()
