"""The wod checkout a deployment is built from: where it is, what it holds, its version label.

A deployment installs a wheel of the checkout as it is on disk (uncommitted changes included),
so the label that tells two builds apart is a hash of the files that go into the wheel, with
the git commit beside it for the operator.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from wod.errors import ConfigError

#: What a wheel of wod is built from (relative to the checkout's root).
WHEEL_INPUTS = ("src", "pyproject.toml", "README.md", "LICENSE")
#: Never part of a build, wherever they appear.
SKIPPED_NAMES = {"__pycache__", ".mypy_cache", ".ruff_cache", ".pytest_cache"}
SKIPPED_SUFFIXES = (".pyc", ".pyo", ".egg-info")
VERSION_LINE = re.compile(r'^version\s*=\s*"([^"]+)"\s*$', re.MULTILINE)


@dataclass(frozen=True)
class Checkout:
    """A wod checkout: its root folder, base version, commit and content hash."""

    root: Path
    base_version: str
    commit: str
    dirty: bool
    source_hash: str

    @property
    def version(self) -> str:
        """The version the deployed wheel carries: base version + a local label (PEP 440)."""
        parts = []
        if self.commit:
            parts.append(f"g{self.commit[:7]}")
        if self.dirty or not self.commit:
            parts.append(f"d{self.source_hash[:8]}")
        return f"{self.base_version}+{'.'.join(parts)}"

    @property
    def playbook(self) -> Path:
        """The project's site playbook in this checkout."""
        return self.root / "deploy" / "site.yml"


def find_root(start: Path | None = None) -> Path:
    """The checkout holding ``start`` (default: the current folder), or the one wod runs from."""
    candidates = [start or Path.cwd()]
    candidates.append(Path(__file__).resolve().parents[3])
    for candidate in candidates:
        for folder in [candidate.resolve(), *candidate.resolve().parents]:
            if (folder / "deploy" / "site.yml").is_file() and (folder / "pyproject.toml").is_file():
                return folder
    raise ConfigError(
        f"no wod checkout (a folder with deploy/site.yml and pyproject.toml) at {candidates[0]}"
        " or above: run wod deploy from a clone of wod, or give --source"
    )


def open_checkout(root: Path) -> Checkout:
    """Describe the checkout at ``root`` (ConfigError when it is not one)."""
    root = root.resolve()
    if not (root / "deploy" / "site.yml").is_file() or not (root / "pyproject.toml").is_file():
        raise ConfigError(f"{root}: not a wod checkout (no deploy/site.yml or pyproject.toml)")
    match = VERSION_LINE.search((root / "pyproject.toml").read_text())
    if match is None:
        raise ConfigError(f'{root / "pyproject.toml"}: no version = "…" line')
    commit, dirty = _git_state(root)
    return Checkout(root, match[1], commit, dirty, source_hash(root))


def _git_state(root: Path) -> tuple[str, bool]:
    """(commit, whether the wheel's inputs differ from it); ("", True) outside git."""
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        return "", True
    status = _git(root, "status", "--porcelain", "--", *WHEEL_INPUTS)
    return head, bool(status)


def _git(root: Path, *args: str) -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def wheel_files(root: Path) -> list[Path]:
    """Every file a wheel of the checkout is built from, relative to ``root``, sorted."""
    found: list[Path] = []
    for name in WHEEL_INPUTS:
        path = root / name
        if path.is_file():
            found.append(Path(name))
            continue
        for folder, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not _skipped(d))
            for file in files:
                if not _skipped(file):
                    found.append((Path(folder) / file).relative_to(root))
    return sorted(found)


def _skipped(name: str) -> bool:
    return name in SKIPPED_NAMES or name.endswith(SKIPPED_SUFFIXES)


def source_hash(root: Path) -> str:
    """SHA-256 over the names and contents of :func:`wheel_files`."""
    digest = hashlib.sha256()
    for rel in wheel_files(root):
        digest.update(str(rel).encode() + b"\0")
        digest.update(hashlib.sha256((root / rel).read_bytes()).digest())
    return digest.hexdigest()


def copy_sources(checkout: Checkout, target: Path) -> Path:
    """Copy the wheel's inputs to ``target`` with the deployed version in its pyproject.toml.

    A build in a copy leaves the checkout as it was (setuptools writes ``build/`` and
    ``*.egg-info`` next to the sources) and lets the wheel carry the local version label.
    """
    for rel in wheel_files(checkout.root):
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(checkout.root / rel, target / rel)
    pyproject = target / "pyproject.toml"
    text = VERSION_LINE.sub(f'version = "{checkout.version}"', pyproject.read_text(), count=1)
    pyproject.write_text(text)
    return target
