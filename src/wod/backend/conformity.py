"""``wod backend check`` and ``wod backend seats sync``: is this hub host as it should be, and
making it so. Checked: the students folder, what the host mode checks (:mod:`wod.hub.modes`:
the credentials folder in hub mode; the Linux accounts with their uids and the seats'
environment in system mode), the seat homes (mode 0700, owned by their seat), the hub
(reachable with the service token), the hook scripts (executable) and the agent's key to the
appliances (present, private)."""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from wod.content.layers import Content
from wod.hub.modes import Finding, HostMode
from wod.settings import Settings

#: Called with the number of seats done since the last call.
Progress = Callable[[int], None]
HOOK_PREFIXES = ("create-", "post-copy-", "cleanup-", "reset-", "setup-")


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    def add(self, what: str, repair: Callable[[], None] | None = None) -> None:
        self.findings.append(Finding(what, repair))


def _seat_home(report: Report, mode: HostMode, home: Path, username: str) -> None:
    if not home.exists():
        return  # made by CREATE
    info = home.stat()
    if stat.S_IMODE(info.st_mode) != 0o700:
        report.add(
            f"{home}: mode {stat.S_IMODE(info.st_mode):o}, expected 700", lambda: home.chmod(0o700)
        )
    owner = mode.accounts.owner(username)
    if owner is not None and (info.st_uid, info.st_gid) != owner:
        report.add(
            f"{home}: owned by {info.st_uid}, expected {owner[0]}", lambda: os.chown(home, *owner)
        )


def check_host(
    settings: Settings,
    mode: HostMode,
    seats: range,
    *,
    progress: Progress | None = None,
    hub_probe: Callable[[], str | None] | None = None,
) -> Report:
    """Every deviation from the expected state, each with its repair when one is safe."""
    report = Report()
    backend = settings.backend
    if not backend.students_dir.is_dir():
        report.add(
            f"{backend.students_dir}: missing",
            lambda: backend.students_dir.mkdir(mode=0o711, parents=True),
        )
    report.findings.extend(mode.check_host())
    for count, number in enumerate(seats, start=1):
        username = f"student{number}"
        home = backend.students_dir / username
        found = mode.check_seat(number, username, home)
        report.findings.extend(found)
        if not found:
            _seat_home(report, mode, home, username)
        if progress is not None and count % 50 == 0:
            progress(50)
    if progress is not None:
        progress(len(seats) % 50)
    _check_hooks(report, settings)
    _check_appliance(report, settings)
    if hub_probe is not None and (problem := hub_probe()) is not None:
        report.add(problem)
    return report


def _check_hooks(report: Report, settings: Settings) -> None:
    for layer in Content(settings.content.paths).layers:
        for script in sorted((layer.path / "scripts").glob("*.sh")):
            if not script.name.startswith(HOOK_PREFIXES):
                continue  # e.g. a compile script: not run as a hook
            if not os.access(script, os.X_OK):
                report.add(
                    f"{script}: not executable (it runs with bash)", _make_executable(script)
                )


def _check_appliance(report: Report, settings: Settings) -> None:
    """The agent's key to the appliances and their host keys, when it manages their accounts."""
    appliance = settings.appliance
    key = appliance.ssh_key_file
    if key is None:
        return
    if not key.is_file():
        report.add(f"appliance.ssh_key_file {key}: missing")
    elif stat.S_IMODE(key.stat().st_mode) & 0o077:
        mode = stat.S_IMODE(key.stat().st_mode)
        report.add(f"{key}: mode {mode:o}, expected 600 (ssh refuses it)", lambda: key.chmod(0o600))
    known = appliance.known_hosts_file
    if known is not None and not known.is_file():
        report.add(f"appliance.known_hosts_file {known}: missing")
    if shutil.which("ssh") is None:
        report.add("appliance.ssh_key_file is set but there is no ssh client (openssh-client)")


def _make_executable(script: Path) -> Callable[[], None]:
    return lambda: script.chmod(script.stat().st_mode | 0o111)


def probe_hub(settings: Settings) -> str | None:
    """A problem reaching the hub's api with the service token, or None."""
    try:
        answer = httpx.get(
            f"{settings.hub.api_url}/users",
            timeout=10,
            headers={"Authorization": f"token {settings.hub.api_token.get_secret_value()}"},
        )
    except httpx.HTTPError as exc:
        return f"hub {settings.hub.api_url}: unreachable ({exc})"
    if answer.status_code != 200:
        return f"hub {settings.hub.api_url}: answered {answer.status_code} to the service token"
    return None


def repair(report: Report) -> Report:
    """Apply every safe repair; what stays is what needs a person."""
    left = Report(repaired=list(report.repaired))
    for finding in report.findings:
        if finding.repair is None:
            left.findings.append(finding)
            continue
        try:
            finding.repair()
            left.repaired.append(finding.what)
        except Exception as exc:  # keep going: report what could not be repaired
            left.add(f"{finding.what} (repair failed: {exc})")
    return left
