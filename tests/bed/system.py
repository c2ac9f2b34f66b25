"""Process, progress and polling helpers for the test bed (stdlib only, run as root)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")

# Tool -> Debian package that brings it. Checked before anything is created.
TOOLS: dict[str, str] = {
    "debootstrap": "debootstrap",
    "systemd-nspawn": "systemd-container",
    "apt-cacher-ng": "apt-cacher-ng",
    "zstd": "zstd",
    "nft": "nftables",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "unshare": "util-linux",
    "setsid": "util-linux",
}
POLICY_RC = Path("/usr/sbin/policy-rc.d")
# Debian's maintainer scripts ask this file whether to start a service; 101 means "no".
POLICY_RC_TEXT = "#!/bin/sh\n# written by the wod test bed while it installs packages\nexit 101\n"


class BedError(RuntimeError):
    """A step of the test bed failed; the message names the step and what to look at."""


_T0 = time.monotonic()


def say(message: str) -> None:
    """Print one progress line on stderr, stamped with the time since start."""
    print(f"[testbed {time.monotonic() - _T0:7.1f}s] {message}", file=sys.stderr, flush=True)


@contextmanager
def step(what: str) -> Iterator[None]:
    """Announce a long step and report how long it took (or that it failed)."""
    say(f"{what} ...")
    start = time.monotonic()
    try:
        yield
    except BaseException:
        say(f"{what}: FAILED after {time.monotonic() - start:.1f} s")
        raise
    say(f"{what}: done in {time.monotonic() - start:.1f} s")


def run(
    argv: Sequence[str | Path],
    *,
    check: bool = True,
    timeout: float | None = 120,
    input_text: str | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a command, capture its output; on failure raise BedError with its stderr."""
    args = [str(a) for a in argv]
    full_env = {**os.environ, **env} if env else None
    try:
        proc = subprocess.run(
            args,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input_text,
            env=full_env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BedError(f"command timed out after {timeout} s: {' '.join(args)}") from exc
    except FileNotFoundError as exc:
        raise BedError(f"command not found: {args[0]}") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-2000:]
        raise BedError(f"command failed ({proc.returncode}): {' '.join(args)}\n{detail}")
    return proc


def wait_until(
    check: Callable[[], T | None], timeout: float, what: str, interval: float = 0.1
) -> T:
    """Poll ``check`` until it returns something truthy; BedError naming ``what`` after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise BedError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def ensure_tools(tools: Mapping[str, str] = TOOLS) -> None:
    """Install, quietly and only when missing, the Debian packages that bring ``tools``."""
    missing = sorted({pkg for tool, pkg in tools.items() if shutil.which(tool) is None})
    if not missing:
        return
    with step(f"installing missing packages: {' '.join(missing)}"):
        apt_install(missing)
    still = [tool for tool in tools if shutil.which(tool) is None]
    if still:
        raise BedError(f"tools still missing after apt-get install: {', '.join(still)}")


def apt_install(packages: Sequence[str]) -> None:
    """apt-get install without letting any package start a system-wide service."""
    ours = not POLICY_RC.exists()
    if ours:
        # Never overwrite an existing policy: write one only if none is there, remove it after.
        POLICY_RC.write_text(POLICY_RC_TEXT)
        POLICY_RC.chmod(0o755)
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    try:
        result = run(
            ["apt-get", "install", "-y", "-q", *packages], check=False, timeout=900, env=env
        )
        if result.returncode != 0:
            # Lists may be missing or stale on a fresh machine: refresh once and retry.
            run(["apt-get", "update", "-q"], timeout=600, env=env)
            run(["apt-get", "install", "-y", "-q", *packages], timeout=900, env=env)
    finally:
        if ours:
            POLICY_RC.unlink(missing_ok=True)


@dataclass(frozen=True)
class Proc:
    """A process this bed started, identified by pid and kernel start time (pids get reused)."""

    pid: int
    start: int

    @classmethod
    def of(cls, pid: int) -> Proc:
        """The process with this pid as it is now."""
        return cls(pid, start_time(pid))

    def alive(self) -> bool:
        """Still the same process, and not a zombie."""
        try:
            fields = _stat_fields(self.pid)
        except OSError:
            return False
        return fields[0] != "Z" and int(fields[19]) == self.start

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``; only if it is still our process."""
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            if not self.alive():
                return
            os.kill(self.pid, sig)
            deadline = time.monotonic() + wait
            while self.alive() and time.monotonic() < deadline:
                time.sleep(0.05)
        if self.alive():
            raise BedError(f"process {self.pid} survived SIGKILL")


def _stat_fields(pid: int) -> list[str]:
    # The command name in /proc/PID/stat may hold spaces: split after its closing parenthesis.
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def start_time(pid: int) -> int:
    """Kernel start time of ``pid`` in clock ticks (field 22 of /proc/PID/stat), 0 if gone."""
    try:
        return int(_stat_fields(pid)[19])
    except (OSError, IndexError, ValueError):
        return 0


def spawn_daemon(
    argv: Sequence[str | Path],
    *,
    log: Path,
    pid_file: Path,
    cgroup_procs: Sequence[Path] = (),
    env: Mapping[str, str] | None = None,
) -> Proc:
    """Start ``argv`` detached (own session, reparented to init) and return it.

    A shell joins the given cgroups, records its pid and execs the command, so the pid we
    record is the daemon's own. Detaching means no zombie is left in a long-lived caller
    (pytest) and the daemon outlives a CLI call.
    """
    pid_file.unlink(missing_ok=True)
    joins = "".join(f'echo $$ > "{p}" && ' for p in cgroup_procs)
    script = f'{joins}echo $$ > "{pid_file}" && exec "$@"'
    full_env = {**os.environ, **(env or {})}
    with log.open("ab") as out:
        subprocess.run(
            ["setsid", "--fork", "/bin/sh", "-c", script, "sh", *map(str, argv)],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=full_env,
            check=True,
        )
    pid = wait_until(lambda: _read_pid(pid_file), 10, f"{argv[0]} to start (log {log})", 0.02)
    return Proc.of(pid)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    return int(text) if text.isdigit() else None


def tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a text file, without terminal colour codes."""
    try:
        data = path.read_bytes()[-20000:].decode(errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    clean = _strip_ansi(data).replace("\r", "")
    return "\n".join(clean.splitlines()[-lines:])


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
