"""From three bare hosts to a running platform, and its life: h1 = database + api, h2 and h3 =
hubs of locations a and b (3 seats each). One bed and one deploy from bare for the module;
the tests run in this order and build on each other: registrations, a second deploy that
changes nothing, drift, a dead host, an upgrade that migrates the database."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.bed import Testbed
from tests.deploy.environment import DeployRun, Environment, Hub, bed_settings
from tests.deploy.mail import MailCatcher, credentials, text_of
from tests.deploy.source import commit_migration, content_repo, snapshot
from tests.deploy.web import (
    WORKSHOP,
    client,
    hub_login,
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
APPLIANCE = "WKSHP-Appliance101"
#: The lead's silent-location alert (locations.silent_after, agents' heartbeat): set short here.
SILENCE = "locations" in Settings.model_fields
HEARTBEAT = "heartbeat_interval" in BackendSettings.model_fields


@dataclass
class Person:
    """A participant: registration id, seat, password, and the hub it landed on."""

    email: str
    id: int
    user: str
    password: str
    hub: int


@dataclass
class Platform:
    bed: Testbed
    env: Environment
    mail: MailCatcher
    ca: Path
    first: DeployRun
    people: dict[str, Person] = field(default_factory=dict)
    admin_token: str = ""

    def api(self) -> httpx.Client:
        return client(f"https://{self.bed.host(1).address}", self.ca)

    def hub(self, i: int) -> httpx.Client:
        return client(f"https://{self.bed.host(i).address}", self.ca)

    def hub_of(self, url: str) -> int:
        """The bed host a start link points at."""
        return next(h.index for h in self.bed.hosts if f"//{h.address}/" in url)

    def status(self, rid: int) -> dict[str, Any]:
        with self.api() as web:
            answer = web.get(
                f"/api/v1/registrations/{rid}",
                headers={"Authorization": f"Bearer {self.admin_token}"},
            )
        assert answer.status_code == 200, answer.text
        data: dict[str, Any] = answer.json()
        return data

    def arrived(self, email: str, rid: int) -> Person:
        """Wait for the credentials email of a registration; the participant."""
        user, password = credentials(self.mail.wait(email, "credentials"))
        status = wait_for(
            lambda: (s := self.status(rid))["status"] == "active" and s,
            120,
            f"registration {rid} active",
        )
        person = Person(email, rid, user, password, self.hub_of(status["hub_url"]))
        self.people[email] = person
        return person


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
    bed.up(3)
    prefix = bed.state.prefix
    mail = MailCatcher(bed.gateway)
    try:
        mail.start()
        bed.allow_port(mail.port)
        env = Environment.init(base, source)
        env.settings(**bed_settings(bed, content, mail.port), **_settings())
        # h3 is also the appliance of WKSHP-Appliance101: a host may hold several roles.
        env.hosts(bed, db=1, api=1, hubs=[Hub(2, "a"), Hub(3, "b")], appliances={3: [APPLIANCE]})
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
    for host in ("h1", "h2", "h3"):
        assert run.changed(host) > 0
    assert set(run.report["roles"]) >= {"db", "api", "hub", "nginx", "firewall", "location"}
    bed = platform.bed
    assert _active(bed, 1, API_UNITS) == dict.fromkeys(API_UNITS, "active")
    for i in (2, 3):
        assert _active(bed, i, HUB_UNITS) == dict.fromkeys(HUB_UNITS, "active")
    assert bed.run(1, "systemctl is-enabled wod-db-backup.timer").stdout.strip() == "enabled"
    setup = bed.run(3, "cat /var/lib/wod/appliance-setup.log").stdout
    assert setup == f"setup of {APPLIANCE} for seat 1\n"  # its hook ran, once
    # Secrets are in the vault only: no clear value of it lies in the environment folder.
    assert "$ANSIBLE_VAULT;" in (platform.env.folder / "group_vars/all/vault.yml").read_text()


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


def test_second_deploy_changes_nothing(platform: Platform) -> None:
    run = platform.env.deploy()
    assert run.rc == 0, run.output[-4000:]
    assert {h["host"]: h["changed"] for h in run.report["hosts"]} == {
        "h1": 0,
        "h2": 0,
        "h3": 0,
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
    assert check.changes("h1") == [] and check.changes("h3") == []
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
