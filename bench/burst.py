"""A burst of registrations against a running api (`wod api` in its own process).

200 registrations from 20 concurrent clients over 4 workshops of 50 seats each, on SQLite and
then on a throwaway PostgreSQL server: throughput, p50/p95 latency, and a check that every
registration got a seat and no seat was given twice. With ``--instances 1,2,3``: on PostgreSQL,
that many ``wod api`` processes behind HAProxy (``scripts/bootstrap --test`` installs it), the
throughput of each count; with ``--workers 1,2``, one ``wod api --workers N`` instead.

Run: .venv/bin/python -m bench.burst [--registrations 200] [--clients 20] [--sqlite-only]
     .venv/bin/python -m bench.burst --instances 1,2,3 [--registrations 1000] [--clients 50]
     .venv/bin/python -m bench.burst --workers 1,2 [--registrations 1000] [--clients 50]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from tests.factories import make_workshop
from tests.faults.haproxy import LoadBalancer

from wod.context import build_context
from wod.db.migrate import upgrade
from wod.db.models import Registration
from wod.ports import free_port
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location
from wod.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
WORKSHOPS = 4
SEATS = 50


def prepare(folder: Path, database_url: str, seats: int = SEATS) -> Settings:
    """Content of 4 workshops of ``seats`` seats, the database migrated and imported, one
    location with all the seats."""
    from wod.content.check import check_content

    content = folder / "content"
    for n in range(WORKSHOPS):
        make_workshop(content, f"WKSHP-Burst{n}", (n * seats + 1, (n + 1) * seats))
    settings = Settings(database_url=database_url, content={"paths": [content]})
    ctx = build_context(settings)
    upgrade(ctx.db)
    report = check_content(ctx.content, settings)
    with ctx.db.write() as session:
        apply_import(session, plan_import(session, report), ctx.clock.now())
        ensure_location(
            session,
            name="local",
            hub_public_url="http://127.0.0.1:9",
            hub_api_url="http://127.0.0.1:9/hub/api",
            seat_min=1,
            seat_max=WORKSHOPS * seats,
            now=ctx.clock.now(),
        )
    ctx.close()
    return settings


def start_api(
    folder: Path,
    settings: Settings,
    name: str = "api",
    *,
    extra: dict[str, str] | None = None,
    source: Path | None = None,
    workers: int = 1,
) -> tuple[subprocess.Popen[bytes], str]:
    """A ``wod api`` process on the database of ``settings`` (its outbox off unless ``extra``
    says otherwise); with ``source``, the ``wod`` of that checkout instead of this one."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(
        {
            "WOD_DATABASE_URL": settings.resolved_database_url,
            "WOD_CONTENT__PATHS": f'["{settings.content.paths[0]}"]',
            "WOD_OUTBOX__ENABLED": "false",  # no SMTP server here: measure the registration path
            "WOD_LOG_LEVEL": "WARNING",
            # every client of the benchmark comes from 127.0.0.1
            "WOD_REGISTRATION__RATE_PER_IP": "1000000",
            "WOD_REGISTRATION__LIVE_PER_ADDRESS": "0",
            **(extra or {}),
        }
    )
    env["PYTHONPATH"] = str((source or ROOT) / "src")  # this checkout's, not the installed one
    log = (folder / f"{name}.log").open("wb")
    process = subprocess.Popen(
        # (an older checkout of --baseline has no --workers: it is only given when asked)
        [sys.executable, "-m", "wod", "api", "--port", str(port)]
        + (["--workers", str(workers)] if workers > 1 else []),
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=source or ROOT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120  # a loaded machine starts Python slowly
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=5).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the api did not start; see {folder / name}.log")


def post_registration(http: httpx.Client, n: int, prefix: str) -> tuple[httpx.Response, float]:
    """Participant ``n`` (``{prefix}{n}@example.org``) registers for one of the 4 workshops:
    the answer and its latency in seconds."""
    body = {
        "workshop": f"WKSHP-Burst{n % WORKSHOPS}",
        "email": f"{prefix}{n}@example.org",
        "name": f"Bench {n}",
        "company": "Bench",
        "accept_terms": True,
    }
    start = time.perf_counter()
    answer = http.post("/api/v1/registrations", json=body)
    return answer, time.perf_counter() - start


def burst(url: str, total: int, clients: int) -> tuple[list[float], Counter[int], float]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(clients)

    def client(index: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as http:
            barrier.wait()
            for n in range(index, total, clients):
                answer, elapsed = post_registration(http, n, "b")
                with lock:
                    latencies.append(elapsed)
                    statuses[answer.status_code] += 1

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, time.perf_counter() - start


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def run(label: str, database_url: str, total: int, clients: int) -> None:
    folder = Path(tempfile.mkdtemp(prefix="wod-burst-"))
    settings = prepare(folder, database_url)
    process, url = start_api(folder, settings)
    try:
        latencies, statuses, wall = burst(url, total, clients)
    finally:
        process.terminate()
        process.wait(20)
    report(label, settings, total, clients, latencies, statuses, wall)


def run_instances(
    url: str, counts: list[int], total: int, clients: int, *, workers: bool = False
) -> None:
    """The burst through HAProxy in front of 1, 2, 3… api processes (with ``workers``: one
    ``wod api --workers N`` process, no HAProxy), each count on a fresh database of the
    PostgreSQL server at ``url``: the throughput of each."""
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    seats = math.ceil(total / WORKSHOPS)
    how = "one `wod api --workers N`" if workers else "through HAProxy"
    print(f"{total} registrations, {clients} clients, {how}, on PostgreSQL:")
    for count in counts:
        name = f"burst_{count}"
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        database_url = make_url(url).set(database=name).render_as_string(hide_password=False)
        folder = Path(tempfile.mkdtemp(prefix="wod-burst-"))
        settings = prepare(folder, database_url, seats)
        apis: list[tuple[subprocess.Popen[bytes], str]] = []
        balancer: LoadBalancer | None = None
        try:
            if workers:
                apis.append(start_api(folder, settings, "api", workers=count))
                latencies, statuses, wall = burst(apis[0][1], total, clients)
            else:
                apis.extend(start_api(folder, settings, f"api{n}") for n in range(count))
                ports = [int(u.rsplit(":", 1)[1]) for _, u in apis]
                balancer = LoadBalancer(folder, ports).start()
                latencies, statuses, wall = burst(balancer.url, total, clients)
        finally:
            if balancer is not None:
                balancer.stop()
            for process, _ in apis:
                process.terminate()
                process.wait(20)
        label = f"{count} worker{'s' * (count > 1)}" if workers else f"{count} api"
        report(label, settings, total, clients, latencies, statuses, wall)
    admin.dispose()


def report(
    label: str,
    settings: Settings,
    total: int,
    clients: int,
    latencies: list[float],
    statuses: Counter[int],
    wall: float,
) -> None:
    ctx = build_context(settings)
    with ctx.db.read() as session:
        rows = session.scalar(select(func.count()).select_from(Registration)) or 0
        seats = session.scalar(select(func.count(func.distinct(Registration.seat_id)))) or 0
    ctx.close()
    print(
        f"{label:10} {total} registrations, {clients} clients: {total / wall:7.1f} req/s   "
        f"p50 {statistics.median(latencies) * 1000:6.1f} ms   "
        f"p95 {percentile(latencies, 95) * 1000:6.1f} ms   statuses {dict(statuses)}"
    )
    verdict = "ok" if rows == seats == statuses[201] == total else "FAILED"
    print(f"{'':10} {rows} registrations on {seats} distinct seats: no seat given twice: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--registrations", type=int, default=WORKSHOPS * SEATS)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument(
        "--instances",
        help="comma-separated api process counts behind HAProxy, on PostgreSQL (e.g. 1,2,3)",
    )
    parser.add_argument(
        "--workers",
        help="comma-separated worker counts of one `wod api --workers N`, on PostgreSQL (1,2)",
    )
    args = parser.parse_args()
    if args.instances or args.workers:
        counts = [int(n) for n in (args.instances or args.workers).split(",")]
        with postgresql() as url:
            run_instances(url, counts, args.registrations, args.clients, workers=bool(args.workers))
        return
    sqlite = Path(tempfile.mkdtemp(prefix="wod-burst-db-")) / "wod.sqlite3"
    run("SQLite", f"sqlite:///{sqlite}", args.registrations, args.clients)
    if args.sqlite_only:
        return
    with postgresql() as url:
        run("PostgreSQL", url, args.registrations, args.clients)


@contextmanager
def postgresql() -> Iterator[str]:
    """A throwaway PostgreSQL server (scripts/pg) for the length of the block: its URL."""
    pg_dir = tempfile.mkdtemp(prefix="wod-burst-pg-")
    url = subprocess.run(
        [str(ROOT / "scripts" / "pg"), "start", pg_dir], check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield url
    finally:
        subprocess.run([str(ROOT / "scripts" / "pg"), "stop", pg_dir], check=False)


if __name__ == "__main__":
    main()
