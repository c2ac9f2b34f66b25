"""What a deployment did, from the JSON report that the ``wod_report`` callback of
``deploy/callback_plugins`` writes at the end of ``ansible-playbook``."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from wod.errors import Failure


@dataclass(frozen=True)
class HostStats:
    """One host's line of the play recap."""

    host: str
    ok: int
    changed: int
    failed: int
    unreachable: int
    skipped: int

    def line(self) -> str:
        """``h1  ok=40 changed=0 unreachable=0 failed=0 skipped=3``"""
        return (
            f"{self.host:20} ok={self.ok:<4} changed={self.changed:<4} "
            f"unreachable={self.unreachable:<2} failed={self.failed:<2} skipped={self.skipped}"
        )


@dataclass(frozen=True)
class Change:
    """A task that changed (or, in check mode, would change) something on a host."""

    host: str
    task: str
    role: str
    path: str

    def line(self) -> str:
        where = f" ({self.path})" if self.path else ""
        role = f"{self.role} : " if self.role else ""
        return f"{self.host}: {role}{self.task}{where}"


@dataclass(frozen=True)
class Report:
    """The whole run: recap per host, changes, failures, wall time per role and play."""

    hosts: list[HostStats]
    changes: list[Change]
    failures: list[str]
    roles: dict[str, float]
    plays: list[tuple[str, float]]
    slowest: list[tuple[str, float]]
    elapsed: float
    check: bool = False

    @property
    def changed(self) -> int:
        """Changed tasks over every host."""
        return sum(h.changed for h in self.hosts)

    @property
    def ok(self) -> bool:
        """No host failed or was unreachable."""
        return all(h.failed == 0 and h.unreachable == 0 for h in self.hosts)


def read_report(path: Path) -> Report:
    """Parse the callback's report; Failure when the run ended before writing it."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise Failure(f"ansible-playbook wrote no report ({path}): it stopped early") from exc
    return Report(
        hosts=[HostStats(**h) for h in data.get("hosts", [])],
        changes=[Change(**c) for c in data.get("changes", [])],
        failures=[str(f) for f in data.get("failures", [])],
        roles={str(k): float(v) for k, v in data.get("roles", {}).items()},
        plays=[(str(p), float(t)) for p, t in data.get("plays", [])],
        slowest=[(str(n), float(t)) for n, t in data.get("slowest", [])],
        elapsed=float(data.get("elapsed", 0.0)),
        check=bool(data.get("check", False)),
    )


#: More changes than this are summed up per host (a first deploy changes hundreds of things).
LISTED_CHANGES = 40


def summary(report: Report) -> list[str]:
    """The lines ``wod deploy`` prints after the run: the recap, what changed (or would, in
    check mode: always listed, it is the drift), the failures, the time per role."""
    verb = "would change" if report.check else "changed"
    lines = ["recap:", *(f"  {h.line()}" for h in report.hosts)]
    if report.changes and (report.check or len(report.changes) <= LISTED_CHANGES):
        lines.append(f"{verb} ({len(report.changes)}):")
        lines += [f"  {c.line()}" for c in report.changes]
    elif report.changes:
        per_host = ", ".join(f"{h.host} {h.changed}" for h in report.hosts if h.changed)
        lines.append(f"{verb}: {len(report.changes)} tasks ({per_host})")
    if report.failures:
        lines.append("failed:")
        lines += [f"  {f}" for f in report.failures]
    if report.roles:
        # Roles that took no time to speak of (wod_defaults' one check) are left out.
        timed = ", ".join(f"{r} {secs:.1f} s" for r, secs in report.roles.items() if secs >= 0.05)
        lines.append(f"time per role: {timed}")
    lines.append(f"total: {report.elapsed:.1f} s")
    return lines
