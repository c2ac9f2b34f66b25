"""The agent's Prometheus metrics, served on ``backend.metrics_port`` (off by default) at
``GET /metrics``, without authentication: bind them to a private address
(``backend.metrics_host``, the loopback by default).

``prometheus_client`` is imported only when the port is on: an agent without metrics loads
no more than it needs. Labels are verbs, outcomes and the version: never a seat's holder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from wod import __version__
from wod.errors import ConfigError

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client import CollectorRegistry, Counter, Histogram

#: Job durations on a hub host: seconds (a PURGE) to many minutes (a CREATE with appliances).
DURATION_BUCKETS = (1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800)


class AgentMetrics:
    """What the agent observes. This base observes nothing: the metrics are off."""

    def job_ran(self, verb: str, ok: bool, seconds: float) -> None:
        """A job of ``verb`` ran for ``seconds``; ``ok``: it succeeded."""

    def heartbeat_failed(self) -> None:
        """A heartbeat did not reach the api."""

    def stop(self) -> None:
        """Stop serving the metrics."""


#: The agent's metrics while ``backend.metrics_port`` is 0.
NO_METRICS = AgentMetrics()


class PrometheusAgentMetrics(AgentMetrics):
    """The agent's metrics, served over HTTP on ``host``:``port`` (0: a free port) until
    :meth:`stop`."""

    registry: CollectorRegistry
    jobs: Counter
    durations: Histogram
    heartbeat_failures: Counter
    server: WSGIServer

    def __init__(self, host: str, port: int) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram, Info
        from prometheus_client.exposition import start_http_server

        self.registry = CollectorRegistry()
        self.jobs = Counter(
            "wod_agent_jobs",
            "Jobs this agent ran, by verb and outcome (ok, failed).",
            ["verb", "outcome"],
            registry=self.registry,
        )
        self.durations = Histogram(
            "wod_agent_job_duration_seconds",
            "Time this agent took to run a job, by verb and outcome.",
            ["verb", "outcome"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        self.heartbeat_failures = Counter(
            "wod_agent_heartbeat_failures",
            "Heartbeats that did not reach the api.",
            registry=self.registry,
        )
        Info("wod_agent_build", "The version of wod this agent runs.", registry=self.registry).info(
            {"version": __version__}
        )
        for verb in ("CREATE", "CLEANUP", "RESET", "PURGE"):
            for outcome in ("ok", "failed"):
                self.jobs.labels(verb, outcome)
        try:
            self.server, _ = start_http_server(port, host, registry=self.registry)
        except OSError as exc:
            raise ConfigError(
                f"backend.metrics_port: cannot listen on {host}:{port}: {exc}"
            ) from exc

    @property
    def port(self) -> int:
        """The port the metrics are served on."""
        return int(self.server.server_port)

    def job_ran(self, verb: str, ok: bool, seconds: float) -> None:
        outcome = "ok" if ok else "failed"
        self.jobs.labels(verb, outcome).inc()
        self.durations.labels(verb, outcome).observe(max(seconds, 0.0))

    def heartbeat_failed(self) -> None:
        self.heartbeat_failures.inc()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve_metrics(host: str, port: int) -> AgentMetrics:
    """The agent's metrics served on ``host``:``port``, or :data:`NO_METRICS` when ``port`` is
    0 (the setting's "off")."""
    return PrometheusAgentMetrics(host, port) if port else NO_METRICS
