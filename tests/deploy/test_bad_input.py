"""Bad input stops a deploy before anything changed on any host, with a message that names
the host and the variable: a missing variable, a hub without its seat range, a wrong vault
password, a host that cannot be reached. Two bare hosts: h1 = database + api, h2 = a hub."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.bed import Testbed
from tests.deploy.environment import Environment, Hub, bed_settings
from tests.deploy.source import content_repo, snapshot

pytestmark = pytest.mark.bed


@dataclass
class Broken:
    bed: Testbed
    env: Environment
    base: Path

    def hub(self, **changes: Any) -> None:
        """hosts.yml with h2's variables changed (None: left out)."""
        values = {**Environment.hub_vars(self.bed, Hub(2, "a")), **changes}
        kept = {k: v for k, v in values.items() if v is not None}
        self.env.inventory(self.bed, db=1, api=1, hubs={2: kept})

    def untouched(self) -> None:
        """Neither host was changed: no wod folder, no PostgreSQL, no nginx."""
        for i in (1, 2):
            assert self.bed.run(i, "test -e /etc/wod").returncode != 0, f"h{i} has /etc/wod"
            for package in ("postgresql", "nginx"):
                state = self.bed.run(i, ["dpkg-query", "-W", "-f=${Status}", package]).stdout
                assert "installed" not in state.split(), f"h{i}: {package} {state}"


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Broken]:
    base = tmp_path_factory.mktemp("bad-input")
    source, content = base / "source", base / "content"
    snapshot(source)
    content_repo(content)
    bed = Testbed.create(base / "bed", memory_disks="1g")
    bed.up(2)
    prefix = bed.state.prefix
    try:
        env = Environment.init(base, source)
        # No mail is sent: these deploys never get that far.
        env.settings(**bed_settings(bed, content, smtp_port=25))
        yield Broken(bed, env, base)
    finally:
        bed.down()
    assert bed.leftovers(prefix) == []


def test_a_missing_variable_names_host_and_variable(broken: Broken) -> None:
    broken.hub(wod_location=None)
    run = broken.env.deploy()
    assert run.rc == 1, run.output[-2000:]
    assert "h2: wod_location is not set" in run.output
    broken.untouched()


def test_a_missing_environment_variable_names_it_on_every_host(broken: Broken) -> None:
    broken.hub()
    url = broken.env.main_vars.read_text()
    broken.env.settings(wod_public_url="")
    try:
        run = broken.env.deploy()
    finally:
        broken.env.main_vars.write_text(url)
    assert run.rc == 1, run.output[-2000:]
    assert "h1: wod_public_url is not set to an https:// URL" in run.output
    broken.untouched()


def test_a_hub_without_seat_range(broken: Broken) -> None:
    broken.hub(wod_seats=None)
    run = broken.env.deploy()
    assert run.rc == 1, run.output[-2000:]
    assert "h2: wod_seats is not set to a seat range FIRST-LAST" in run.output
    broken.hub(wod_seats="5-2")
    reversed_range = broken.env.deploy()
    assert "h2: wod_seats is not set to a seat range FIRST-LAST" in reversed_range.output
    broken.untouched()


def test_a_wrong_vault_password(broken: Broken) -> None:
    broken.hub()
    wrong = broken.base / "wrong.vault-pass"
    wrong.write_text("not the password\n")
    run = broken.env.deploy(password_file=wrong)
    assert run.rc == 2, run.output[-2000:]
    assert "vault.yml: the vault password does not open it" in run.output
    assert run.report == {}  # ansible-playbook never ran
    broken.untouched()


def test_an_unreachable_host(broken: Broken) -> None:
    broken.hub()
    broken.bed.cut(2)
    try:
        run = broken.env.deploy()
    finally:
        broken.bed.heal(2)
    assert run.rc == 1, run.output[-2000:]
    address = broken.bed.host(2).address
    assert f"h2: unreachable at ansible_host {address}" in run.output
    broken.untouched()


def test_check_on_bare_hosts_lists_everything_and_changes_nothing(broken: Broken) -> None:
    broken.hub()
    run = broken.env.deploy("--check")
    assert run.rc == 1, run.output[-3000:]
    assert "drift:" in run.output
    assert run.report["failures"] == [], run.report["failures"]
    assert run.changed("h1") > 0 and run.changed("h2") > 0
    broken.untouched()
