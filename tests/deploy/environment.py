"""An environment of the deploy tests: made by ``wod init``, its hosts those of a test bed,
deployed with ``wod deploy`` as an operator would (a subprocess of this venv's wod)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tests.bed import Testbed

#: A deploy from bare hosts takes 3-5 minutes here; on a loaded machine it may take twice that.
DEPLOY_TIMEOUT = 1500.0


@dataclass(frozen=True)
class Hub:
    """A hub host of the bed: its index, location and seats."""

    index: int
    location: str
    seats: str = "1-3"


@dataclass
class DeployRun:
    """One ``wod deploy``: exit code, output, the JSON report, how long it took."""

    rc: int
    output: str
    report: dict[str, Any]
    seconds: float

    def changed(self, host: str) -> int:
        """The recap's changed= of ``host``."""
        return int(next(h["changed"] for h in self.report["hosts"] if h["host"] == host))

    def changes(self, host: str | None = None) -> list[str]:
        """``task (path)`` of each change (of ``host``)."""
        return [
            f"{c['task']} ({c['path']})"
            for c in self.report.get("changes", [])
            if host is None or c["host"] == host
        ]


def wod(*args: str, env: dict[str, str] | None = None, timeout: float = 120.0) -> str:
    """Run this venv's ``wod``; its output (AssertionError with it when it fails)."""
    result = subprocess.run(
        [sys.executable, "-m", "wod", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert result.returncode == 0, f"wod {' '.join(args)}: {result.stdout}{result.stderr}"
    return result.stdout


@dataclass
class Environment:
    """An environment folder (inventory) with its vault password file."""

    folder: Path
    password_file: Path
    source: Path

    @classmethod
    def init(cls, base: Path, source: Path, name: str = "test") -> Environment:
        """``wod init NAME --path base/NAME`` with a fresh vault password."""
        password_file = base / f"{name}.vault-pass"
        password_file.write_text(os.urandom(12).hex() + "\n")
        password_file.chmod(0o600)
        folder = base / name
        wod("init", name, "--path", str(folder), "--vault-password-file", str(password_file))
        return cls(folder, password_file, source)

    @property
    def main_vars(self) -> Path:
        return self.folder / "group_vars" / "all" / "main.yml"

    def settings(self, **values: Any) -> None:
        """Set variables of group_vars/all/main.yml (the file keeps the example's comments
        only for the variables not given here)."""
        data = yaml.safe_load(self.main_vars.read_text()) or {}
        data.update(values)
        self.main_vars.write_text(yaml.safe_dump(data, sort_keys=False))

    def hosts(
        self,
        bed: Testbed,
        *,
        db: int,
        api: int,
        hubs: list[Hub],
        appliances: dict[int, list[str]] | None = None,
        monitoring: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        """hosts.yml for the bed's hosts: db and api by index, hubs with their locations,
        appliances with the workshops whose setup hooks they run, the monitoring host with
        its variables."""
        self.inventory(
            bed,
            db=db,
            api=api,
            hubs={h.index: self.hub_vars(bed, h) for h in hubs},
            appliances={
                i: {"wod_seats": "1-3", "wod_appliance_workshops": w}
                for i, w in (appliances or {}).items()
            },
            monitoring=monitoring,
        )

    @staticmethod
    def hub_vars(bed: Testbed, hub: Hub) -> dict[str, Any]:
        host = bed.host(hub.index)
        return {
            "wod_location": hub.location,
            "wod_seats": hub.seats,
            "wod_hub_public_url": f"https://{host.address}",
        }

    def inventory(
        self,
        bed: Testbed,
        *,
        db: int,
        api: int,
        hubs: dict[int, dict[str, Any]],
        appliances: dict[int, dict[str, Any]] | None = None,
        monitoring: dict[int, dict[str, Any]] | None = None,
    ) -> None:
        """hosts.yml with any variables per hub host (a test leaves some out on purpose)."""
        env = bed.env()

        def entry(i: int, extra: dict[str, Any] | None = None) -> dict[str, Any]:
            return {"ansible_host": bed.host(i).address, **(extra or {})}

        ssh = f"-o UserKnownHostsFile={env['known_hosts']} -o StrictHostKeyChecking=yes"
        data = {
            "all": {
                "vars": {
                    "ansible_user": "root",
                    "ansible_ssh_private_key_file": env["private_key"],
                    "ansible_ssh_common_args": f"{ssh} -o ConnectTimeout=10",
                },
                "children": {
                    "wod_db": {"hosts": {f"h{db}": entry(db)}},
                    "wod_api": {"hosts": {f"h{api}": entry(api)}},
                    "wod_hubs": {"hosts": {f"h{i}": entry(i, v) for i, v in hubs.items()}},
                    "wod_appliances": {
                        "hosts": {f"h{i}": entry(i, v) for i, v in (appliances or {}).items()}
                    },
                    "wod_monitoring": {
                        "hosts": {f"h{i}": entry(i, v) for i, v in (monitoring or {}).items()}
                    },
                },
            }
        }
        (self.folder / "hosts.yml").write_text(yaml.safe_dump(data, sort_keys=False))

    def deploy(
        self,
        *args: str,
        source: Path | None = None,
        password_file: Path | None = None,
        timeout: float = DEPLOY_TIMEOUT,
    ) -> DeployRun:
        """``wod deploy -i FOLDER ARGS``: never raises for a failed run (tests look at it)."""
        report = self.folder.parent / f"report-{time.monotonic_ns()}.json"
        argv = [sys.executable, "-m", "wod", "deploy", "-i", str(self.folder)]
        argv += ["--vault-password-file", str(password_file or self.password_file)]
        argv += ["--source", str(source or self.source), "--report", str(report), *args]
        start = time.monotonic()
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        seconds = time.monotonic() - start
        output = result.stdout + result.stderr
        with (self.folder.parent / "deploy.log").open("a") as log:  # kept for a failure's story
            log.write(f"$ {' '.join(argv)}\n{output}\n")
        data = json.loads(report.read_text()) if report.exists() else {}
        return DeployRun(result.returncode, output, data, seconds)


def bed_settings(bed: Testbed, content: Path, smtp_port: int, api_host: int = 1) -> dict[str, Any]:
    """The settings of a test environment on the bed: self-signed TLS, the test's SMTP catcher,
    the test content repository, short silence and heartbeat delays."""
    return {
        "wod_public_url": f"https://{bed.host(api_host).address}",
        "wod_tls_self_signed": True,
        "wod_smtp": {"host": bed.gateway, "port": smtp_port, "security": "none"},
        "wod_alert_recipients": ["ops@example.org"],
        "wod_content_layers": [
            {"name": "public", "repo": str(content), "path": "", "revision": "HEAD"}
        ],
        # The bed's image masks the apt timers: a timer running apt during a test would take
        # the dpkg lock from the deploy.
        "wod_apt_timers": False,
    }
