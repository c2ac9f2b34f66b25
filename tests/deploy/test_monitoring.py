"""The monitoring host's part of the playbooks, without hosts: what the templates make of an
inventory (Prometheus's scrape jobs, the firewall's metrics rules, the agents' metrics and the
unlock key in every settings file), and the inventory checks that name the file and the key.
The test bed's side is in test_platform.py."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.source import ROOT
from wod.deploy.inventory import inventory_problems, known_variables

pytest.importorskip("ansible", reason="the playbooks need ansible-core (the deploy extra)")

DEPLOY = ROOT / "deploy"
BIN = Path(sys.executable).parent
SEED = "5eed" * 16
#: The vault of an environment made by `wod init`; OLD_VAULT: one made before the metrics token
#: and the unlock key were secrets of their own.
VAULT = {
    "vault_wod_secret_key": "s" * 48,
    "vault_wod_db_password": "d" * 32,
    "vault_wod_hub_token_seed": SEED,
    "vault_wod_metrics_token": "metrics-token-from-the-vault-0123456789",
    "vault_wod_unlock_key": "unlock-key-from-the-vault-0123456789abcd",
}
OLD_VAULT = {
    k: v for k, v in VAULT.items() if k not in ("vault_wod_metrics_token", "vault_wod_unlock_key")
}

#: Renders, for every host of an inventory and without reaching any, what the roles would
#: write there: each host's address is its ansible_host (the validation play's wod_address).
RENDER = """
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.set_fact:
        wod_address: "{{ ansible_host }}"

- hosts: all
  gather_facts: false
  roles: [wod_defaults]
  tasks:
    - name: The monitoring role's own variables
      ansible.builtin.include_vars: "{{ wod_source }}/deploy/roles/monitoring/vars/main.yml"
    - name: The host's folder
      ansible.builtin.file:
        path: "{{ out }}/{{ inventory_hostname }}"
        state: directory
        mode: "0700"
      delegate_to: localhost
    - name: Files of the roles
      ansible.builtin.template:
        src: "{{ wod_source }}/deploy/roles/{{ item }}.j2"
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item | basename }}"
        mode: "0600"
      loop: >-
        {{ ['firewall/templates/firewall.nft', 'nginx/templates/wod.conf']
           + (['monitoring/templates/prometheus.yml', 'monitoring/templates/alertmanager.yml',
               'monitoring/templates/grafana-datasource.yml']
              if inventory_hostname in groups['wod_monitoring'] | default([]) else []) }}
      delegate_to: localhost
    - name: Settings and the metrics token
      ansible.builtin.copy:
        content: "{{ item.value }}"
        dest: "{{ out }}/{{ inventory_hostname }}/{{ item.key }}"
        mode: "0600"
      loop: >-
        {{ ({'api.toml': wod_api_config | wod_toml}
            if inventory_hostname in groups['wod_api'] else {})
           | combine({'hub.toml': wod_hub_config | wod_toml}
                     if inventory_hostname in groups['wod_hubs'] else {})
           | combine({'metrics-token': wod_metrics_token})
           | combine({'wod-overview.json': wod_grafana_dashboard | to_nice_json(indent=2)}
                     if inventory_hostname in groups['wod_monitoring'] | default([]) else {})
           | dict2items }}
      loop_control:
        label: "{{ item.key }}"
      delegate_to: localhost
"""


def inventory(monitoring: dict[str, Any] | None, **hub_a: Any) -> dict[str, Any]:
    """Two api hosts (two and three instances), two hubs, and the given monitoring host."""
    groups: dict[str, Any] = {
        "wod_db": {"hosts": {"api1": None}},
        "wod_api": {
            "hosts": {
                "api1": {"ansible_host": "192.0.2.10"},
                "api2": {"ansible_host": "192.0.2.11", "wod_api_instances": 3},
            }
        },
        "wod_hubs": {
            "hosts": {
                "hub-a": {"ansible_host": "192.0.2.21", "wod_location": "a", **hub_a},
                "hub-b": {"ansible_host": "192.0.2.22", "wod_location": "b"},
            }
        },
        "wod_monitoring": {"hosts": monitoring or {}},
    }
    return {
        "all": {
            "vars": {
                "wod_environment": "staging",
                "wod_public_url": "https://workshops.example.org",
                "wod_seats": "1-3",
                "wod_smtp": {"host": "smtp.example.org", "port": 587, "security": "starttls"},
                "wod_alert_recipients": ["ops@example.org"],
            },
            "children": groups,
        }
    }


def playbook(*args: str) -> subprocess.CompletedProcess[str]:
    """``ansible-playbook ARGS`` with the project's ansible.cfg (roles, filters)."""
    return subprocess.run(
        [str(BIN / "ansible-playbook"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_CONFIG": str(DEPLOY / "ansible.cfg")},
        check=False,
    )


def render(tmp_path: Path, hosts: dict[str, Any], vault: dict[str, str]) -> dict[str, Path]:
    """The files each host would get; {host: its folder}."""
    (tmp_path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (tmp_path / "render.yml").write_text(RENDER)
    out = tmp_path / "out"
    extra = {**vault, "wod_source": str(ROOT), "out": str(out)}
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    result = playbook(
        "-i",
        str(tmp_path / "hosts.yml"),
        str(tmp_path / "render.yml"),
        "-e",
        f"@{tmp_path / 'vars.json'}",
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    return {p.name: p for p in out.iterdir()}


def toml(folder: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = tomllib.loads((folder / name).read_text())
    return data


def test_prometheus_scrapes_every_api_instance_and_agent(tmp_path: Path) -> None:
    mon = {
        "mon": {"ansible_host": "192.0.2.30", "wod_prometheus_allowed_networks": ["192.0.2.0/24"]}
    }
    files = render(tmp_path, inventory(mon), VAULT)
    config = yaml.safe_load((files["mon"] / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"wod-api", "wod-agent", "prometheus"}
    api = jobs["wod-api"]
    assert api["scheme"] == "https"
    assert api["authorization"]["credentials_file"] == "/etc/wod/prometheus/metrics-token"
    assert api["tls_config"]["server_name"] == "workshops.example.org"
    assert [
        (t["targets"], t["labels"]["instance"], t["labels"]["__metrics_path__"])
        for t in api["static_configs"]
    ] == [
        (["192.0.2.10:9180"], "api1:8001", "/wod-api/8001/metrics"),
        (["192.0.2.10:9180"], "api1:8002", "/wod-api/8002/metrics"),
        (["192.0.2.11:9180"], "api2:8001", "/wod-api/8001/metrics"),
        (["192.0.2.11:9180"], "api2:8002", "/wod-api/8002/metrics"),
        (["192.0.2.11:9180"], "api2:8003", "/wod-api/8003/metrics"),
    ]
    agents = [(t["targets"], t["labels"]) for t in jobs["wod-agent"]["static_configs"]]
    assert agents == [
        (["192.0.2.21:9464"], {"instance": "hub-a", "location": "a"}),
        (["192.0.2.22:9464"], {"instance": "hub-b", "location": "b"}),
    ]
    assert config["rule_files"] == ["/etc/wod/prometheus/alerts.yml"]
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        "127.0.0.1:9093"
    ]
    assert (files["mon"] / "metrics-token").read_text() == VAULT["vault_wod_metrics_token"]
    assert toml(files["api1"], "api.toml")["metrics"]["token"] == VAULT["vault_wod_metrics_token"]
    # nginx of each api host serves each of its instances' /metrics on the metrics port.
    nginx = (files["api2"] / "wod.conf").read_text()
    assert "listen 9180 ssl;" in nginx
    for port in (8001, 8002, 8003):
        assert (
            f"location = /wod-api/{port}/metrics {{\n        proxy_pass http://127.0.0.1:{port}/metrics;"
            in nginx
        )
    # Each agent serves its metrics on its own address, to the monitoring host only.
    backend = toml(files["hub-a"], "hub.toml")["backend"]
    assert (backend["metrics_port"], backend["metrics_host"]) == (9464, "192.0.2.21")
    assert (
        "ip saddr { 192.0.2.30 } tcp dport 9464 accept"
        in (files["hub-b"] / "firewall.nft").read_text()
    )
    assert (
        "ip saddr { 192.0.2.30 } tcp dport 9180 accept"
        in (files["api1"] / "firewall.nft").read_text()
    )
    assert "9180" not in (files["hub-a"] / "firewall.nft").read_text()
    assert (
        "ip saddr { 192.0.2.0/24 } tcp dport 9090 accept"
        in (files["mon"] / "firewall.nft").read_text()
    )
    alerting = yaml.safe_load((files["mon"] / "alertmanager.yml").read_text())
    assert alerting["global"]["smtp_smarthost"] == "smtp.example.org:587"
    assert alerting["global"]["smtp_require_tls"] is True
    assert alerting["receivers"][0]["email_configs"][0]["to"] == "ops@example.org"
    datasource = yaml.safe_load((files["mon"] / "grafana-datasource.yml").read_text())[
        "datasources"
    ]
    assert [(d["uid"], d["type"], d["url"]) for d in datasource] == [
        ("wod-prometheus", "prometheus", "http://127.0.0.1:9090")
    ]
    # The provisioned dashboard names that data source (the shipped one asks when imported).
    shipped = json.loads((ROOT / "docs/monitoring/grafana-dashboard.json").read_text())
    dashboard = json.loads((files["mon"] / "wod-overview.json").read_text())
    assert "__inputs" not in dashboard and "DS_PROMETHEUS" not in json.dumps(dashboard)
    assert (dashboard["uid"], len(dashboard["panels"])) == (shipped["uid"], len(shipped["panels"]))
    sources = {t["datasource"]["uid"] for p in dashboard["panels"] for t in p.get("targets", [])}
    assert sources == {"wod-prometheus"}
    promtool = shutil.which("promtool")
    if promtool:  # Debian's prometheus package has it; the test bed's deploy always runs it
        rules = ROOT / "docs/monitoring/prometheus-alerts.yml"
        token = tmp_path / "token"
        token.write_text("t")
        text = (files["mon"] / "prometheus.yml").read_text()
        text = text.replace("/etc/wod/prometheus/alerts.yml", str(rules))
        checked = tmp_path / "checked.yml"
        checked.write_text(text.replace("/etc/wod/prometheus/metrics-token", str(token)))
        result = subprocess.run(
            [promtool, "check", "config", str(checked)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_a_monitoring_host_on_a_hub_scrapes_it_too(tmp_path: Path) -> None:
    files = render(tmp_path, inventory({"hub-b": None}), VAULT)
    config = yaml.safe_load((files["hub-b"] / "prometheus.yml").read_text())
    agents = next(j for j in config["scrape_configs"] if j["job_name"] == "wod-agent")
    assert [t["targets"] for t in agents["static_configs"]] == [
        ["192.0.2.21:9464"],
        ["192.0.2.22:9464"],
    ]
    assert (
        "ip saddr { 192.0.2.22 } tcp dport 9464 accept"
        in (files["hub-a"] / "firewall.nft").read_text()
    )
    assert "tcp dport 9090" not in (files["hub-b"] / "firewall.nft").read_text()  # nobody else


def test_without_a_monitoring_host_nothing_is_open(tmp_path: Path) -> None:
    files = render(tmp_path, inventory(None), VAULT)
    for hub in ("hub-a", "hub-b"):
        assert "metrics_port" not in toml(files[hub], "hub.toml")["backend"]
        assert "9464" not in (files[hub] / "firewall.nft").read_text()
    assert "9180" not in (files["api1"] / "wod.conf").read_text()
    assert "9180" not in (files["api1"] / "firewall.nft").read_text()
    # The api keeps its metrics token: an operator's own Prometheus may present it.
    assert toml(files["api1"], "api.toml")["metrics"]["token"] == VAULT["vault_wod_metrics_token"]


def test_the_api_and_every_hub_share_one_unlock_key(tmp_path: Path) -> None:
    files = render(tmp_path, inventory(None), VAULT)
    keys = {toml(files[h], "api.toml")["hub"]["unlock_key"] for h in ("api1", "api2")}
    keys |= {toml(files[h], "hub.toml")["hub"]["unlock_key"] for h in ("hub-a", "hub-b")}
    assert keys == {VAULT["vault_wod_unlock_key"]}


def test_an_older_vault_derives_the_unlock_key_and_the_metrics_token(tmp_path: Path) -> None:
    files = render(tmp_path, inventory(None), OLD_VAULT)
    api, hub = toml(files["api1"], "api.toml"), toml(files["hub-b"], "hub.toml")
    key, token = api["hub"]["unlock_key"], api["metrics"]["token"]
    assert hub["hub"]["unlock_key"] == key
    assert len(key) >= 32 and len(token) >= 32 and key != token
    assert SEED not in (key, token)


# ----------------------------------------------------------------- the inventory's checks


def problems(folder: Path) -> list[str]:
    return inventory_problems(folder, known_variables(ROOT))


def write(folder: Path, hosts: dict[str, Any], main: dict[str, Any] | None = None) -> Path:
    (folder / "group_vars/all").mkdir(parents=True, exist_ok=True)
    (folder / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (folder / "group_vars/all/main.yml").write_text(yaml.safe_dump(main or {}))
    return folder


def test_the_example_inventory_passes() -> None:
    assert problems(DEPLOY / "inventories/example") == []


def test_two_monitoring_hosts_are_named_with_the_file_and_key(tmp_path: Path) -> None:
    folder = write(tmp_path, inventory({"mon-a": None, "mon-b": None}))
    assert problems(folder) == [
        f"{folder / 'hosts.yml'}: all.children.wod_monitoring.hosts: the monitoring group holds "
        "2 hosts (mon-a, mon-b): it takes one (the environment's Prometheus and Alertmanager)"
    ]


def test_an_unknown_variable_of_the_monitoring_host_is_named(tmp_path: Path) -> None:
    mon = {
        "mon": {"ansible_host": "192.0.2.30", "wod_prometheus_retension": "30d", "colour": "blue"}
    }
    folder = write(tmp_path, inventory(mon), main={"wod_alertmanagr": False, "backup_host": "b"})
    found = problems(folder)
    hosts, main = folder / "hosts.yml", folder / "group_vars/all/main.yml"
    assert found == [
        f"{hosts}: all.children.wod_monitoring.hosts.mon.colour: unknown variable; the monitoring "
        "group takes Ansible's variables (ansible_…) and wod's (deploy/inventories/example "
        "explains each)",
        f"{hosts}: all.children.wod_monitoring.hosts.mon.wod_prometheus_retension: unknown "
        "variable (did you mean wod_prometheus_retention?)",
        f"{main}: wod_alertmanagr: unknown variable (did you mean wod_alertmanager?)",
    ]  # backup_host is not the monitoring group's: the operator's own


def test_the_monitoring_group_vars_are_checked_and_vaulted_files_skipped(tmp_path: Path) -> None:
    folder = write(tmp_path, inventory({"mon": None}))
    (folder / "group_vars/wod_monitoring.yml").write_text(
        "wod_prometheus_port: 9091\nretention: 30d\n"
    )
    (folder / "group_vars/all/vault.yml").write_text("$ANSIBLE_VAULT;1.1;AES256\n3132\n")
    (folder / "host_vars").mkdir()
    (folder / "host_vars/mon.yml").write_text(
        "secret: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  31\n"
    )
    assert problems(folder) == [
        f"{folder / 'group_vars/wod_monitoring.yml'}: retention: unknown variable; the monitoring "
        "group takes Ansible's variables (ansible_…) and wod's (deploy/inventories/example "
        "explains each)"
    ]


def test_the_monitoring_group_takes_no_children(tmp_path: Path) -> None:
    hosts = inventory(None)
    hosts["all"]["children"]["wod_monitoring"] = {"children": {"mons": {"hosts": {"m1": None}}}}
    folder = write(tmp_path, hosts)
    assert problems(folder) == [
        f"{folder / 'hosts.yml'}: all.children.wod_monitoring.children: the monitoring group "
        "takes hosts and vars only"
    ]


def test_wod_deploy_stops_before_anything_runs(tmp_path: Path) -> None:
    folder = write(tmp_path / "env", inventory({"mon-a": None, "mon-b": None}))
    password = tmp_path / "pass"
    password.write_text("secret\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wod",
            "deploy",
            "-i",
            str(folder),
            "--vault-password-file",
            str(password),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "WOD_DEPLOY_CACHE": str(tmp_path / "cache")},
        check=False,
    )
    assert result.returncode == 2, result.stdout + result.stderr
    assert "all.children.wod_monitoring.hosts: the monitoring group holds 2 hosts" in result.stderr
    assert not (tmp_path / "cache").exists()  # no wheelhouse was built


def test_the_validation_play_refuses_two_monitoring_hosts(tmp_path: Path) -> None:
    """For a playbook run without `wod deploy` (and inventories other than YAML files)."""
    folder = write(tmp_path, inventory({"mon-a": None, "mon-b": None}))
    build = {"wod_build": {"python": "3.11"}, "wod_source": str(ROOT)}
    (tmp_path / "build.json").write_text(json.dumps(build))
    result = playbook(
        "-i", str(folder), str(DEPLOY / "site.yml"), "-e", f"@{tmp_path / 'build.json'}"
    )
    assert result.returncode != 0
    assert "wod_monitoring holds 2 hosts (mon-a, mon-b): it takes one host at most" in result.stdout
