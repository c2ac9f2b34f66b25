"""The monitoring host's Prometheus, through its HTTP API, as an operator (or Grafana) sees it."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import yaml

#: The alert rules the deployment ships (and installs on the monitoring host).
RULES = Path("docs/monitoring/prometheus-alerts.yml")


class Prometheus:
    """``GET /api/v1/…`` of one Prometheus."""

    def __init__(self, address: str, port: int = 9090) -> None:
        self.base = f"http://{address}:{port}"

    def api(self, path: str, **params: str) -> Any:
        """The ``data`` of an answer (AssertionError when it is not a success)."""
        with httpx.Client(base_url=self.base, timeout=30) as web:
            answer = web.get(f"/api/v1/{path}", params=params)
        assert answer.status_code == 200, answer.text[:500]
        body = answer.json()
        assert body["status"] == "success", body
        return body["data"]

    def targets(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The active targets by (job, instance)."""
        active = self.api("targets", state="active")["activeTargets"]
        return {(t["labels"]["job"], t["labels"]["instance"]): t for t in active}

    def health(self) -> dict[tuple[str, str], str]:
        """``up``, ``down`` or ``unknown`` of each target, with its last error when down."""
        return {
            key: t["health"] + (f": {t['lastError']}" if t.get("lastError") else "")
            for key, t in self.targets().items()
        }

    def rules(self) -> list[str]:
        """The names of the alerting rules Prometheus evaluates."""
        groups = self.api("rules", type="alert")["groups"]
        return sorted(rule["name"] for group in groups for rule in group["rules"])

    def value(self, query: str) -> dict[str, float]:
        """An instant query's result: its one label's value (or "") → the sample's value."""
        result = self.api("query", query=query)["result"]
        return {next(iter(r["metric"].values()), ""): float(r["value"][1]) for r in result}


def shipped_rules(source: Path) -> list[str]:
    """The alert names of the rule file of the deployed checkout."""
    data = yaml.safe_load((source / RULES).read_text())
    return sorted(rule["alert"] for group in data["groups"] for rule in group["rules"])


def reachable(address: str, port: int, timeout: float = 3.0) -> bool:
    """Whether a TCP connection to ``address``:``port`` opens (a firewall's drop: it does not)."""
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


#: Run on a bed host (its python3): exit 0 when the TCP connection opens, 1 otherwise.
CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], int(sys.argv[2])), 3).close()\n"
    "except OSError:\n"
    "    sys.exit(1)\n"
)
#: Run on a bed host: the status of an HTTPS GET (the host's trusted certificates), no token.
STATUS = (
    "import sys, urllib.error, urllib.request\n"
    "try:\n"
    "    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)\n"
    "except urllib.error.HTTPError as exc:\n"
    "    print(exc.code)\n"
)
