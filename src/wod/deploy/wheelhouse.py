"""The wheelhouse a deployment installs from: every dependency wheel, pinned by
``requirements/constraints.txt``, and a wheel of the checkout, so every host runs the same
versions without reaching a package index.

Both live in a cache outside the checkout, by hash: the dependencies under a key of the
constraints, ``pyproject.toml``, Python and machine; the wod wheel under its version label
(which carries the sources' hash). A second deploy of the same checkout builds nothing.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from wod.deploy.checkout import VERSION_LINE, Checkout, copy_sources
from wod.errors import ConfigError, Failure

#: The extras every host gets wheels for: the hub's (JupyterHub, JupyterLab, kernels).
EXTRAS = "hub"
CONSTRAINTS = Path("requirements/constraints.txt")
CACHE_ENV = "WOD_DEPLOY_CACHE"


def default_cache() -> Path:
    """``$WOD_DEPLOY_CACHE``, else ``$XDG_CACHE_HOME/wod/deploy``, else ``~/.cache/wod/deploy``."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "wod" / "deploy"


def python_tag() -> str:
    """The CPython tag of the controller's Python (``cp311``): the hosts must run the same."""
    return f"cp{sys.version_info.major}{sys.version_info.minor}"


@dataclass(frozen=True)
class Wheelhouse:
    """What the playbooks install from (paths on the controller)."""

    version: str
    commit: str
    deps_key: str
    deps_archive: Path
    wod_wheel: Path
    python_tag: str

    def playbook_vars(self) -> dict[str, Any]:
        """The ``wod_build`` variable the playbooks read."""
        return {
            "version": self.version,
            "commit": self.commit,
            "deps_key": self.deps_key,
            "deps_archive": str(self.deps_archive),
            "wod_wheel": str(self.wod_wheel),
            "python": f"{self.python_tag[2]}.{self.python_tag[3:]}",
        }


def deps_key(checkout: Checkout) -> str:
    """Hash of what decides the dependency wheels (the version line of pyproject left out)."""
    pyproject = VERSION_LINE.sub("", (checkout.root / "pyproject.toml").read_text(), count=1)
    constraints = checkout.root / CONSTRAINTS
    if not constraints.is_file():
        raise ConfigError(f"{constraints}: missing (the pinned versions every host installs)")
    digest = hashlib.sha256()
    for part in (pyproject, constraints.read_text(), python_tag(), platform.machine(), EXTRAS):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def build_wheelhouse(
    checkout: Checkout, cache: Path | None = None, say: Callable[[str], None] = print
) -> Wheelhouse:
    """The wheelhouse of ``checkout``: from the cache, or built (``pip wheel``) into it."""
    cache = (cache or default_cache()).resolve()
    key = deps_key(checkout)
    with _locked(cache):
        archive = cache / f"deps-{key}.tar"
        wheel_dir = cache / f"wod-{checkout.version}"
        if archive.is_file() and _wheel_in(wheel_dir):
            say(f"wheelhouse: wod {checkout.version} and its dependencies, from {cache}")
        else:
            _build(checkout, archive, wheel_dir, say)
        wheel = _wheel_in(wheel_dir)
        assert wheel is not None
    return Wheelhouse(checkout.version, checkout.commit, key, archive, wheel, python_tag())


def _wheel_in(folder: Path) -> Path | None:
    wheels = sorted(folder.glob("wod-*.whl")) if folder.is_dir() else []
    return wheels[0] if wheels else None


def _build(checkout: Checkout, archive: Path, wheel_dir: Path, say: Callable[[str], None]) -> None:
    with tempfile.TemporaryDirectory(prefix="wod-build-", dir=archive.parent) as tmp:
        source = copy_sources(checkout, Path(tmp) / "src")
        out = Path(tmp) / "wheels"
        if archive.is_file():
            say(f"wheelhouse: building wod {checkout.version} (dependencies cached)")
            _pip_wheel(["--no-deps", str(source)], out)
        else:
            say(f"wheelhouse: building wod {checkout.version} and every pinned dependency")
            _pip_wheel(["-c", str(checkout.root / CONSTRAINTS), f"{source}[{EXTRAS}]"], out)
            _write_deps_archive(out, checkout.root / CONSTRAINTS, archive)
        built = _wheel_in(out)
        if built is None:
            raise Failure("pip wheel built no wheel of wod")
        staged = Path(tmp) / "wod"
        staged.mkdir()
        shutil.move(built, staged / built.name)
        shutil.rmtree(wheel_dir, ignore_errors=True)
        staged.rename(wheel_dir)
    say(f"wheelhouse: ready in {archive.parent}")


def _pip_wheel(args: list[str], out: Path) -> None:
    command = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
    result = subprocess.run(
        [*command, "-w", str(out), *args], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        # pip warns about every configured find-links folder that is missing: not the error.
        lines = [line for line in result.stderr.splitlines() if "is ignored" not in line]
        raise Failure(f"pip wheel failed ({result.returncode}): {' '.join(lines[-8:])[:1500]}")


def _write_deps_archive(wheels: Path, constraints: Path, archive: Path) -> None:
    """A plain tar (wheels are compressed already) of the dependency wheels + constraints."""
    tmp = archive.with_name(f".{archive.name}.{os.getpid()}")
    with tarfile.open(tmp, "w") as tar:
        for wheel in sorted(wheels.glob("*.whl")):
            if not wheel.name.startswith("wod-"):
                tar.add(wheel, arcname=wheel.name)
        tar.add(constraints, arcname="constraints.txt")
    tmp.rename(archive)


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    """One build at a time per cache: two deploys on one machine wait for each other."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("w") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
