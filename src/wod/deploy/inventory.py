"""Checks of an environment's inventory that name the file and the key at fault, which the
playbooks cannot do (Ansible merges every file before a play sees a variable). ``wod deploy``
runs them before anything else; the validation play (``deploy/roles/validate``) then checks
the values, host by host.

What is checked: the monitoring group (``wod_monitoring``) holds one host at most and only
variables that wod or Ansible know, and a monitoring variable (``wod_prometheus_…``, …) named
anywhere is one that exists. Files in YAML are read (``hosts.yml``, ``group_vars``,
``host_vars``); vaulted files and other inventory kinds are left to the validation play.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from wod.deploy.environment import OPERATOR_SECRETS, SECRETS
from wod.deploy.vault import HEADER
from wod.errors import ConfigError

MONITORING = "wod_monitoring"
#: A variable with one of these prefixes belongs to the monitoring host: a typo is an error.
MONITORING_PREFIXES = ("wod_monitoring", "wod_prometheus", "wod_alertmanager", "wod_grafana")
DEFAULTS = Path("deploy/roles/wod_defaults/defaults/main.yml")
#: Set by ``wod deploy``, by the validation play or on the command line, not in the defaults.
EXTRA_VARIABLES = ("wod_address", "wod_build", "wod_source", "wod_deploy_cache")
YAML_SUFFIXES = (".yml", ".yaml", ".json")
#: The defaults file's variables after this line are derived, not meant to be set.
DERIVED = "\n# ----- derived"


@dataclass(frozen=True)
class Variables:
    """Variables set in one place: the file, the key path to them, and their names."""

    file: Path
    key: str
    names: tuple[str, ...]
    #: The monitoring group's own (any unknown name is an error), or anyone's.
    monitoring: bool


@dataclass(frozen=True)
class Members:
    """The hosts one section of an inventory file lists in the monitoring group."""

    file: Path
    key: str
    hosts: tuple[str, ...]


class _Loader(yaml.SafeLoader):
    """YAML with Ansible's tags (``!vault``, ``!unsafe``) read as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


@dataclass(frozen=True)
class Known:
    """The variables of the playbooks: every one, and those an operator sets."""

    names: frozenset[str]
    settable: frozenset[str]


def known_variables(root: Path) -> Known:
    """The defaults of ``wod_defaults`` (the settable ones come before its derived part), the
    vault's secrets and the few set by ``wod deploy`` or the validation play."""
    text = (root / DEFAULTS).read_text()
    settable = frozenset(yaml.safe_load(text.split(DERIVED, 1)[0]) or {})
    names = frozenset(yaml.safe_load(text) or {}) | settable
    return Known(names | set(EXTRA_VARIABLES) | set(SECRETS) | set(OPERATOR_SECRETS), settable)


def check_inventory(inventory: Path, root: Path) -> None:
    """ConfigError naming each file and key of ``inventory`` that is wrong (see the module)."""
    problems = inventory_problems(inventory, known_variables(root))
    if problems:
        raise ConfigError("\n".join(problems))


def inventory_problems(inventory: Path, known: Known) -> list[str]:
    """What is wrong with the inventory (file or folder), one line each: ``FILE: KEY: …``."""
    found = _Found()
    for path in _hosts_files(inventory):
        data = _load(path)
        if isinstance(data, dict):
            found.groups(path, data)
    folder = inventory if inventory.is_dir() else inventory.parent
    found.variables += _vars_files(folder / "group_vars", lambda name: name == MONITORING)
    found.variables += _vars_files(folder / "host_vars", lambda name: False)
    return [
        *found.problems,
        *_membership(found.members),
        *(p for v in found.variables for p in _unknown(v, known)),
    ]


def _hosts_files(inventory: Path) -> list[Path]:
    if inventory.is_file():
        return [inventory]
    return sorted(p for p in inventory.iterdir() if p.is_file() and p.suffix in YAML_SUFFIXES)


def _load(path: Path) -> Any:
    """The YAML of ``path``; None for a vaulted file; ConfigError naming it when unreadable."""
    text = path.read_text()
    if text.startswith(HEADER):
        return None
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader with two tags
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from exc


@dataclass
class _Found:
    """What the inventory files hold: the monitoring group's hosts, every set of variables."""

    members: list[Members] = field(default_factory=list)
    variables: list[Variables] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def groups(
        self, path: Path, groups: dict[str, Any], prefix: str = "", inside: bool = False
    ) -> None:
        """Every group of a YAML inventory (``NAME: {hosts, vars, children}``), nested."""
        for name, body in groups.items():
            if isinstance(body, dict):
                self.group(path, f"{prefix}{name}", body, inside or name == MONITORING)

    def group(self, path: Path, key: str, body: dict[str, Any], ours: bool) -> None:
        if key.rpartition(".")[2] == MONITORING:
            self.problems += [
                f"{path}: {key}.{k}: the monitoring group takes hosts and vars only"
                for k in body
                if k not in ("hosts", "vars")
            ]
        hosts = body.get("hosts") or {}
        if isinstance(hosts, dict):
            if ours:
                self.members.append(Members(path, f"{key}.hosts", tuple(map(str, hosts))))
            for host, values in hosts.items():
                if isinstance(values, dict):
                    self.variables.append(
                        Variables(path, f"{key}.hosts.{host}", tuple(values), ours)
                    )
        if isinstance(body.get("vars"), dict):
            self.variables.append(Variables(path, f"{key}.vars", tuple(body["vars"]), ours))
        if isinstance(body.get("children"), dict):
            self.groups(path, body["children"], f"{key}.children.", ours)


def _vars_files(folder: Path, monitoring: Callable[[str], bool]) -> Iterator[Variables]:
    """The variables of ``group_vars`` or ``host_vars``: ``NAME.yml`` or ``NAME/*.yml`` (as
    Ansible, files without a suffix too)."""
    if not folder.is_dir():
        return
    for entry in sorted(folder.iterdir()):
        files = sorted(entry.iterdir()) if entry.is_dir() else [entry]
        name = entry.name if entry.is_dir() else entry.stem
        for path in files:
            if path.is_file() and path.suffix in ("", *YAML_SUFFIXES):
                data = _load(path)
                if isinstance(data, dict):
                    yield Variables(path, "", tuple(map(str, data)), monitoring(name))


def _membership(members: list[Members]) -> list[str]:
    """More than one monitoring host: named at every section that lists one."""
    hosts = sorted({h for m in members for h in m.hosts})
    if len(hosts) <= 1:
        return []
    return [
        f"{m.file}: {m.key}: the monitoring group holds {len(hosts)} hosts ({', '.join(hosts)}): "
        "it takes one (the environment's Prometheus and Alertmanager)"
        for m in members
        if m.hosts
    ]


def _unknown(found: Variables, known: Known) -> Iterator[str]:
    for name in found.names:
        if name in known.names or name.startswith("ansible_"):
            continue
        if found.monitoring or _monitoring_name(name, known):
            where = f"{found.key}.{name}" if found.key else name
            yield f"{found.file}: {where}: unknown variable{_hint(name, known)}"


def _monitoring_name(name: str, known: Known) -> bool:
    """A monitoring variable's name, or a typo of one (``wod_alertmanagr``)."""
    ours = [k for k in known.settable if k.startswith(MONITORING_PREFIXES)]
    return name.startswith(MONITORING_PREFIXES) or bool(
        difflib.get_close_matches(name, ours, n=1, cutoff=0.8)
    )


def _hint(name: str, known: Known) -> str:
    close = difflib.get_close_matches(name, sorted(known.settable), n=1, cutoff=0.8)
    if close:
        return f" (did you mean {close[0]}?)"
    if _monitoring_name(name, known):
        ours = sorted(k for k in known.settable if k.startswith(MONITORING_PREFIXES))
        return f"; the monitoring variables are {', '.join(ours)}"
    return (
        "; the monitoring group takes Ansible's variables (ansible_…) and wod's "
        "(deploy/inventories/example explains each)"
    )
