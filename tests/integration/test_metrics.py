"""The Prometheus metrics over HTTP: the api's ``/metrics`` on uvicorn and an agent's on its
own port, parsed as Prometheus parses them, while one registration goes through (registered,
CREATE reported, credentials sent, ended); the protection of ``/metrics``; and the alert rules
and the dashboard of docs/monitoring, which may name only metrics that the scrapes hold."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.conftest import ROOT
from tests.servers import ApiServer, serve
from wod.backend.agent import Agent
from wod.backend.metrics import NO_METRICS, PrometheusAgentMetrics, serve_metrics
from wod.context import AppContext
from wod.domain.clock import FakeClock
from wod.domain.roles import Role
from wod.mail.sender import MemoryMailer
from wod.scheduler.loop import run_pass
from wod.services.admin import users as admin_users
from wod.services.mail import outbox
from wod.services.registrations import end_now
from wod.settings import Mode
from wod.web.app import create_app

ADA = {
    "workshop": "WKSHP-Python101",
    "email": "ada.lovelace@example.org",
    "name": "Ada Lovelace",
    "company": "Analytical Engines",
    "accept_terms": True,
}
MONITORING = ROOT / "docs" / "monitoring"
SCRAPER = "s3cret-scraper-token-0123456789abcdef"


class Scrape:
    """One scrape, parsed: every sample by name and labels."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.families = list(text_string_to_metric_families(text))
        self.samples = [s for family in self.families for s in family.samples]

    def __call__(self, name: str, **labels: str) -> float:
        """The sample ``name`` with exactly these labels (among others), 0 when absent."""
        found = [
            s.value
            for s in self.samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
        ]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    @property
    def names(self) -> set[str]:
        """The names of the metrics the scrape declares, with their samples' suffixes (a
        counter that counted nothing yet is declared all the same)."""
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}
        declared = {
            f.name + suffix for f in self.families for suffix in ("", *suffixes.get(f.type, ()))
        }
        return declared | {s.name for s in self.samples}


def scrape(url: str, token: str | None = None) -> Scrape:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(f"{url}/metrics", headers=headers, timeout=30)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return Scrape(answer.text)


@pytest.fixture
def agent_metrics(agent: Agent) -> Iterator[PrometheusAgentMetrics]:
    """The agent's metrics served on a free port of the loopback."""
    served = serve_metrics("127.0.0.1", 0)
    served.stop()  # port 0 means "off" for the setting: nothing was served
    assert served is NO_METRICS
    metrics = PrometheusAgentMetrics("127.0.0.1", 0)
    agent.metrics = metrics
    yield metrics
    metrics.stop()


def register(server: ApiServer) -> int:
    answer = httpx.post(f"{server.url}/api/v1/registrations", json=ADA, timeout=30)
    assert answer.status_code == 201, answer.text
    rid: int = answer.json()["id"]
    return rid


def test_the_figures_move_as_a_registration_goes_through(
    ctx: AppContext,
    server: ApiServer,
    agent: Agent,
    agent_metrics: PrometheusAgentMetrics,
    clock: FakeClock,
    mailer: MemoryMailer,
) -> None:
    before = scrape(server.url)
    assert before("wod_seats", location="local", state="free") == 20
    assert before("wod_registrations", workshop="WKSHP-Python101", state="queued") == 0
    assert before("wod_build_info", version="0.1.0") == 1

    rid = register(server)
    queued = scrape(server.url)
    attempts = "wod_registration_attempts_total"
    registered = {"workshop": "WKSHP-Python101", "outcome": "registered"}
    assert queued(attempts, **registered) == before(attempts, **registered) + 1
    assert queued("wod_registrations", workshop="WKSHP-Python101", state="queued") == 1
    assert queued("wod_seats", location="local", state="reserved") == 1
    assert queued("wod_jobs", location="local", verb="CREATE", state="queued") == 1
    assert queued("wod_outbox_backlog") == 1  # the welcome
    route = {"method": "POST", "route": "/api/v1/registrations", "status": "201"}
    assert (
        queued("wod_http_requests_total", **route) == before("wod_http_requests_total", **route) + 1
    )

    clock.advance(timedelta(seconds=30))  # the agent takes its time
    waiting = scrape(server.url)
    assert waiting("wod_location_oldest_job_wait_seconds", location="local") == 30
    assert waiting("wod_outbox_oldest_seconds") == 30

    assert agent.run_once() is True  # CREATE, reported over HTTP
    created = scrape(server.url)
    done = {"verb": "CREATE", "outcome": "done"}
    assert created("wod_job_attempts_total", **done) == before("wod_job_attempts_total", **done) + 1
    count = "wod_job_duration_seconds_count"
    assert created(count, **done) == before(count, **done) + 1
    assert created("wod_registrations", workshop="WKSHP-Python101", state="active") == 1
    assert created("wod_seats", location="local", state="ready") == 1
    assert created("wod_jobs", location="local", verb="CREATE", state="done") == 1
    assert created("wod_location_oldest_job_wait_seconds", location="local") == 0
    assert created("wod_location_last_contact_age_seconds", location="local") == 0
    assert created("wod_location_silent", location="local") == 0
    assert created("wod_outbox_backlog") == 2  # the welcome and the credentials
    on_agent = scrape(f"http://127.0.0.1:{agent_metrics.port}")
    assert on_agent("wod_agent_jobs_total", verb="CREATE", outcome="ok") == 1
    assert on_agent("wod_agent_job_duration_seconds_count", verb="CREATE", outcome="ok") == 1
    assert on_agent("wod_agent_build_info", version="0.1.0") == 1

    assert outbox.send_due(ctx) == 2
    sent = scrape(server.url)
    for kind in ("welcome", "credentials"):
        emails = "wod_emails_sent_total"
        assert sent(emails, kind=kind) == before(emails, kind=kind) + 1
    assert sent("wod_provision_seconds_count") == before("wod_provision_seconds_count") + 1
    # registered 30 s before the CREATE was reported, and the email sent at once (fake clock)
    assert sent("wod_provision_seconds_sum") == before("wod_provision_seconds_sum") + 30
    assert sent("wod_outbox_backlog") == 0 and sent("wod_outbox_oldest_seconds") == 0
    assert sent("wod_outbox_emails", state="sent") == 2

    end_now(ctx, rid, by_admin=True)
    assert agent.run_once() is True  # CLEANUP
    ended = scrape(server.url)
    assert ended("wod_registrations", workshop="WKSHP-Python101", state="ended") == 1
    assert ended("wod_registrations", workshop="WKSHP-Python101", state="active") == 0
    assert ended("wod_seats", location="local", state="free") == 20
    cleaned = {"verb": "CLEANUP", "outcome": "done"}
    was = before("wod_job_attempts_total", **cleaned)
    assert ended("wod_job_attempts_total", **cleaned) == was + 1
    on_agent = scrape(f"http://127.0.0.1:{agent_metrics.port}")
    assert on_agent("wod_agent_jobs_total", verb="CLEANUP", outcome="ok") == 1

    passes = ended("wod_scheduler_pass_seconds_count")
    run_pass(ctx)
    assert scrape(server.url)("wod_scheduler_pass_seconds_count") == passes + 1
    # no person in any label or value: workshops and locations only
    for text in (ended.text, on_agent.text):
        assert "ada" not in text.lower() and "Analytical" not in text


def test_refusals_and_failures_are_counted(
    ctx: AppContext, server: ApiServer, clock: FakeClock, mailer: MemoryMailer
) -> None:
    ctx.settings.registration.rate_per_email = 1
    before = scrape(server.url)
    register(server)
    again = httpx.post(f"{server.url}/api/v1/registrations", json=ADA, timeout=30)
    assert again.status_code == 429
    gone = httpx.post(
        f"{server.url}/api/v1/registrations", json=ADA | {"workshop": "WKSHP-Nope"}, timeout=30
    )
    assert gone.status_code == 429  # the email's limit comes first
    ctx.settings.registration.rate_per_email = 100
    unknown = httpx.post(
        f"{server.url}/api/v1/registrations",
        json=ADA | {"workshop": "WKSHP-Nope", "email": "bob@example.org"},
        timeout=30,
    )
    assert unknown.status_code == 404
    mailer.down = True
    assert outbox.send_due(ctx) == 0  # the welcome: tried, to be tried again
    after = scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return after(name, **labels) - before(name, **labels)

    attempts = "wod_registration_attempts_total"
    assert moved(attempts, workshop="", outcome="rate_limited") == 2
    assert moved(attempts, workshop="", outcome="workshop_not_found") == 1  # never the slug
    assert after(attempts, workshop="WKSHP-Nope", outcome="workshop_not_found") == 0
    assert moved("wod_rate_limit_refusals_total", scope="email") == 2
    assert moved("wod_email_failures_total", kind="welcome", outcome="retry") == 1
    assert after("wod_outbox_backlog") == 1


def test_refused_logins_of_the_console_are_counted(ctx: AppContext, server: ApiServer) -> None:
    admin_users.create_user(ctx, "alice", "correct horse battery", Role.admin)
    before = scrape(server.url)
    with httpx.Client(base_url=server.url, timeout=30) as browser:
        browser.get("/admin/login")
        form = {"username": "alice", "password": "wrong", "csrf_token": browser.cookies["wod_csrf"]}
        assert browser.post("/admin/login", data=form).status_code == 401
        assert browser.post("/admin/login", data=form | {"csrf_token": "x"}).status_code == 403
        right = form | {"password": "correct horse battery"}
        assert browser.post("/admin/login", data=right).status_code == 303
    after = scrape(server.url)
    failures = "wod_admin_login_failures_total"
    assert after(failures, reason="credentials") == before(failures, reason="credentials") + 1
    assert after(failures, reason="csrf") == before(failures, reason="csrf") + 1
    assert after(failures, reason="rate_limited") == before(failures, reason="rate_limited")


def test_metrics_need_the_token_when_one_is_set_and_always_in_production(
    ctx: AppContext, token: str
) -> None:
    ctx.settings.metrics.token = SecretStr(SCRAPER)
    with serve(create_app(ctx, background=False)) as running:
        url = f"{running.url}/metrics"
        assert httpx.get(url, timeout=30).status_code == 401
        wrong = httpx.get(url, headers={"Authorization": "Bearer nope"}, timeout=30)
        assert wrong.status_code == 401 and wrong.json()["code"] == "not_authenticated"
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert scrape(running.url, SCRAPER)("wod_seats", location="local", state="free") == 20
        ctx.settings.metrics.token = None
        assert httpx.get(url, timeout=30).status_code == 200  # development: open
        ctx.settings.mode = Mode.production
        closed = httpx.get(url, timeout=30)
        assert closed.status_code == 401 and "metrics.token" in closed.json()["detail"]


def metric_names(expression: str) -> set[str]:
    """The metric names an expression reads (ours all start with ``wod_``)."""
    return set(re.findall(r"\bwod_[a-z0-9_]+\b", expression))


def test_the_alert_rules_and_the_dashboard_name_metrics_that_exist(
    ctx: AppContext,
    server: ApiServer,
    agent: Agent,
    agent_metrics: PrometheusAgentMetrics,
) -> None:
    register(server)
    assert agent.run_once() is True
    outbox.send_due(ctx)
    run_pass(ctx)
    names = scrape(server.url).names | scrape(f"http://127.0.0.1:{agent_metrics.port}").names
    rules = yaml.safe_load((MONITORING / "prometheus-alerts.yml").read_text())
    alerts = {r["alert"]: r for group in rules["groups"] for r in group["rules"]}
    assert {"WodLocationSilent", "WodOutboxStuck", "WodJobFailures", "WodSeatsBroken"} <= set(
        alerts
    )
    for name, rule in alerts.items():
        used = metric_names(rule["expr"])
        assert used, name
        assert used <= names, (name, used - names)
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    expressions = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(expressions) >= 8
    for expression in expressions:
        used = metric_names(expression)
        assert used and used <= names, (expression, used - names)
