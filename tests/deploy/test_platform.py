"""From four bare hosts to a running platform, and its life: h1 = database + api, h2 and h3 =
hubs of locations a and b (3 seats each), h4 = the monitoring host (Prometheus, Alertmanager).
One bed and one deploy from bare for the module; the tests run in this order and build on
each other: Prometheus scrapes every api instance and agent, registrations (which Prometheus
then counts), an unlock link, a second deploy that changes nothing, drift, a dead host, an
upgrade that migrates the database."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.bed import Testbed
from tests.deploy.environment import Environment, Hub, bed_settings
from tests.deploy.mail import MailCatcher, text_of
from tests.deploy.platform import Platform
from tests.deploy.prometheus import CONNECT, STATUS, reachable, shipped_rules
from tests.deploy.source import commit_migration, content_repo, snapshot
from tests.deploy.web import (
    WORKSHOP,
    client,
    hub_login,
    hub_login_form,
    notebook_text,
    register_in_api,
    register_in_portal,
    wait_for,
)
from wod.settings import BackendSettings, Settings

pytestmark = pytest.mark.bed

WOD = "/opt/wod/venv/bin/wod --config /etc/wod/api.toml"
API_UNITS = ["wod-api@8001", "wod-api@8002", "nginx", "postgresql@15-main", "wod-firewall"]
HUB_UNITS = ["wod-hub", "wod-agent", "nginx", "wod-firewall"]
MONITORING_UNITS = ["prometheus", "prometheus-alertmanager", "wod-firewall"]
#: The monitoring host's ports: nginx of the api host, each agent's.
API_METRICS, AGENT_METRICS = 9180, 9464
APPLIANCE = "WKSHP-Appliance101"
#: The lead's silent-location alert (locations.silent_after, agents' heartbeat): set short here.
SILENCE = "locations" in Settings.model_fields
HEARTBEAT = "heartbeat_interval" in BackendSettings.model_fields


def _settings() -> dict[str, Any]:
    api: dict[str, Any] = {"locations": {"silent_after": 20}} if SILENCE else {}
    hub: dict[str, Any] = {"backend": {"heartbeat_interval": 5}} if HEARTBEAT else {}
    return {"wod_api_settings": api, "wod_hub_settings": hub}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    base = tmp_path_factory.mktemp("platform")
    source, content = base / "source", base / "content"
    snapshot(source)
    content_repo(content)
    bed = Testbed.create(base / "bed", memory_disks="8g")
    bed.up(4)
    prefix = bed.state.prefix
    mail = MailCatcher(bed.gateway)
    try:
        mail.start()
        bed.allow_port(mail.port)
        env = Environment.init(base, source)
        env.settings(**bed_settings(bed, content, mail.port), **_settings())
        # h3 is also the appliance of WKSHP-Appliance101: a host may hold several roles. h4
        # holds only the monitoring; this controller may open its Prometheus.
        monitoring = {
            "wod_prometheus_allowed_networks": [bed.gateway],
            "wod_prometheus_scrape_interval": "5s",
        }
        env.hosts(
            bed,
            db=1,
            api=1,
            hubs=[Hub(2, "a"), Hub(3, "b")],
            appliances={3: [APPLIANCE]},
            monitoring={4: monitoring},
        )
        first = env.deploy()
        ca = base / "ca.pem"
        ca.write_text("".join(bed.run(i, "cat /etc/wod/tls/wod.crt").stdout for i in (1, 2, 3)))
        yield Platform(bed, env, mail, ca, first)
    finally:
        mail.stop()
        bed.down()
    assert bed.leftovers(prefix) == []


def _active(bed: Testbed, i: int, units: list[str]) -> dict[str, str]:
    states = bed.run(i, ["systemctl", "is-active", *units]).stdout.split()
    return dict(zip(units, states, strict=False))


def test_deploy_from_bare_hosts(platform: Platform) -> None:
    run = platform.first
    assert run.rc == 0, run.output[-4000:]
    assert "recap:" in run.output and "changed=" in run.output
    for host in ("h1", "h2", "h3", "h4"):
        assert run.changed(host) > 0
    roles = {"db", "api", "hub", "nginx", "firewall", "location", "monitoring"}
    assert set(run.report["roles"]) >= roles
    bed = platform.bed
    assert _active(bed, 1, API_UNITS) == dict.fromkeys(API_UNITS, "active")
    for i in (2, 3):
        assert _active(bed, i, HUB_UNITS) == dict.fromkeys(HUB_UNITS, "active")
    assert _active(bed, 4, MONITORING_UNITS) == dict.fromkeys(MONITORING_UNITS, "active")
    assert bed.run(1, "systemctl is-enabled wod-db-backup.timer").stdout.strip() == "enabled"
    setup = bed.run(3, "cat /var/lib/wod/appliance-setup.log").stdout
    assert setup == f"setup of {APPLIANCE} for seat 1\n"  # its hook ran, once
    # Secrets are in the vault only: no clear value of it lies in the environment folder.
    assert "$ANSIBLE_VAULT;" in (platform.env.folder / "group_vars/all/vault.yml").read_text()


def test_the_api_and_every_hub_have_one_unlock_key_never_printed(platform: Platform) -> None:
    api = platform.settings(1, "api.toml")
    key = api["hub"]["unlock_key"]
    assert len(key) >= 32
    assert [platform.settings(i, "hub.toml")["hub"]["unlock_key"] for i in (2, 3)] == [key, key]
    token = api["metrics"]["token"]
    assert len(token) >= 32
    log = (platform.env.folder.parent / "deploy.log").read_text()
    assert key not in log and token not in log


def test_prometheus_scrapes_every_api_instance_and_agent(platform: Platform) -> None:
    bed, prometheus = platform.bed, platform.prometheus()
    expected = {
        ("wod-api", "h1:8001"),
        ("wod-api", "h1:8002"),
        ("wod-agent", "h2"),
        ("wod-agent", "h3"),
        ("prometheus", "127.0.0.1:9090"),
    }
    wait_for(
        lambda: prometheus.health() == dict.fromkeys(expected, "up"),
        120,
        "every target up in Prometheus",
    )
    labels = {k: t["labels"] for k, t in prometheus.targets().items()}
    assert labels[("wod-agent", "h2")]["location"] == "a"
    assert prometheus.rules() == shipped_rules(platform.env.source)
    wait_for(
        lambda: (
            [a["url"] for a in prometheus.api("alertmanagers")["activeAlertmanagers"]]
            == ["http://127.0.0.1:9093/api/v2/alerts"]
        ),
        60,
        "Prometheus's Alertmanager",
    )
    scraped = prometheus.value('sum by (job) (up{job=~"wod-.*"})')
    assert scraped == {"wod-api": 2.0, "wod-agent": 2.0}
    # Before anyone registers: Prometheus has scraped the api, and counted nothing.
    count = 'sum(wod_registration_attempts_total{outcome="registered"}) or vector(0)'
    platform.registered_before = prometheus.value(count)[""]
    assert platform.registered_before == 0
    # Only the monitoring host reaches the metrics ports; the api still wants its token there.
    h1, h2 = bed.host(1).address, bed.host(2).address
    assert not reachable(h1, API_METRICS) and not reachable(h2, AGENT_METRICS)
    assert bed.run(2, ["python3", "-c", CONNECT, h1, str(API_METRICS)]).returncode == 1
    assert bed.run(3, ["python3", "-c", CONNECT, h2, str(AGENT_METRICS)]).returncode == 1
    url = f"https://{h1}:{API_METRICS}/wod-api/8001/metrics"
    assert bed.run(4, ["python3", "-c", STATUS, url], check=True).stdout.strip() == "401"


def test_the_monitoring_host_holds_its_files(platform: Platform) -> None:
    """Debian's units run wod's configuration; the token is for Prometheus only; the files of
    an operator's Grafana are in place, the dashboard naming the provisioned data source."""
    bed = platform.bed
    started = bed.run(4, "systemctl show -p ExecStart --value prometheus", check=True).stdout
    assert "--config.file=/etc/wod/prometheus/prometheus.yml" in started
    token = bed.run(4, "stat -c '%a %U %G' /etc/wod/prometheus/metrics-token", check=True)
    assert token.stdout.split() == ["640", "root", "prometheus"]
    grafana = "/etc/wod/grafana"
    assert sorted(bed.run(4, ["find", grafana, "-type", "f"], check=True).stdout.split()) == [
        f"{grafana}/dashboards/wod-overview.json",
        f"{grafana}/provisioning/dashboards/wod.yml",
        f"{grafana}/provisioning/datasources/wod.yml",
    ]
    source = bed.run(4, ["cat", f"{grafana}/provisioning/datasources/wod.yml"], check=True)
    uid = yaml.safe_load(source.stdout)["datasources"][0]["uid"]
    dashboard = bed.run(4, ["cat", f"{grafana}/dashboards/wod-overview.json"], check=True).stdout
    panels = json.loads(dashboard)["panels"]
    assert {t["datasource"]["uid"] for p in panels for t in p.get("targets", [])} == {uid}


def test_alertmanager_emails_the_admins(platform: Platform) -> None:
    amtool = "amtool --alertmanager.url=http://127.0.0.1:9093 alert add"
    bed = platform.bed
    bed.run(
        4, f"{amtool} WodDeployTest severity=test --annotation=summary=deploy-tests", check=True
    )
    alert = platform.mail.wait("ops@example.org", "WodDeployTest", timeout=150)
    assert "FIRING" in str(alert["Subject"])


def test_participant_registers_in_the_portal_and_reads_the_notebook(platform: Platform) -> None:
    token = platform.bed.run(1, f"{WOD} tokens add deploy-tests --role admin", check=True)
    found = re.search(r"woda_\S+", token.stdout)
    assert found, token.stdout
    platform.admin_token = found[0]
    with platform.api() as web:
        answer = register_in_portal(web, "ada@example.org", "Ada Lovelace")
    assert answer.status_code == 200, answer.text[:500]
    welcome = platform.mail.wait("ada@example.org", "Welcome")
    assert "ada@example.org" in str(welcome["To"])
    rid = _registration_id(platform, "ada@example.org")
    ada = platform.arrived("ada@example.org", rid)
    assert (ada.user, ada.hub) == ("student1", 2)
    assert f"https://{platform.bed.host(2).address}/hub/login" in text_of(
        platform.mail.wait("ada@example.org", "credentials")
    )
    with platform.hub(2) as hub:
        hub_login(hub, ada.user, ada.password)
        text = notebook_text(hub, ada.user)
    assert "student1" in text and "{{ STDID }}" not in text
    # the hub role's default mode: the seat's server is a systemd unit with the seat's limits
    unit = f"jupyter-{ada.user}-singleuser"
    shown = platform.bed.run(2, f"systemctl show {unit} -p ActiveState -p TasksMax", check=True)
    assert "ActiveState=active" in shown.stdout and "TasksMax=256" in shown.stdout, shown.stdout


def _registration_id(platform: Platform, email: str) -> int:
    """The id of a participant's registration: the one its manage token (from the link of the
    welcome email) opens, as the api answers 404 to the token for any other registration."""
    text = text_of(platform.mail.wait(email, "Welcome"))
    secret = re.search(r"/manage/(wodm_[A-Za-z0-9_-]+)", text)
    assert secret, text
    with platform.api() as web:
        for rid in range(1, 50):
            answer = web.get(
                f"/api/v1/registrations/{rid}", headers={"Authorization": f"Bearer {secret[1]}"}
            )
            if answer.status_code == 200:
                return rid
    raise AssertionError(f"no registration opens with the manage token of {email}")


def test_four_more_fill_location_a_then_spill_onto_b(platform: Platform) -> None:
    with platform.api() as web:
        made = [register_in_api(web, f"p{n}@example.org", f"P {n}") for n in range(2, 6)]
    people = [
        platform.arrived(f"p{n}@example.org", r["id"])
        for n, r in zip(range(2, 6), made, strict=True)
    ]
    assert [(p.user, p.hub) for p in people] == [
        ("student2", 2),
        ("student3", 2),
        ("student1", 3),
        ("student2", 3),
    ]
    bed = platform.bed
    for person in [platform.people["ada@example.org"], *people]:
        notebook = f"/srv/wod/students/{person.user}/{WORKSHOP}/0-ReadMeFirst.ipynb"
        owner = bed.run(person.hub, ["stat", "-c", "%U", notebook]).stdout.strip()
        assert owner == person.user, (person, owner)
    # student3 holds a seat on location a only: its files are on h2, nothing of it on h3.
    assert bed.run(3, "test -e /srv/wod/students/student3").returncode != 0


def test_prometheus_sees_the_registrations_and_the_agents_jobs(platform: Platform) -> None:
    """The five registrations (one in the portal, four through the api) move the api's counter
    and the database's figures, and each agent counts the seats it prepared. An agent counts a
    job just before it reports it: the figures are waited for (a scrape every 5 s)."""
    assert platform.registered_before == 0, "test_prometheus_scrapes_every_api_instance_and_agent"
    prometheus = platform.prometheus()
    queries = {
        "registered": 'sum(wod_registration_attempts_total{outcome="registered"})',
        "active": 'max(sum by (instance) (wod_registrations{state="active"}))',
        "created": 'sum by (location) (wod_agent_jobs_total{verb="CREATE", outcome="ok"})',
    }
    expected = {"registered": {"": 5.0}, "active": {"": 5.0}, "created": {"a": 3.0, "b": 2.0}}
    seen: dict[str, dict[str, float]] = {}

    def counted() -> bool:
        seen.update({name: prometheus.value(query) for name, query in queries.items()})
        return seen == expected

    try:
        wait_for(counted, 90, "the registrations and the agents' jobs in Prometheus")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: Prometheus has {seen}, not {expected}") from None


def test_the_start_button_unlocks_a_locked_out_seat(platform: Platform) -> None:
    """Five wrong passwords lock student3 of location a out for this address; its participant's
    manage page start button goes through the hub's one-click start link, signed by the api
    with the deployment's unlock key: it logs in, and the right password works again."""
    p3 = platform.people["p3@example.org"]
    assert (p3.user, p3.hub) == ("student3", 2)
    with platform.hub(2) as hub:
        for _ in range(5):
            wrong = hub_login_form(hub, p3.user, "not-the-password")
            assert "/hub/login" in str(wrong.url), wrong.url
    with platform.hub(2) as hub:
        locked = hub_login_form(hub, p3.user, p3.password)
    assert "/hub/login" in str(locked.url), f"not locked out: {locked.url}"
    manage = re.search(
        r"/manage/(wodm_[A-Za-z0-9_-]+)", text_of(platform.mail.wait(p3.email, "Welcome"))
    )
    assert manage, "no manage link in the welcome email"
    with platform.api() as web:
        start = web.get(f"/manage/{manage[1]}/start")
    hops = [str(r.url) for r in start.history]
    unlock = f"https://{platform.bed.host(2).address}/hub/wod-start/{p3.user}?token="
    assert any(h.startswith(unlock) for h in hops), hops
    assert "/hub/login" not in str(start.url), start.url  # logged in, no password typed
    with platform.hub(2) as hub:
        hub_login(hub, p3.user, p3.password)
        assert p3.user in notebook_text(hub, p3.user)


def test_second_deploy_changes_nothing(platform: Platform) -> None:
    run = platform.env.deploy()
    assert run.rc == 0, run.output[-4000:]
    assert {h["host"]: h["changed"] for h in run.report["hosts"]} == {
        "h1": 0,
        "h2": 0,
        "h3": 0,
        "h4": 0,
        "localhost": 0,
    }, run.changes()
    assert re.search(r"h2\s+ok=\d+\s+changed=0", run.output)


def test_check_names_a_unit_edited_by_hand_and_deploy_restores_it(platform: Platform) -> None:
    bed = platform.bed
    unit = "/etc/systemd/system/wod-agent.service"
    bed.run(2, f"sed -i 's/^RestartSec=3$/RestartSec=42/' {unit}", check=True)
    edited = bed.run(2, f"sha256sum {unit}").stdout
    check = platform.env.deploy("--check")
    assert check.rc == 1, check.output[-3000:]
    assert "drift" in check.output
    assert any(unit in change for change in check.changes("h2")), check.changes()
    assert check.changes("h1") == [] and check.changes("h3") == [] and check.changes("h4") == []
    assert bed.run(2, f"sha256sum {unit}").stdout == edited  # --check changed nothing
    fix = platform.env.deploy("--limit", "h2")
    assert fix.rc == 0, fix.output[-3000:]
    assert "RestartSec=3\n" in bed.run(2, f"cat {unit}").stdout
    assert _active(bed, 2, ["wod-agent"]) == {"wod-agent": "active"}


def test_a_hub_host_dies_and_comes_back(platform: Platform) -> None:
    bed = platform.bed
    p2 = platform.people["p2@example.org"]
    with platform.api() as web:
        ended = web.post(
            f"/api/v1/registrations/{p2.id}/end",
            headers={"Authorization": f"Bearer {platform.admin_token}"},
        )
    assert ended.status_code == 200, ended.text
    wait_for(lambda: platform.status(p2.id)["status"] == "ended", 180, "p2's seat cleaned")
    bed.kill(3)  # power cut of location b
    with platform.api() as web:
        made = register_in_api(web, "p6@example.org", "P 6")
    p6 = platform.arrived("p6@example.org", made["id"])
    assert (p6.user, p6.hub) == ("student2", 2)  # location a serves on
    if SILENCE:
        alert = platform.mail.wait("ops@example.org", "is silent", timeout=240)
        assert "b" in str(alert["Subject"])
    else:  # pragma: no cover - until the silent-location alert lands
        pytest.xfail("locations.silent_after is not in this wod yet: no silent alert to check")
    bed.boot(3)
    wait_for(
        lambda: (
            _active(bed, 3, ["wod-hub", "wod-agent"])
            == {"wod-hub": "active", "wod-agent": "active"}
        ),
        180,
        "h3's hub and agent running again after the boot",
    )
    p4 = platform.people["p4@example.org"]
    assert platform.status(p4.id)["status"] == "active"  # nothing lost
    with platform.hub(3) as hub:
        hub_login(hub, p4.user, p4.password)
        assert p4.user in notebook_text(hub, p4.user)
    with platform.api() as web:
        made = register_in_api(web, "p7@example.org", "P 7")
    p7 = platform.arrived("p7@example.org", made["id"])  # its agent claims jobs again
    assert (p7.user, p7.hub) == ("student3", 3)


def _load(
    base: str, ca: Path, stop: threading.Event, counts: dict[str, int], errors: list[str]
) -> None:
    with client(base, ca) as web:
        while not stop.is_set():
            for path in ("/healthz", "/api/v1/workshops"):
                try:
                    answer = web.get(path, timeout=30)
                    ok = answer.status_code == 200
                    detail = f"{answer.status_code} {answer.text[:100]}"
                except httpx.HTTPError as exc:
                    ok, detail = False, f"{type(exc).__name__}: {exc}"
                counts["sent"] += 1
                if not ok:
                    errors.append(f"{path}: {detail}")
            time.sleep(0.05)


def test_upgrade_migrates_once_and_answers_every_request(platform: Platform) -> None:
    bed, env = platform.bed, platform.env
    revision = commit_migration(env.source)
    ada = platform.people["ada@example.org"]
    stop, counts = threading.Event(), {"sent": 0}
    errors: list[str] = []
    base = f"https://{bed.host(1).address}"
    load = threading.Thread(target=_load, args=(base, platform.ca, stop, counts, errors))
    load.start()
    try:
        run = env.deploy()
    finally:
        stop.set()
        load.join(60)
    assert run.rc == 0, run.output[-4000:]
    assert counts["sent"] > 50, counts
    assert errors == [], f"{len(errors)} of {counts['sent']} requests failed: {errors[:5]}"
    assert bed.run(1, f"{WOD} db current", check=True).stdout.strip() == revision
    restarts = [c for c in run.changes("h1") if c.startswith("Restart wod-api@")]
    assert len(restarts) == 2, run.changes("h1")
    # The live registration survived: still active, same seat, same password, same files.
    assert platform.status(ada.id)["status"] == "active"
    with platform.hub(2) as hub:
        hub_login(hub, ada.user, ada.password)
        assert "student1" in notebook_text(hub, ada.user)
