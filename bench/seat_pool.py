"""`wod backend seats sync` for 2,000 seats in system mode: from nothing, then the no-op check.

The original platform's documentation says its user management "can take hours for 2000 users".
Target here: under 60 s from nothing, under 5 s for the check. Runs as root; the accounts it
makes (uids 50001-52000) are removed at the end.

Run: .venv/bin/python -m bench.seat_pool [--seats 2000]
"""

from __future__ import annotations

import argparse
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UID_BASE = 50000


def sync(env: dict[str, str], seats: int) -> tuple[float, str]:
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "wod", "backend", "seats", "sync", "--seats", f"1-{seats}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.monotonic() - started
    if result.returncode != 0:
        raise SystemExit(f"sync failed: {result.stdout}{result.stderr}")
    return elapsed, result.stdout.strip().splitlines()[-1]


def remove_accounts(seats: int) -> None:
    for n in range(1, seats + 1):
        name = f"student{n}"
        try:
            if pwd.getpwnam(name).pw_uid == UID_BASE + n:
                subprocess.run(["userdel", name], check=False, capture_output=True)
                subprocess.run(["groupdel", name], check=False, capture_output=True)
        except KeyError:
            continue


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seats", type=int, default=2000)
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("system mode needs root")
    folder = Path(tempfile.mkdtemp(prefix="wod-seats-", dir="/var/tmp"))
    folder.chmod(0o711)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WOD_")}
    env.update(
        {
            "WOD_BACKEND__ACCOUNT_MODE": "system",
            "WOD_BACKEND__UID_BASE": str(UID_BASE),
            "WOD_BACKEND__STUDENTS_DIR": str(folder / "students"),
        }
    )
    remove_accounts(args.seats)
    try:
        first, first_line = sync(env, args.seats)
        again, again_line = sync(env, args.seats)
    finally:
        started = time.monotonic()
        remove_accounts(args.seats)
        shutil.rmtree(folder, ignore_errors=True)
        cleanup = time.monotonic() - started
    print(f"from nothing   {first:6.1f} s   ({first_line})")
    print(f"no-op check    {again:6.1f} s   ({again_line})")
    print(f"(removing the {args.seats} accounts afterwards took {cleanup:.1f} s)")
    print(
        f"targets: < 60 s from nothing: {'met' if first < 60 else 'NOT met'}; "
        f"< 5 s check: {'met' if again < 5 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
