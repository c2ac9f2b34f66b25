"""What the bed serves its hosts on the bridge address: apt-cacher-ng and a wheelhouse.

apt-cacher-ng runs as our own process with a private config and cache folder (never the
system-wide daemon). The wheelhouse is a folder served by ``python3 -m http.server``, whose
directory listing is what ``pip --find-links`` reads.
"""

from __future__ import annotations

import hashlib
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.bed.image import Source
from tests.bed.system import BedError, Proc, say, spawn_daemon, tail, wait_until

APT_PORT = 3142
WHEEL_PORT = 8765
# apt's default preference among the compressed index files an InRelease lists.
COMPRESSIONS = (".xz", ".bz2", ".lzma", ".gz", ".lz4", ".zst", "")

ACNG_CONF = """\
# Private apt-cacher-ng of one test bed: proxy mode, no remapping, nothing system-wide.
CacheDir: {cache}
LogDir: {logs}
SupportDir: /usr/lib/apt-cacher-ng
BindAddress: {address}
Port: {port}
SocketPath: {socket}
PidFile: {pid}
ForeGround: 1
ExThreshold: 4
ReportPage: acng-report.html
# Index files stay fresh for 5 minutes: hosts updating one after another get the same copy.
FreshIndexMaxAge: 300
# Range requests on volatile files led to truncated indexes (see FIELD-NOTES).
VfileUseRangeOps: -1
"""


def free_port(address: str, preferred: int) -> int:
    """The first free port on ``address`` from ``preferred`` on.

    Not a kernel-picked one: apt-cacher-ng cannot bind a port above 32767 ("Error resolving
    address for binding").
    """
    for port in range(preferred, preferred + 100):
        with socket.socket() as sock:
            # Like the servers themselves: our own probes leave TIME_WAIT sockets behind.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((address, port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise BedError(f"no free TCP port on {address}")


def listening(address: str, port: int) -> bool:
    """Whether something accepts TCP connections on ``address:port``."""
    try:
        with socket.create_connection((address, port), timeout=1):
            return True
    except OSError:
        return False


def start_apt_cacher(folder: Path, address: str, port: int, cgroup_procs: list[Path]) -> Proc:
    """apt-cacher-ng on ``address:port`` with config, cache and logs under ``folder``."""
    conf = folder / "conf"
    for sub in (conf, folder / "cache", folder / "logs"):
        sub.mkdir(parents=True, exist_ok=True)
    (conf / "acng.conf").write_text(
        ACNG_CONF.format(
            cache=folder / "cache",
            logs=folder / "logs",
            address=address,
            port=port,
            socket=folder / "socket",
            pid=folder / "acng.pid",
        )
    )
    proc = spawn_daemon(
        ["apt-cacher-ng", "-c", conf],
        log=folder / "stdout.log",
        pid_file=folder / "spawn.pid",
        cgroup_procs=cgroup_procs,
    )
    _wait_listening(proc, address, port, "apt-cacher-ng", folder / "stdout.log")
    return proc


def start_wheelhouse(
    folder: Path, log: Path, address: str, port: int, cgroup_procs: list[Path]
) -> Proc:
    """A plain HTTP file server with directory listing for ``pip --find-links``."""
    folder.mkdir(parents=True, exist_ok=True)
    argv: list[str | Path] = [
        "/usr/bin/python3",
        "-m",
        "http.server",
        "--bind",
        address,
        "--directory",
        folder,
    ]
    proc = spawn_daemon(
        [*argv, str(port)],
        log=log,
        pid_file=log.with_suffix(".pid"),
        cgroup_procs=cgroup_procs,
    )
    _wait_listening(proc, address, port, "the wheelhouse server", log)
    return proc


def _wait_listening(proc: Proc, address: str, port: int, what: str, log: Path) -> None:
    def ready() -> bool:
        if not proc.alive():
            raise BedError(f"{what} exited at start; end of {log}:\n{tail(log)}")
        return listening(address, port)

    try:
        wait_until(ready, 15, f"{what} on {address}:{port}")
    except BedError as exc:
        raise BedError(f"{exc}\nend of {log}:\n{tail(log)}") from exc


@dataclass(frozen=True)
class IndexFile:
    """One file apt will ask for, as the proxy sees it."""

    url: str
    sha256: str
    size: int


def warm_apt_indexes(proxy: str, sources: list[Source], arch: str, cache: Path) -> None:
    """Fetch, through the proxy and one at a time, every index file a host's apt-get update
    asks for, checking each against its InRelease.

    A host that later runs ``apt-get update`` is then served from the proxy's cache: this
    guards against the hang seen when the proxy relayed a truncated index to several hosts at
    once (FIELD-NOTES). A file that arrives wrong is removed from the cache and fetched again.
    """
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({"http": proxy}))
    count = 0
    for src in sources:
        for uri in src.uris:
            for suite in src.suites:
                base = f"{uri.rstrip('/')}/dists/{suite}"
                release = _fetch(opener, f"{base}/InRelease", None, cache).decode()
                for index in _wanted(base, release, src.components, arch):
                    _fetch(opener, index.url, index, cache)
                    count += 1
    say(f"apt index files warmed in the proxy: {count} (and their InRelease)")


def _wanted(base: str, release: str, components: tuple[str, ...], arch: str) -> list[IndexFile]:
    listed = _sha256_section(release)
    by_hash = "Acquire-By-Hash: yes" in release
    wanted = []
    for comp in components:
        for stem in (f"{comp}/binary-{arch}/Packages", f"{comp}/i18n/Translation-en"):
            name = next((stem + c for c in COMPRESSIONS if stem + c in listed), None)
            if name is None:
                continue
            digest, size = listed[name]
            folder = name.rsplit("/", 1)[0]
            path = f"{folder}/by-hash/SHA256/{digest}" if by_hash else name
            wanted.append(IndexFile(f"{base}/{path}", digest, size))
    return wanted


def _sha256_section(release: str) -> dict[str, tuple[str, int]]:
    listed: dict[str, tuple[str, int]] = {}
    inside = False
    for line in release.splitlines():
        if not line.startswith(" "):
            inside = line.startswith("SHA256:")
            continue
        parts = line.split()
        if inside and len(parts) == 3:
            listed[parts[2]] = (parts[0], int(parts[1]))
    return listed


def _fetch(
    opener: urllib.request.OpenerDirector, url: str, want: IndexFile | None, cache: Path
) -> bytes:
    """GET ``url`` through the proxy with a deadline; retry (dropping the cached copy) on a
    short or wrong answer."""
    problem = ""
    for attempt in range(1, 4):
        try:
            data = _read(opener, url, deadline=time.monotonic() + 300)
        except (OSError, urllib.error.URLError, TimeoutError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if want is None or (
                len(data) == want.size and hashlib.sha256(data).hexdigest() == want.sha256
            ):
                return data
            problem = f"got {len(data)} bytes, want {want.size} with sha256 {want.sha256}"
        say(f"warming {url}: attempt {attempt} failed ({problem}); retrying")
        _drop_cached(cache, url)
    raise BedError(f"the apt proxy could not serve {url}: {problem}")


def _read(opener: urllib.request.OpenerDirector, url: str, deadline: float) -> bytes:
    chunks: list[bytes] = []
    with opener.open(url, timeout=60) as response:
        while chunk := response.read(1 << 16):
            chunks.append(chunk)
            if time.monotonic() > deadline:
                raise TimeoutError(f"transfer of {url} took more than 300 s")
    return b"".join(chunks)


def _drop_cached(cache: Path, url: str) -> None:
    # apt-cacher-ng stores http://HOST/PATH as CACHE/HOST/PATH plus a .head file beside it.
    stored = cache / url.split("://", 1)[1]
    for path in (stored, stored.with_name(stored.name + ".head")):
        path.unlink(missing_ok=True)
