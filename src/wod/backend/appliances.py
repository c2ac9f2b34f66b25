"""Appliances: the original platform's generic helpers (``create-appliance.sh``,
``reset-appliance.sh``) as a step of the verbs, for workshops with ``monoappliance`` or
``multiappliance`` (docs/howto/appliances.md).

At CREATE the seat gets an ed25519 key pair in its home (``~/.ssh/id_ed25519``, mode 0600, the
seat's own). When the agent has ``appliance.ssh_key_file``, it also gives the seat an account on
its appliance (``WODRTARGET``): created when missing, its home reset from ``/etc/skel``, the
seat's public key its only authorized key, and the appliance's host key goes into the seat's
``~/.ssh/known_hosts``. At CLEANUP, RESET and PURGE the account is locked (its keys removed, its
processes ended) and its home wiped. The agent logs in as ``appliance.user`` with its own key,
host keys checked; the hooks get the same connection as ``WOD_APPLIANCE_SSH_CONFIG`` (host
``appliance``). Nothing secret crosses: the seat's private key never leaves the hub host.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import shlex
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from wod.errors import VerbError
from wod.settings import ApplianceSettings

#: The host name of the appliance in the ssh config the agent writes (for itself and the hooks).
ALIAS = "appliance"
#: The environment variable that gives the hooks that ssh config.
SSH_CONFIG_ENV = "WOD_APPLIANCE_SSH_CONFIG"
KEY_NAME = "id_ed25519"
Owner = tuple[int, int] | None

# Run on the appliance by `sh -s -- USER KEY`: the account exists (created without a password:
# keys only), its processes end, its home starts again from /etc/skel with KEY as its only
# authorized key. Refuses system accounts and homes that are not a folder of their own.
_CHECKS = r"""
uid=$(id -u "$user")
if [ "$uid" -lt 1000 ]; then
  echo "$user is a system account (uid $uid): not touched" >&2; exit 3
fi
home=$(getent passwd "$user" | cut -d: -f6)
case "$home" in
  /*/*) ;;
  *) echo "$user has no home folder of its own ($home): not touched" >&2; exit 3 ;;
esac
if [ -L "$home" ]; then echo "the home of $user is a symbolic link: not touched" >&2; exit 3; fi
pkill -KILL -u "$user" 2>/dev/null || true
crontab -r -u "$user" 2>/dev/null || true
"""
_FRESH_HOME = r"""
mkdir -p "$home"
find "$home" -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +
if [ -d /etc/skel ]; then cp -a /etc/skel/. "$home/"; fi
"""
INSTALL = (
    r"""set -eu
user=$1 key=$2
if ! id -u "$user" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash --password '*' "$user"
  echo "account $user created"
elif grep -q "^$user:" /etc/passwd; then
  usermod --password '*' "$user"  # keys only: no password of an earlier holder works
fi
"""
    + _CHECKS
    + _FRESH_HOME
    + r"""mkdir -p "$home/.ssh"
printf '%s\n' "$key" > "$home/.ssh/authorized_keys"
chown -R "$user:$(id -gn "$user")" "$home"
chmod 0750 "$home"
chmod 0700 "$home/.ssh"
chmod 0600 "$home/.ssh/authorized_keys"
echo "home of $user reset from /etc/skel, the seat's key is its only authorized key"
"""
)
# Run by `sh -s -- USER keep|wipe`: the account's keys go and its processes end; with `wipe`
# its home starts again from /etc/skel.
RELEASE = (
    r"""set -eu
user=$1 mode=$2
if ! id -u "$user" >/dev/null 2>&1; then echo "no account $user: nothing to do"; exit 0; fi
"""
    + _CHECKS
    + r"""rm -f "$home/.ssh/authorized_keys" "$home/.ssh/authorized_keys2"
if [ "$mode" = keep ]; then echo "keys of $user removed, its home kept for RESET"; exit 0; fi
"""
    + _FRESH_HOME
    + r"""chown -R "$user:$(id -gn "$user")" "$home"
echo "home of $user wiped, its keys removed"
"""
)


@dataclass(frozen=True)
class SeatKey:
    """The seat's public key (an OpenSSH line) and its fingerprint, for the job log."""

    public: str
    fingerprint: str


def fingerprint(public: str) -> str:
    """``SHA256:…`` of an OpenSSH public key line, as ``ssh-keygen -l`` prints it."""
    blob = base64.b64decode(public.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def make_seat_key(home: Path, username: str, owner: Owner) -> SeatKey:
    """A new ed25519 key pair in ``home/.ssh`` (the private key 0600), owned by ``owner``;
    it replaces the seat's earlier one."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(Encoding.PEM, PrivateFormat.OpenSSH, NoEncryption())
    public = key.public_key().public_bytes(Encoding.OpenSSH, PublicFormat.OpenSSH).decode()
    public = f"{public} {username}@wod"
    folder = _ssh_folder(home, owner)
    _write(folder / KEY_NAME, private, 0o600, owner)
    _write(folder / f"{KEY_NAME}.pub", (public + "\n").encode(), 0o644, owner)
    return SeatKey(public, fingerprint(public))


def add_known_hosts(home: Path, lines: list[str], owner: Owner) -> int:
    """Add ``lines`` to the seat's ``~/.ssh/known_hosts`` (those it lacks); how many."""
    path = _ssh_folder(home, owner) / "known_hosts"
    if path.is_symlink():
        raise VerbError(f"{path} is a symbolic link: refused")
    present = path.read_text().splitlines() if path.is_file() else []
    missing = [line for line in lines if line not in present]
    if missing:
        _write(path, "".join(f"{line}\n" for line in [*present, *missing]).encode(), 0o644, owner)
    return len(missing)


def _ssh_folder(home: Path, owner: Owner) -> Path:
    folder = home / ".ssh"
    if folder.is_symlink():  # the skeleton's, never a participant's: the home was just reset
        raise VerbError(f"{folder} is a symbolic link: refused")
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.chmod(0o700)
    if owner is not None:
        os.chown(folder, *owner)
    return folder


def _write(path: Path, data: bytes, mode: int, owner: Owner) -> None:
    """Write ``path`` whole or not at all, with its mode and owner set before it appears."""
    handle, scratch = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            os.fchmod(stream.fileno(), mode)
            if owner is not None:
                os.fchown(stream.fileno(), *owner)
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def _quoted(path: Path) -> str:
    return '"' + str(path).replace('"', "") + '"'


class Appliance:
    """One appliance as the agent reaches it: ``ssh -F CONFIG appliance``, the config written
    into ``scratch`` (a private folder of the job)."""

    def __init__(self, settings: ApplianceSettings, target: str, scratch: Path) -> None:
        if settings.ssh_key_file is None:
            raise VerbError("appliance.ssh_key_file is not set: the agent cannot log in")
        if not re.fullmatch(r"[A-Za-z0-9.:_-]+", target):
            raise VerbError(f"{target!r} is not an appliance address")
        self.settings = settings
        self.target = target
        self.key_file = settings.ssh_key_file
        self.config = scratch / f"ssh_config-{target.replace(':', '_')}"
        self.config.write_text(self._config_text())

    @property
    def known_hosts(self) -> Path:
        return self.settings.known_hosts_file or Path.home() / ".ssh" / "known_hosts"

    def _config_text(self) -> str:
        strict = "yes" if self.settings.known_hosts_file is not None else "accept-new"
        if strict == "accept-new":  # ssh records the first key it meets there
            self.known_hosts.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        return (
            f"Host {ALIAS}\n"
            f"  HostName {self.target}\n"
            f"  User {self.settings.user}\n"
            f"  Port {self.settings.port}\n"
            f"  IdentityFile {_quoted(self.key_file)}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {_quoted(self.known_hosts)}\n"
            f"  StrictHostKeyChecking {strict}\n"
            "  BatchMode yes\n"
            f"  ConnectTimeout {max(1, round(self.settings.connect_timeout))}\n"
            "  ServerAliveInterval 15\n"
            "  LogLevel ERROR\n"
        )

    def run(self, script: str, args: list[str], what: str, log: Callable[[str], None]) -> None:
        """Run ``script`` with ``args`` on the appliance (with sudo unless the agent logs in
        as root); its output into the log. A refusal or a failure is a :class:`VerbError`
        naming the appliance."""
        shell = "sh -s --" if self.settings.user == "root" else "sudo -n sh -s --"
        remote = " ".join([shell, *(shlex.quote(a) for a in args)])
        argv = ["ssh", "-F", str(self.config), ALIAS, remote]
        started = time.monotonic()
        try:
            result = subprocess.run(
                argv,
                input=script,
                capture_output=True,
                text=True,
                timeout=self.settings.command_timeout,
                check=False,
            )
        except FileNotFoundError as exc:
            raise VerbError(
                f"appliance {self.target}: no ssh client on this host (openssh-client)"
            ) from exc
        except subprocess.TimeoutExpired as exc:
            raise VerbError(
                f"appliance {self.target}: {what} timed out after "
                f"{self.settings.command_timeout:.0f} s"
            ) from exc
        for line in (result.stdout + result.stderr).splitlines():
            log(f"  | {line}")
        errors = result.stderr.strip().splitlines()
        reason = errors[-1] if errors else f"exit {result.returncode}"
        if result.returncode == 255:  # ssh's own failure: unreachable, host key, refused key
            raise VerbError(
                f"appliance {self.target}: cannot log in as {self.settings.user}: {reason}"
            )
        if result.returncode != 0:
            raise VerbError(f"appliance {self.target}: {what} failed: {reason}")
        log(f"appliance {self.target}: {what} done in {time.monotonic() - started:.2f} s")

    def install(self, username: str, key: SeatKey, log: Callable[[str], None]) -> None:
        """The seat's account on the appliance, with a fresh home and ``key`` as its only
        authorized key."""
        log(f"appliance {self.target}: preparing {username} as {self.settings.user}")
        self.run(INSTALL, [username, key.public], f"account {username}", log)

    def release(self, username: str, *, keep_home: bool, log: Callable[[str], None]) -> None:
        """Lock the seat's account on the appliance out (keys removed, processes ended) and,
        unless ``keep_home``, wipe its home."""
        mode = "keep" if keep_home else "wipe"
        what = f"{'lock' if keep_home else 'wipe'} of {username}"
        self.run(RELEASE, [username, mode], what, log)

    def host_key_lines(self) -> list[str]:
        """The appliance's lines of the agent's known hosts (to give the seat), or none."""
        host = self.target if self.settings.port == 22 else f"[{self.target}]:{self.settings.port}"
        try:
            result = subprocess.run(
                ["ssh-keygen", "-F", host, "-f", str(self.known_hosts)],
                capture_output=True,
                text=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired):
            return []
        return [
            line for line in result.stdout.splitlines() if line.strip() and not line.startswith("#")
        ]
