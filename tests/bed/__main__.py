"""Command line of the test bed: ``scripts/testbed [--state DIR] COMMAND ...``."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.bed import image
from tests.bed.bed import Testbed, default_state_dir
from tests.bed.system import BedError, ensure_tools, say


def _up(args: argparse.Namespace) -> int:
    bed = Testbed.create(args.state, wheelhouse=args.wheelhouse, memory_disks=args.memory_disks)
    for h in bed.up(args.count, timeout=args.timeout):
        print(f"{h.name}\t{h.address}\tssh -F {h.ssh_config} {h.name}")
    return 0


def _down(args: argparse.Namespace) -> int:
    try:
        bed = Testbed.open(args.state)
    except BedError:
        say(f"no test bed in {args.state or default_state_dir()}: nothing to remove")
        return 0
    prefix = bed.state.prefix
    bed.down()
    left = bed.leftovers(prefix)
    if left:
        raise BedError(f"left after down: {', '.join(left)}")
    return 0


def _kill(args: argparse.Namespace) -> int:
    took = Testbed.open(args.state).kill(args.index)
    say(f"h{args.index} powered off (SIGKILL of its cgroup) in {took:.2f} s")
    return 0


def _boot(args: argparse.Namespace) -> int:
    took = Testbed.open(args.state).boot(args.index, timeout=args.timeout)
    say(f"h{args.index} booted, ssh answers after {took:.1f} s")
    return 0


def _cut(args: argparse.Namespace) -> int:
    Testbed.open(args.state).cut(args.index)
    return 0


def _heal(args: argparse.Namespace) -> int:
    Testbed.open(args.state).heal(args.index)
    return 0


def _block(args: argparse.Namespace) -> int:
    Testbed.open(args.state).block(args.src, args.dst)
    return 0


def _unblock(args: argparse.Namespace) -> int:
    Testbed.open(args.state).unblock(args.src, args.dst)
    return 0


def _allow(args: argparse.Namespace) -> int:
    Testbed.open(args.state).allow_port(args.port)
    return 0


def _disallow(args: argparse.Namespace) -> int:
    Testbed.open(args.state).disallow_port(args.port)
    return 0


def _ssh(args: argparse.Namespace) -> int:
    argv = Testbed.open(args.state).host(args.index).ssh_command(*args.command)
    if not args.command and sys.stdin.isatty():
        argv.insert(1, "-t")
    return subprocess.run(argv, check=False).returncode


def _status(args: argparse.Namespace) -> int:
    print(json.dumps(Testbed.open(args.state).status(), indent=2))
    return 0


def _env(args: argparse.Namespace) -> int:
    print(json.dumps(Testbed.open(args.state).env(), indent=2))
    return 0


def _image(args: argparse.Namespace) -> int:
    ensure_tools()
    start = time.monotonic()
    lower = image.ensure_image(args.cache, rebuild=args.rebuild)
    say(f"root filesystem ready in {lower} ({time.monotonic() - start:.1f} s)")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser (one sub-command per action)."""
    p = argparse.ArgumentParser(prog="scripts/testbed", description=__doc__)
    p.add_argument(
        "--state",
        type=Path,
        default=None,
        help="state folder (default: $WOD_TESTBED_STATE or /run/wod-testbed/default)",
    )
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="boot h1..hN")
    up.add_argument("count", type=int)
    up.add_argument("--wheelhouse", type=Path, default=None, help="folder to serve to pip")
    up.add_argument("--timeout", type=float, default=120.0, help="seconds per host to boot")
    up.add_argument(
        "--memory-disks",
        default="",
        metavar="SIZE",
        help="keep the hosts' disks on a tmpfs of this size (e.g. 8g): fast writes and removal",
    )
    up.set_defaults(func=_up)
    sub.add_parser("down", help="remove everything of the bed").set_defaults(func=_down)
    actions = (
        ("kill", _kill, "power cut"),
        ("boot", _boot, "power on"),
        ("cut", _cut, "unplug the cable"),
        ("heal", _heal, "plug it in"),
    )
    for name, func, text in actions:
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("index", type=int)
        if name == "boot":
            cmd.add_argument("--timeout", type=float, default=120.0)
        cmd.set_defaults(func=func)
    for name, func in (("block", _block), ("unblock", _unblock)):
        cmd = sub.add_parser(name, help=f"{name} packets from host SRC to host DST")
        cmd.add_argument("src", type=int)
        cmd.add_argument("dst", type=int)
        cmd.set_defaults(func=func)
    for name, func in (("allow", _allow), ("disallow", _disallow)):
        cmd = sub.add_parser(name, help=f"{name} the hosts to reach PORT on the bridge address")
        cmd.add_argument("port", type=int)
        cmd.set_defaults(func=func)
    ssh = sub.add_parser("ssh", help="ssh to host I as root (optionally run CMD)")
    ssh.add_argument("index", type=int)
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=_ssh)
    sub.add_parser("status", help="hosts and services (JSON)").set_defaults(func=_status)
    sub.add_parser("env", help="inventory facts (JSON)").set_defaults(func=_env)
    img = sub.add_parser("image", help="build/refresh the cached root filesystem only")
    img.add_argument("--cache", type=Path, default=image.DEFAULT_CACHE)
    img.add_argument("--rebuild", action="store_true", help="build again even if cached")
    img.set_defaults(func=_image)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run one command; errors are one clear message and exit status 1."""
    args = parser().parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except BedError as exc:
        print(f"testbed: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("testbed: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
