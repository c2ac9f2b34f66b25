"""The hosts' root filesystem: built once with debootstrap, cached outside the clone.

The cache holds a zstd tarball keyed by a hash of the package list and the recipe version,
and that tarball unpacked once into a folder that every host uses, read-only, as the lower
layer of its overlayfs. A file lock keeps two concurrent runs from building it twice.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.bed.system import BedError, run, say, step

SUITE = "bookworm"
# Bump when the build recipe below changes: it is part of the cache key.
RECIPE_VERSION = 3
PACKAGES = (
    "ca-certificates",
    "dbus",
    "iproute2",
    "netbase",
    "openssh-server",
    "procps",
    "python3",
    "python3-apt",
    "python3-packaging",
    "python3-pip",
    "python3-venv",
    "sudo",
    "systemd",
    "systemd-sysv",
)
# Outside the clone: it outlives work trees and is shared by every run on the machine.
DEFAULT_CACHE = Path(os.environ.get("WOD_TESTBED_CACHE") or "/var/cache/wod-testbed")
SOURCES_DEB822 = Path("/etc/apt/sources.list.d/debian.sources")
SOURCES_LIST = Path("/etc/apt/sources.list")

# Runs inside a private mount namespace, so the tmpfs vanishes with it even after a crash.
# debootstrap fsyncs every file: on a tmpfs that costs nothing.
BUILD_SCRIPT = r"""
set -eu
work="$1"; out="$2"; mirror="$3"; packages="$4"; suite="$5"
mount -t tmpfs -o size=3g,mode=0755 wod-testbed-build "$work"
r="$work/root"
debootstrap --variant=minbase --components=main --include="$packages" "$suite" "$r" "$mirror"
# Each host gets its own host keys, machine id, hostname and apt sources before it boots.
rm -f "$r"/etc/ssh/ssh_host_*
: > "$r/etc/machine-id"
echo wod-testbed > "$r/etc/hostname"
rm -f "$r/etc/apt/sources.list"
printf '# no DNS in the test bed: names come from /etc/hosts\n' > "$r/etc/resolv.conf"
# Empty lists, back-dated: else Ansible's apt cache_valid_time skips the update.
rm -rf "$r"/var/lib/apt/lists/* "$r"/var/cache/apt/archives/*.deb "$r"/var/cache/apt/*.bin
mkdir -p "$r/var/lib/apt/lists/partial"
touch -d 2000-01-01 "$r/var/lib/apt/lists"
# Throw-away hosts: dpkg need not fsync (saves minutes of apt-get install).
echo force-unsafe-io > "$r/etc/dpkg/dpkg.cfg.d/wod-testbed-unsafe-io"
# A timer running apt-get on its own would take the dpkg lock in the middle of a test.
ln -sf /dev/null "$r/etc/systemd/system/apt-daily.timer"
ln -sf /dev/null "$r/etc/systemd/system/apt-daily-upgrade.timer"
tar --numeric-owner --xattrs --xattrs-include='*' -C "$r" -cf - . | zstd -q -T0 -9 -o "$out.tmp"
mv "$out.tmp" "$out"
"""


@dataclass(frozen=True)
class Source:
    """One apt source: a deb822 stanza (or a one-line entry)."""

    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]
    signed_by: str = ""


def machine_codename() -> str:
    """This machine's Debian codename (the suites in its sources name it)."""
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("VERSION_CODENAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return SUITE


def machine_sources() -> list[Source]:
    """The machine's Debian sources, read at run time (no mirror name is written in code)."""
    if SOURCES_DEB822.exists():
        sources = _parse_deb822(SOURCES_DEB822.read_text())
    elif SOURCES_LIST.exists():
        sources = _parse_one_line(SOURCES_LIST.read_text())
    else:
        sources = []
    if not sources:
        raise BedError(f"no Debian source found in {SOURCES_DEB822} or {SOURCES_LIST}")
    return sources


def _parse_deb822(text: str) -> list[Source]:
    sources = []
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, value = line.split(":", 1)
            fields[key.strip().lower()] = value.strip()
        if "deb" in fields.get("types", "").split() and fields.get("uris"):
            sources.append(
                Source(
                    tuple(fields["uris"].split()),
                    tuple(fields.get("suites", "").split()),
                    tuple(fields.get("components", "main").split()),
                    fields.get("signed-by", ""),
                )
            )
    return sources


def _parse_one_line(text: str) -> list[Source]:
    sources = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if len(words) < 3 or words[0] != "deb":
            continue
        if words[1].startswith("["):
            # Options such as [signed-by=...] run to the closing bracket.
            end = next(i for i, w in enumerate(words) if w.endswith("]"))
            words = [words[0], *words[end + 1 :]]
        sources.append(Source((words[1],), (words[2],), tuple(words[3:]) or ("main",)))
    return sources


def host_sources() -> list[Source]:
    """The machine's sources with its codename swapped for the image's (bookworm)."""
    codename = machine_codename()
    swapped = []
    for src in machine_sources():
        suites = tuple(s.replace(codename, SUITE, 1) for s in src.suites)
        swapped.append(Source(src.uris, suites, src.components, src.signed_by))
    return swapped


def sources_text(sources: list[Source]) -> str:
    """deb822 text for a host's /etc/apt/sources.list.d/debian.sources."""
    stanzas = []
    for src in sources:
        lines = [
            "Types: deb",
            f"URIs: {' '.join(src.uris)}",
            f"Suites: {' '.join(src.suites)}",
            f"Components: {' '.join(src.components)}",
        ]
        if src.signed_by:
            lines.append(f"Signed-By: {src.signed_by}")
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def main_mirror() -> str:
    """The mirror debootstrap uses: the first source that carries the image's suite."""
    for src in host_sources():
        if SUITE in src.suites:
            return src.uris[0]
    raise BedError(f"no source for suite {SUITE} in the machine's apt sources")


def image_key() -> str:
    """Cache key: recipe version, suite, architecture and package list."""
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    recipe = {"recipe": RECIPE_VERSION, "suite": SUITE, "arch": arch, "packages": PACKAGES}
    digest = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()
    return f"{SUITE}-{arch}-{digest[:12]}"


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        if _busy(lock.fileno()):
            say(f"another run builds the image: waiting for {cache / '.lock'}")
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _busy(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def ensure_image(cache: Path = DEFAULT_CACHE, *, rebuild: bool = False) -> Path:
    """The unpacked root filesystem (lower layer), building and unpacking it when missing."""
    key = image_key()
    tarball = cache / f"{key}.tar.zst"
    lower = cache / key
    with _locked(cache):
        if rebuild or not tarball.exists():
            _build(tarball, cache)
        if rebuild and lower.exists():
            # Hosts of a running bed may still use it: rename, remove it on a later unpack.
            lower.rename(cache / f".old-{key}-{time.time_ns()}")
        if not lower.exists():
            _unpack(tarball, lower)
        _remove_stale(cache)
    return lower


def _build(tarball: Path, cache: Path) -> None:
    mirror = main_mirror()
    work = cache / f".build-{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    log = cache / "build.log"
    try:
        with step(f"building the root filesystem ({SUITE}, debootstrap on a tmpfs; log {log})"):
            result = run(
                [
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "/bin/sh",
                    "-c",
                    BUILD_SCRIPT,
                    "build",
                    work,
                    tarball,
                    mirror,
                    ",".join(PACKAGES),
                    SUITE,
                ],
                check=False,
                timeout=1800,
            )
            log.write_text(result.stdout + result.stderr)
            if result.returncode != 0:
                raise BedError(
                    f"image build failed ({result.returncode}); end of {log}:\n"
                    + "\n".join((result.stdout + result.stderr).splitlines()[-15:])
                )
    finally:
        shutil.rmtree(work, ignore_errors=True)
        Path(f"{tarball}.tmp").unlink(missing_ok=True)
    say(f"image {tarball} ({tarball.stat().st_size / 1e6:.0f} MB)")


def _unpack(tarball: Path, lower: Path) -> None:
    tmp = lower.parent / f".unpack-{lower.name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(mode=0o755)
    with step(f"unpacking {tarball.name}"):
        run(
            [
                "tar",
                "--zstd",
                "--numeric-owner",
                "--xattrs",
                "--xattrs-include=*",
                "-p",
                "-C",
                tmp,
                "-xf",
                tarball,
            ],
            timeout=600,
        )
        tmp.rename(lower)


def _remove_stale(cache: Path) -> None:
    # Leftovers of an interrupted build or unpack, and images renamed by a rebuild.
    for old in cache.glob(".old-*"):
        if not _in_use(old):
            shutil.rmtree(old, ignore_errors=True)
    for tmp in cache.glob(".unpack-*"):
        pid = tmp.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _in_use(folder: Path) -> bool:
    # An overlay of a running host names its lower folder in /proc/*/mountinfo.
    needle = str(folder)
    for info in Path("/proc").glob("[0-9]*/mountinfo"):
        try:
            if needle in info.read_text():
                return True
        except OSError:
            continue
    return False
