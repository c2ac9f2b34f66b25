"""The bed's network: a bridge in the main namespace, one namespace + veth per host, nftables.

Hosts get an address on the bridge's /24 and no default route, so they reach each other and
the bridge address (the package proxies) and nothing else. An nftables table of the bed keeps
the main namespace from forwarding their traffic anywhere, and a bridge-family table holds the
one-way blocks between hosts.
"""

from __future__ import annotations

import fcntl
import ipaddress
import json
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.bed.system import BedError, run

# Candidate /24s, tried in order: private ranges that nothing on this machine uses.
POOLS = (ipaddress.IPv4Network("10.247.0.0/16"), ipaddress.IPv4Network("172.30.0.0/16"))
ALLOC_LOCK = Path("/run/lock/wod-testbed-net.lock")
PREFIX_CHARS = "0123456789abcdef"
NETNS_DIR = Path("/run/netns")


@contextmanager
def allocation_lock() -> Iterator[None]:
    """Serialise choosing a prefix and a subnet and creating the bridge across runs."""
    ALLOC_LOCK.parent.mkdir(parents=True, exist_ok=True)
    with ALLOC_LOCK.open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def links() -> list[str]:
    """Names of the links of the main namespace."""
    data = json.loads(run(["ip", "-j", "link", "show"]).stdout or "[]")
    return [str(link["ifname"]) for link in data]


def namespaces() -> list[str]:
    """Names of the network namespaces that ``ip netns`` knows."""
    return sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []


def new_prefix() -> str:
    """A short run prefix (``wb`` + 4 hex digits) that no link, namespace or cgroup carries."""
    taken = " ".join(
        [*links(), *namespaces(), *(p.name for p in Path("/sys/fs/cgroup/unified").iterdir())]
    )
    for _ in range(100):
        prefix = "wb" + "".join(secrets.choice(PREFIX_CHARS) for _ in range(4))
        if prefix not in taken:
            return prefix
    raise BedError("could not find a free run prefix")


def used_networks() -> list[ipaddress.IPv4Network]:
    """Every IPv4 network that an address or a route of the main namespace covers."""
    nets: list[ipaddress.IPv4Network] = []
    for entry in json.loads(run(["ip", "-j", "-4", "addr", "show"]).stdout or "[]"):
        for addr in entry.get("addr_info", []):
            nets.append(ipaddress.IPv4Network(f"{addr['local']}/{addr['prefixlen']}", False))
    for route in json.loads(run(["ip", "-j", "-4", "route", "show", "table", "all"]).stdout):
        dst = str(route.get("dst", ""))
        if dst and dst != "default":
            nets.append(ipaddress.IPv4Network(dst if "/" in dst else f"{dst}/32", False))
    return nets


def free_subnet() -> ipaddress.IPv4Network:
    """The first /24 of the pool that no address or route of this machine overlaps."""
    used = used_networks()
    for pool in POOLS:
        for candidate in pool.subnets(new_prefix=24):
            if not any(candidate.overlaps(net) for net in used if net.prefixlen > 0):
                return candidate
    raise BedError(f"no free /24 left in {', '.join(map(str, POOLS))}")


def create_bridge(name: str, address: str, prefixlen: int) -> None:
    """The bed's bridge with the controller's address (no IPv6: nothing needs it)."""
    run(["ip", "link", "add", name, "type", "bridge"])
    _no_ipv6(name)
    run(["ip", "addr", "add", f"{address}/{prefixlen}", "dev", name])
    run(["ip", "link", "set", name, "up"])


def _no_ipv6(link: str, netns: str | None = None) -> None:
    prefix = ["ip", "netns", "exec", netns] if netns else []
    run([*prefix, "sysctl", "-q", "-w", f"net.ipv6.conf.{link}.disable_ipv6=1"], check=False)


def create_host_net(netns: str, veth: str, bridge: str, address: str, prefixlen: int) -> None:
    """A namespace with ``eth0`` (address, no default route) plugged into the bridge."""
    run(["ip", "netns", "add", netns])
    run(["ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns])
    _no_ipv6(veth)
    run(["ip", "link", "set", veth, "master", bridge, "up"])
    _no_ipv6("eth0", netns)
    run(["ip", "-n", netns, "addr", "add", f"{address}/{prefixlen}", "dev", "eth0"])
    run(["ip", "-n", netns, "link", "set", "lo", "up"])
    run(["ip", "-n", netns, "link", "set", "eth0", "up"])


def set_link(veth: str, up: bool) -> None:
    """Plug (up) or unplug (down) a host's cable: its bridge-side veth."""
    run(["ip", "link", "set", veth, "up" if up else "down"])


def link_is_up(veth: str) -> bool:
    """Whether the bridge-side veth is administratively up."""
    data = json.loads(run(["ip", "-j", "link", "show", veth]).stdout)
    return "UP" in data[0].get("flags", [])


def delete_link(name: str) -> None:
    """Remove a link if it exists (removing a veth removes its peer too)."""
    if name in links():
        run(["ip", "link", "del", name])


def delete_netns(name: str) -> None:
    """Remove a network namespace if it exists."""
    if name in namespaces():
        run(["ip", "netns", "del", name])


def guard_rules(table: str, bridge: str, gateway: str, ports: list[int]) -> str:
    """nftables for the main namespace: hosts reach only the proxies, nothing is forwarded.

    With br_netfilter loaded, bridged host-to-host packets also pass the forward hook with
    the bridge as both input and output link: only traffic that leaves the bridge is dropped.
    """
    port_set = ", ".join(str(p) for p in ports)
    return f"""
table inet {table} {{
  chain input {{
    type filter hook input priority 0; policy accept;
    iifname "{bridge}" ct state established,related accept
    iifname "{bridge}" ip daddr {gateway} tcp dport {{ {port_set} }} accept
    iifname "{bridge}" icmp type echo-request accept
    iifname "{bridge}" meta l4proto tcp reject with tcp reset
    iifname "{bridge}" reject
  }}
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname "{bridge}" oifname != "{bridge}" drop
    oifname "{bridge}" iifname != "{bridge}" drop
  }}
}}
"""


def block_rules(table: str, pairs: list[tuple[str, str]]) -> str:
    """A bridge-family table dropping packets from each (source, destination) address pair."""
    rules = "\n".join(f"    ip saddr {src} ip daddr {dst} drop" for src, dst in pairs)
    return f"""
table bridge {table} {{
  chain blocks {{
    type filter hook forward priority 0; policy accept;
{rules}
  }}
}}
"""


def load_table(family: str, table: str, ruleset: str) -> None:
    """Replace one nftables table atomically (create-then-delete makes the delete safe)."""
    script = f"table {family} {table} {{}}\ndelete table {family} {table}\n{ruleset}"
    run(["nft", "-f", "-"], input_text=script)


def delete_table(family: str, table: str) -> None:
    """Remove an nftables table if it exists."""
    if run(["nft", "list", "table", family, table], check=False).returncode == 0:
        run(["nft", "delete", "table", family, table])


def tables() -> list[str]:
    """``family name`` of every nftables table of the main namespace."""
    out = run(["nft", "list", "tables"], check=False).stdout
    return [line.removeprefix("table ").strip() for line in out.splitlines() if line.strip()]
