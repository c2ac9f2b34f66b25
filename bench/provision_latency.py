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
import threading
import time
from pathlib import Path

import httpx
from pydantic import SecretStr
from sqlalchemy import select
from tests.conftest import SAMPLE_CONTENT
from tests.factories import seed
from tests.servers import ApiServer

from wod.api.app import create_app
from wod.backend.agent import build_agent
from wod.context import build_context
from wod.db.migrate import upgrade
from wod.db.models import Email
from wod.hub.process import HubProcess
from wod.ports import free_port
from wod.settings import Settings


def settings_for(tmp: Path, database_url: str) -> Settings:
    api, hub, smtp = free_port(), free_port(), free_port()
    return Settings(
        database_url=database_url or f"sqlite:///{tmp / 'wod.sqlite3'}",
        data_dir=tmp,
        content={"paths": [SAMPLE_CONTENT]},
        api={"port": api, "public_url": f"http://127.0.0.1:{api}"},
        smtp={"port": smtp},
        backend={
            "api_url": f"http://127.0.0.1:{api}",
            "students_dir": tmp / "students",
            "credentials_dir": tmp / "credentials",
            "poll_interval": 0.1,
            "workers": 4,
        },
        hub={
            "dir": tmp / "hub",
            "port": hub,
            "internal_port": free_port(),
            "proxy_api_port": free_port(),
            "public_url": f"http://127.0.0.1:{hub}",
            "api_url": f"http://127.0.0.1:{hub}/hub/api",
            "api_token": "bench-" + "x" * 40,
        },
        dev={"mail_catcher": True, "maildir": tmp / "mail"},
        scheduler={"interval": 1.0},
        outbox={"interval": 0.5},
    )


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
    settings = settings_for(tmp, args.database_url)
    ctx = build_context(settings)
    upgrade(ctx.db)
    token = seed(ctx, seats=(1, 20), hub_url=settings.hub.public_url)
    hub = HubProcess(settings)
    api = ApiServer(create_app(ctx), port=settings.api.port)
    backend = settings.backend.model_copy(update={"token": SecretStr(token)})
    agent = build_agent(settings.model_copy(update={"backend": backend}))
    agent_thread = threading.Thread(target=agent.run, daemon=True)
    queued, delivered, login = [], [], []
    try:
        hub.start()
        api.start()
        agent_thread.start()
        print(
            f"stack up: api {api.url}, hub {settings.hub.public_url}, "
            f"database {ctx.db.url.get_backend_name()}; {args.count} sequential registrations"
        )
        for n in range(args.count):
            workshop = "WKSHP-Python101" if n % 2 == 0 else "WKSHP-Shell101"
            email = f"bench{n}@example.org"
            start = time.monotonic()
            answer = httpx.post(
                f"{api.url}/api/v1/registrations",
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
            got_mail, username, password = wait_credentials(api.url, email, start + 60)
            ready = login_works(settings.hub.public_url, username, password, start + 120)
            with ctx.db.read() as s:
                email_row = s.scalar(
                    select(Email).where(Email.registration_id == rid, Email.kind == "credentials")
                )
                assert email_row is not None
                from wod.db.models import Registration

                reg = s.get(Registration, rid)
                assert reg is not None
                queued.append((email_row.created_at - reg.created_at).total_seconds())
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
    finally:
        agent.stop()
        agent_thread.join(30)
        api.stop()
        hub.stop()
        ctx.close()


if __name__ == "__main__":
    main()
