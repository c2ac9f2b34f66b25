"""`wod deploy` on real hosts of the test bed: how long each role takes from bare hosts, the
no-op re-run, an upgrade that migrates the database, how the time grows with the number of
hub hosts, and what seats cost on a hub host (memory and CPU per seat).

Phases (each on a bed of its own, removed at the end):
  1. 1 database+api host and 2 hub hosts: bare → ready, the no-op re-run, the upgrade; then
     SEATS participants on one hub: its memory and CPU with 0 and SEATS seats, servers only
     and with a kernel each.
  2. 1 database+api host and HUBS hub hosts (default 5): bare → ready, the no-op re-run.

Needs root (the test bed). Run: .venv/bin/python -m bench.deploy [--hubs 5] [--seats 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from tests.bed import Testbed
from tests.deploy.environment import DeployRun, Environment, Hub, bed_settings
from tests.deploy.mail import MailCatcher, credentials
from tests.deploy.source import CONTENT, commit_migration, git, snapshot
from tests.deploy.web import WORKSHOP, client, hub_login, register_in_api, wait_for

#: A deployed hub host holds about 1 GB of files (two virtualenvs and the wheelhouse).
DISK_PER_HOST_GB = 1.5
MANUAL_STEPS = [
    "wod init ENV (asks the vault password)",
    "write hosts.yml (hosts, locations, seat ranges)",
    "write group_vars/all/main.yml (public URL, TLS, SMTP, branding, content)",
    "wod deploy -i deploy/inventories/ENV",
]


def say(text: str) -> None:
    print(text, flush=True)


def content_repo(target: Path, seats: int) -> None:
    """The deploy tests' workshop, its range and capacity widened to ``seats`` on location a."""
    import shutil

    shutil.copytree(CONTENT, target)
    wodyml = target / WORKSHOP / "wod.yml"
    text = wodyml.read_text().replace("range: [1,3]", f"range: [1,{seats}]")
    text = text.replace("capacity: 6", f"capacity: {seats}")
    wodyml.write_text(text)
    git(target, "init", "-q", "-b", "main")
    git(target, "add", "-A")
    git(target, "commit", "-q", "-m", "bench content")


@contextmanager
def platform(
    base: Path, hubs: int, seats: int
) -> Iterator[tuple[Testbed, Environment, MailCatcher]]:
    """A bed of 1 + ``hubs`` hosts, an environment for it and the SMTP catcher; all removed."""
    source, content = base / "source", base / "content"
    snapshot(source)
    content_repo(content, seats)
    bed = Testbed.create(base / "bed", memory_disks=f"{int(DISK_PER_HOST_GB * (hubs + 1)) + 1}g")
    bed.up(hubs + 1)
    mail = MailCatcher(bed.gateway)
    try:
        mail.start()
        bed.allow_port(mail.port)
        env = Environment.init(base, source)
        env.settings(**bed_settings(bed, content, mail.port))
        names = [chr(ord("a") + n) for n in range(hubs)]
        env.hosts(
            bed, db=1, api=1, hubs=[Hub(i + 2, name, f"1-{seats}") for i, name in enumerate(names)]
        )
        yield bed, env, mail
    finally:
        mail.stop()
        bed.down()


def checked(run: DeployRun, what: str) -> DeployRun:
    if run.rc != 0:
        raise SystemExit(f"{what} failed ({run.rc}):\n{run.output[-3000:]}")
    return run


def show(run: DeployRun, what: str) -> None:
    changed = {h["host"]: h["changed"] for h in run.report["hosts"] if h["host"] != "localhost"}
    say(f"\n{what}: {run.seconds:.0f} s (ansible-playbook {run.report['elapsed']:.0f} s)")
    say(f"  changed per host: {changed}")
    roles = sorted(run.report["roles"].items(), key=lambda kv: -kv[1])
    say("  wall time per role: " + ", ".join(f"{r} {s:.0f} s" for r, s in roles if s >= 0.5))
    say("  slowest tasks: " + "; ".join(f"{n} {s:.0f} s" for n, s in run.report["slowest"][:5]))


def idle_cpu(bed: Testbed, i: int, seconds: float = 30.0) -> float:
    """Cores host ``i`` uses on average over ``seconds``, while nobody does anything (its
    cgroup's CPU time: processes that exit during the window count too)."""
    before, start = bed.cpu_seconds(i), time.monotonic()
    time.sleep(seconds)  # a measurement window, not a wait for a condition
    return (bed.cpu_seconds(i) - before) / (time.monotonic() - start)


def sizing(bed: Testbed, env: Environment, mail: MailCatcher, seats: int) -> dict[str, Any]:
    """Memory (PSS) and idle CPU of hub host h2 with 0 and ``seats`` seats, then with a python
    kernel running in each seat."""
    ca = env.folder.parent / "ca.pem"
    ca.write_text("".join(bed.run(i, "cat /etc/wod/tls/wod.crt").stdout for i in (1, 2)))
    empty = {"pss_mib": bed.memory(2) / 2**20, "idle_cores": idle_cpu(bed, 2)}
    people = []
    with client(f"https://{bed.host(1).address}", ca) as web:
        for n in range(1, seats + 1):
            register_in_api(web, f"size{n}@example.org", f"Size {n}")
    for n in range(1, seats + 1):
        people.append(credentials(mail.wait(f"size{n}@example.org", "credentials", timeout=600)))
    wait_for(
        lambda: bed.run(2, "pgrep -c -f [j]upyterhub-singleuser").stdout.strip() == str(seats),
        300,
        f"{seats} single-user servers on h2",
    )
    servers = {"pss_mib": bed.memory(2) / 2**20, "idle_cores": idle_cpu(bed, 2)}
    rss = [
        p.memory_info().rss / 2**20
        for p in map(psutil.Process, bed.pids(2))
        if "jupyterhub-singleuser" in " ".join(p.cmdline())
    ]
    for user, password in people:
        with client(f"https://{bed.host(2).address}", ca) as hub:
            hub_login(hub, user, password)
            xsrf = next(
                c.value or "" for c in hub.cookies.jar if c.name == "_xsrf" and user in c.path
            )
            answer = hub.post(
                f"/user/{user}/api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf}
            )
            assert answer.status_code == 201, answer.text
    wait_for(
        lambda: bed.run(2, "pgrep -c -f [i]pykernel_launcher").stdout.strip() == str(seats),
        300,
        f"{seats} kernels on h2",
    )
    kernels = {"pss_mib": bed.memory(2) / 2**20, "idle_cores": idle_cpu(bed, 2)}
    return {
        "seats": seats,
        "empty": empty,
        "servers": servers,
        "kernels": kernels,
        "server_rss_mib": statistics.median(rss) if rss else 0.0,
    }


def show_sizing(data: dict[str, Any]) -> None:
    n = data["seats"]
    per_server = (data["servers"]["pss_mib"] - data["empty"]["pss_mib"]) / n
    per_kernel = (data["kernels"]["pss_mib"] - data["empty"]["pss_mib"]) / n
    idle = (data["kernels"]["idle_cores"] - data["empty"]["idle_cores"]) / n
    say(f"\nseats on one hub host ({n} participants, system account mode):")
    for label in ("empty", "servers", "kernels"):
        row = data[label]
        cpu = row["idle_cores"] * 100
        say(f"  {label:8} PSS {row['pss_mib']:7.0f} MiB   idle CPU {cpu:5.1f} % of a core")
    say(f"  a single-user server: RSS {data['server_rss_mib']:.0f} MiB (median)")
    say(f"  per seat: {per_server:.0f} MiB with its server, {per_kernel:.0f} MiB with a kernel too")
    say(f"  per GiB: {1024 / per_kernel:.1f} seats with a kernel each")
    say(f"           {1024 / per_server:.1f} seats with their server only")
    say(f"  idle CPU per seat: {idle * 100:.2f} % of a core")


def phase(base: Path, hubs: int, seats: int, *, upgrade: bool, size: bool) -> dict[str, Any]:
    figures: dict[str, Any] = {"hubs": hubs}
    with platform(base, hubs, seats) as (bed, env, mail):
        first = checked(env.deploy(), "deploy from bare")
        show(first, f"bare → ready, 1 db+api host and {hubs} hub hosts")
        again = checked(env.deploy(), "no-op re-run")
        show(again, "no-op re-run")
        figures.update(bare=first.seconds, noop=again.seconds, roles=first.report["roles"])
        if upgrade:
            commit_migration(env.source)
            up = checked(env.deploy(), "upgrade")
            show(up, "upgrade to a commit with a new migration")
            figures["upgrade"] = up.seconds
        if size:
            data = sizing(bed, env, mail, seats)
            show_sizing(data)
            figures["sizing"] = data
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--hubs", type=int, default=5, help="hub hosts of the larger run")
    parser.add_argument("--seats", type=int, default=8, help="participants of the sizing run")
    parser.add_argument("--skip-scale", action="store_true", help="only the 3-host phase")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the test bed needs root")
    say(f"machine: {os.cpu_count()} cores, {psutil.virtual_memory().total / 2**30:.0f} GiB")
    with tempfile.TemporaryDirectory(prefix="wod-bench-deploy-") as tmp:
        small = phase(Path(tmp) / "small", 2, args.seats, upgrade=True, size=True)
        large = None
        if not args.skip_scale:
            large = phase(Path(tmp) / "large", args.hubs, 3, upgrade=False, size=False)
    say("\nsummary:")
    say(
        f"  1 db+api + 2 hubs: bare → ready {small['bare']:.0f} s, no-op {small['noop']:.0f} s, "
        f"upgrade {small['upgrade']:.0f} s"
    )
    if large:
        say(
            f"  1 db+api + {large['hubs']} hubs: bare → ready {large['bare']:.0f} s, "
            f"no-op {large['noop']:.0f} s"
        )
    say(f"  manual steps beyond the inventory: 0 ({'; '.join(MANUAL_STEPS)})")
    if args.json:
        args.json.write_text(json.dumps({"small": small, "large": large}, indent=1))


if __name__ == "__main__":
    main()
