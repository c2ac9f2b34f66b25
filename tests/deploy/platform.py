"""The platform of test_platform.py as its tests reach it: its bed, environment and mail
catcher, HTTPS clients of the api and the hubs, the monitoring host's Prometheus, and the
participants registered so far."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.bed import Testbed
from tests.deploy.environment import DeployRun, Environment
from tests.deploy.mail import MailCatcher, credentials
from tests.deploy.prometheus import Prometheus
from tests.deploy.web import client, wait_for

#: The monitoring host of the platform.
MONITORING = 4


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
    """h1 = database + api, h2 and h3 = hubs of locations a and b, h4 = monitoring."""

    bed: Testbed
    env: Environment
    mail: MailCatcher
    ca: Path
    first: DeployRun
    people: dict[str, Person] = field(default_factory=dict)
    admin_token: str = ""
    #: Registrations Prometheus had counted before the participants came.
    registered_before: float = -1.0

    def api(self) -> httpx.Client:
        return client(f"https://{self.bed.host(1).address}", self.ca)

    def hub(self, i: int) -> httpx.Client:
        return client(f"https://{self.bed.host(i).address}", self.ca)

    def prometheus(self) -> Prometheus:
        return Prometheus(self.bed.host(MONITORING).address)

    def settings(self, i: int, name: str) -> dict[str, Any]:
        """A host's wod settings file (``api.toml``, ``hub.toml``)."""
        text = self.bed.run(i, ["cat", f"/etc/wod/{name}"], check=True).stdout
        data: dict[str, Any] = tomllib.loads(text)
        return data

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
