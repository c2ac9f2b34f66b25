"""The catalogue under load: `GET /` (HTML) and `GET /api/v1/workshops` (JSON) against a running
api (`wod api` in its own process, development mode, scheduler and outbox on).

20 active workshops (some with registrations, so seats left and Popular vary), 50 concurrent
clients for 20 s on each endpoint after a short warm-up: requests/s, p50/p95/p99 latency,
non-2xx answers and errors. Halfway through the first load, one participant registers through
`POST /api/v1/registrations`, then another straight in the database (as a second api process
would); after each, the api is polled every 100 ms until the workshop's seats left show it: the
staleness.

Then, as a baseline in the same run, the same load against the same api with its catalogue
cache off (``api.catalogue_ttl = 0``: every request reads the database, every page is rendered).

Run: .venv/bin/python -m bench.portal_load [--clients 50] [--duration 20] [--workshops 20]
         [--only api|page] [--client wrk|python] [--database-url URL] [--no-baseline]
Targets on this machine (2 cores): ≥ 1,000 req/s for the api, ≥ 500 req/s for the page,
p95 < 50 ms, and a registration visible in the catalogue within a few seconds. The original
system answered the api call at 299 req/s (p95 208 ms) as shipped, 827 req/s (p95 86 ms) with
SQL logging off, on the same load.

The load comes from wrk (`apt-get install wrk`) with a Lua script that reports percentiles and
status counts; `--client python` uses an asyncio client instead (slower: it shares the two
cores with the server).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import func, select
from tests.factories import make_workshop

from wod.content.check import check_content
from wod.context import build_context
from wod.db.migrate import upgrade
from wod.db.models import Workshop
from wod.ports import free_port
from wod.services.catalogue.importer import apply_import, plan_import
from wod.services.provisioning.locations import ensure_location
from wod.services.registrations import RegistrationRequest, register
from wod.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEATS = 20  # per workshop
API = "/api/v1/workshops"
PAGE = "/"
ENDPOINTS = {"api": (API, "JSON", 1000.0), "page": (PAGE, "HTML", 500.0)}  # path, kind, req/s
P95_TARGET_MS = 50.0
FRESHNESS_TARGET = 5.0  # seconds: "a few seconds at most"
POLL = 0.1
ORIGINAL = (("original system as shipped", 299, 208), ("original, SQL logging off", 827, 86))

# Counts the answers by status in every wrk thread; done() sums them and prints one line.
WRK_SCRIPT = """
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "wod-bench requests=%d duration_us=%d connect=%d read=%d write=%d timeout=%d",
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout))
  for _, p in ipairs({50, 95, 99}) do
    io.write(string.format(" p%d_us=%d", p, latency:percentile(p)))
  end
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  for status, n in pairs(counts) do
    io.write(string.format(" status_%d=%d", status, n))
  end
  io.write("\\n")
end
"""


@dataclass
class Load:
    """What one load run measured."""

    requests: int
    seconds: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    statuses: Counter[int]
    errors: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def non_2xx(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)


def slug(n: int) -> str:
    return f"WKSHP-Portal{n:02}"


def registrations_of(n: int) -> int:
    """Seeded registrations of workshop n: 0 to 10, so seats left and Popular vary."""
    return (3 * n) % 11


def prepare(folder: Path, database_url: str, workshops: int) -> Settings:
    """Workshops on disk, imported; one location with every seat; the seeded registrations."""
    content = folder / "content"
    for n in range(workshops):
        make_workshop(content, slug(n), (n * SEATS + 1, (n + 1) * SEATS))
    settings = Settings(database_url=database_url, content={"paths": [content]})
    ctx = build_context(settings)
    try:
        upgrade(ctx.db)
        with ctx.db.write() as session:
            if session.scalar(select(func.count()).select_from(Workshop)):
                sys.exit(f"{database_url} already holds workshops: give an empty database")
            apply_import(
                session, plan_import(session, check_content(ctx.content, settings)), ctx.clock.now()
            )
            ensure_location(
                session,
                name="local",
                hub_public_url="http://127.0.0.1:9",
                hub_api_url="http://127.0.0.1:9/hub/api",
                seat_min=1,
                seat_max=workshops * SEATS,
                now=ctx.clock.now(),
            )
        for n in range(workshops):
            for i in range(registrations_of(n)):
                request = RegistrationRequest(
                    slug(n), f"seed{n}-{i}@example.org", f"Seed {i}", "Bench", True
                )
                register(ctx, request)
    finally:
        ctx.close()
    return settings


def start_api(
    folder: Path, settings: Settings, extra: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """`wod api` on a free loopback port, in its own session so that Ctrl-C reaches only us."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(
        {
            "WOD_MODE": "development",
            "WOD_DATABASE_URL": settings.resolved_database_url,
            "WOD_CONTENT__PATHS": f'["{settings.content.paths[0]}"]',
            "WOD_LOG_LEVEL": "WARNING",
            # The outbox delivers the welcome emails to the in-process mail catcher.
            "WOD_DEV__MAIL_CATCHER": "true",
            "WOD_DEV__MAILDIR": str(folder / "mail"),
            "WOD_SMTP__HOST": "127.0.0.1",
            "WOD_SMTP__PORT": str(free_port()),
        }
        | (extra or {})
    )
    log = (folder / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "wod", "api", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return process, url
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_api(process)
    tail = (folder / "api.log").read_text(errors="replace")[-3000:]
    raise RuntimeError(f"the api did not start:\n{tail}")


def stop_api(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (uvicorn shuts down and stops its loops), SIGKILL if it hangs."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def check_catalogue(url: str, workshops: int) -> tuple[int, int]:
    """The catalogue as seeded (every workshop, its seats left); (registrations, popular)."""
    listed = httpx.get(url + API, timeout=10).json()
    seats = {w["slug"]: w["seats_left"] for w in listed}
    expected = {slug(n): SEATS - registrations_of(n) for n in range(workshops)}
    if seats != expected:
        raise RuntimeError(f"unexpected catalogue: {seats}")
    page = httpx.get(url + PAGE, timeout=10)
    if page.status_code != 200 or "Portal00" not in page.text:
        raise RuntimeError(f"unexpected catalogue page: {page.status_code}")
    seeded = sum(registrations_of(n) for n in range(workshops))
    return seeded, sum(1 for w in listed if w["popular"])


def run_wrk(url: str, clients: int, seconds: float, script: Path) -> Load:
    """One wrk run (one thread is plenty for this rate and leaves a core to the server)."""
    command = ["wrk", "-t1", f"-c{clients}", f"-d{seconds:g}s", "--timeout", "10s"]
    out = subprocess.run(
        [*command, "-s", str(script), url], check=True, capture_output=True, text=True
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("wod-bench "))
    fields = {k: int(v) for k, v in (item.split("=") for item in line.split()[1:])}
    statuses = Counter(
        {int(k.removeprefix("status_")): v for k, v in fields.items() if k.startswith("status_")}
    )
    return Load(
        requests=fields["requests"],
        seconds=fields["duration_us"] / 1e6,
        p50_ms=fields["p50_us"] / 1000,
        p95_ms=fields["p95_us"] / 1000,
        p99_ms=fields["p99_us"] / 1000,
        statuses=statuses,
        errors=sum(fields[k] for k in ("connect", "read", "write", "timeout")),
    )


def run_python(url: str, clients: int, seconds: float) -> Load:
    """The same load from asyncio and httpx, for machines without wrk."""
    return asyncio.run(_python_load(url, clients, seconds))


async def _python_load(url: str, clients: int, seconds: float) -> Load:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(limits=limits, timeout=10) as http:
        start = time.perf_counter()
        deadline = start + seconds

        async def client() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                try:
                    answer = await http.get(url)
                except httpx.HTTPError:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - sent)
                statuses[answer.status_code] += 1

        await asyncio.gather(*(client() for _ in range(clients)))
        wall = time.perf_counter() - start
    ms = [x * 1000 for x in sorted(latencies)] or [math.nan]
    p50, p95, p99 = (percentile(ms, p) for p in (50, 95, 99))
    return Load(len(latencies), wall, p50, p95, p99, statuses, errors)


def percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of sorted values."""
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Freshness:
    """One registration and how long the catalogue took to show it."""

    via: str
    workshop: str
    before: int
    write: Callable[[], None]
    write_seconds: float = math.nan
    staleness: float | None = None
    polls: int = 0
    failure: str = ""


def register_by_api(url: str, workshop: str, email: str) -> Callable[[], None]:
    """A registration through ``POST /api/v1/registrations`` of the api under load."""

    def write() -> None:
        body = {"workshop": workshop, "email": email, "name": "Fresh", "company": "Bench"}
        answer = httpx.post(f"{url}/api/v1/registrations", json=body | {"accept_terms": True})
        if answer.status_code != 201:
            raise RuntimeError(f"registration answered {answer.status_code}: {answer.text}")

    return write


def register_elsewhere(settings: Settings, workshop: str, email: str) -> Callable[[], None]:
    """A registration written to the database by this process, as another api process would
    (the api under load learns of it only from the database)."""

    def write() -> None:
        ctx = build_context(settings)
        try:
            register(ctx, RegistrationRequest(workshop, email, "Fresh", "Bench", True))
        finally:
            ctx.close()

    return write


def probe_freshness(url: str, probes: list[Freshness], delay: float) -> None:
    """After ``delay``, for each probe in turn: register once, then poll the catalogue every
    100 ms until the workshop's seats left dropped by one (30 s at most)."""
    time.sleep(delay)
    with httpx.Client(base_url=url, timeout=30) as http:
        for probe in probes:
            sent = time.monotonic()
            try:
                probe.write()
            except Exception as exc:  # reported with the figures
                probe.failure = str(exc)
                continue
            registered = time.monotonic()
            probe.write_seconds = registered - sent
            while probe.staleness is None and time.monotonic() < registered + 30:
                probe.polls += 1
                listed = http.get(API).json()
                seen = time.monotonic()
                left = next(w["seats_left"] for w in listed if w["slug"] == probe.workshop)
                if left == probe.before - 1:
                    probe.staleness = seen - registered
                time.sleep(max(0.0, POLL - (time.monotonic() - seen)))
            if probe.staleness is None:
                probe.failure = "the catalogue did not show the registration within 30 s"


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def print_load(name: str, load: Load, rate_target: float) -> None:
    print(
        f"{name:32} {load.rate:8.1f} {load.p50_ms:8.1f} {load.p95_ms:8.1f} {load.p99_ms:8.1f}"
        f" {load.non_2xx:8} {load.errors:7}   ({load.requests} requests in {load.seconds:.1f} s)"
    )
    rate_ok, p95_ok = load.rate >= rate_target, load.p95_ms < P95_TARGET_MS
    print(
        f"{'  target':32} {f'≥ {rate_target:,.0f}':>8} {'':8} {f'< {P95_TARGET_MS:g}':>8}"
        f"{'':27}   req/s {verdict(rate_ok)}, p95 {verdict(p95_ok)}"
    )


def print_freshness(probe: Freshness) -> None:
    print(f"  {probe.via}")
    if probe.staleness is None:
        print(f"    FAILED: {probe.failure}")
        return
    print(
        f"    registered in {probe.write_seconds * 1000:.0f} ms; {API} showed seats_left of "
        f"{probe.workshop} {probe.before} → {probe.before - 1} {probe.staleness:.2f} s later "
        f"({probe.polls} poll(s), one every {POLL * 1000:.0f} ms): "
        f"{verdict(probe.staleness <= FRESHNESS_TARGET)}"
    )


def measure(url: str, args: argparse.Namespace, script: Path | None) -> Load:
    """A warm-up, then the measured run, with the chosen client."""

    def load(seconds: float) -> Load:
        if script is None:
            return run_python(url, args.clients, seconds)
        return run_wrk(url, args.clients, seconds, script)

    load(args.warmup)
    return load(args.duration)


def freshness_probes(url: str, settings: Settings) -> list[Freshness]:
    """A registration through the api, then one by another process, on two workshops."""
    first, second = slug(0), slug(1)
    return [
        Freshness(
            "POST /api/v1/registrations to the api under load",
            first,
            SEATS - registrations_of(0),
            register_by_api(url, first, "fresh-api@example.org"),
        ),
        Freshness(
            "registration by another process (straight to the database)",
            second,
            SEATS - registrations_of(1),
            register_elsewhere(settings, second, "fresh-db@example.org"),
        ),
    ]


def print_setup(url: str, settings: Settings, args: argparse.Namespace, client: str) -> None:
    seeded, popular = check_catalogue(url, args.workshops)
    database = settings.resolved_database_url.split(":", 1)[0].split("+", 1)[0]
    print(
        f"wod api on {url} ({database}, WOD_MODE=development, scheduler and outbox on): "
        f"{args.workshops} active workshops of {SEATS} seats at one location, "
        f"{seeded} registrations, {popular} Popular"
    )
    print(
        f"load: {args.clients} clients × {args.duration:g} s per endpoint after a "
        f"{args.warmup:g} s warm-up; client {client}\n"
    )
    columns = ("req/s", "p50 ms", "p95 ms", "p99 ms", "non-2xx")
    print(f"{'':32}" + "".join(f" {c:>8}" for c in columns) + f" {'errors':>7}")


def run(args: argparse.Namespace, folder: Path, script: Path | None, client: str) -> None:
    """Seed, start the api, load each endpoint (the freshness probes run halfway through the
    first load), print; the api is stopped whatever happens."""
    database_url = args.database_url or f"sqlite:///{folder / 'wod.sqlite3'}"
    settings = prepare(folder, database_url, args.workshops)
    process, url = start_api(folder, settings)
    try:
        print_setup(url, settings, args, client)
        probes = freshness_probes(url, settings)
        delay = args.warmup + args.duration / 2
        prober = threading.Thread(target=probe_freshness, args=(url, probes, delay), daemon=True)
        prober.start()
        for key in ("api", "page") if args.only is None else (args.only,):
            path, kind, rate_target = ENDPOINTS[key]
            print_load(f"GET {path} ({kind})", measure(url + path, args, script), rate_target)
            if key == "api":
                for label, rate, p95 in ORIGINAL:
                    print(f"  {label:30} {rate:8} {'':8} {p95:8}")
        prober.join()
        target = f"a few seconds at most, ≤ {FRESHNESS_TARGET:g} s"
        print(f"\nfreshness, during the load (target: {target}):")
        for probe in probes:
            print_freshness(probe)
    finally:
        stop_api(process)
    if args.baseline:
        run_baseline(args, folder, settings, script)


def run_baseline(
    args: argparse.Namespace, folder: Path, settings: Settings, script: Path | None
) -> None:
    """The same load on the same database with the catalogue cache off
    (``api.catalogue_ttl = 0``: every request reads the database, every page is rendered)."""
    process, url = start_api(folder, settings, {"WOD_API__CATALOGUE_TTL": "0"})
    try:
        print("\nbaseline, same run: the same api with its catalogue cache off (catalogue_ttl=0)")
        for key in ("api", "page") if args.only is None else (args.only,):
            path, kind, rate_target = ENDPOINTS[key]
            print_load(f"GET {path} ({kind})", measure(url + path, args, script), rate_target)
    finally:
        stop_api(process)


def pick_client(choice: str) -> str:
    """The client's name; exits with how to install wrk when it is asked for and missing."""
    if choice == "python":
        return f"python (asyncio + httpx {httpx.__version__})"
    if shutil.which("wrk") is None:
        sys.exit(
            "wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or `brew install wrk`; "
            "or run with --client python (an asyncio client, slower on a small machine)"
        )
    version = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    return f"{(version.stdout or version.stderr).split(' [')[0]} (1 thread)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50, help="concurrent connections")
    parser.add_argument("--duration", type=float, default=20, help="seconds per endpoint")
    parser.add_argument("--warmup", type=float, default=3, help="seconds of warm-up per endpoint")
    parser.add_argument("--workshops", type=int, default=20, help="active workshops")
    parser.add_argument("--only", choices=sorted(ENDPOINTS), help="load one endpoint only")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk")
    parser.add_argument("--database-url", default="", help="an empty database (default SQLite)")
    parser.add_argument(
        "--no-baseline",
        dest="baseline",
        action="store_false",
        help="skip the baseline run with the catalogue cache off",
    )
    args = parser.parse_args()
    if args.workshops < 2:
        parser.error("--workshops: at least 2 (the freshness probes register on two)")
    client = pick_client(args.client)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated; the api was stopped"))
    with tempfile.TemporaryDirectory(prefix="wod-portal-load-") as tmp:
        folder = Path(tmp)
        script = None
        if args.client == "wrk":
            script = folder / "report.lua"
            script.write_text(WRK_SCRIPT)
        try:
            run(args, folder, script, client)
        except KeyboardInterrupt:
            sys.exit("interrupted; the api was stopped")


if __name__ == "__main__":
    main()
