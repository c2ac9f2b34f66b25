"""The virtualenv the seats' servers run from, with the Jupyter kernels of the location.

In system mode every seat runs its server as its own Linux user, so the environment must be
executable by every user: it is built from the system's ``/usr/bin/python3`` (a Python under
``/root`` is not), at a path whose parents are all traversable.
"""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

from wod.errors import ConfigError
from wod.hub.lab import install_lab, lab_digest
from wod.hub.lab import is_built as lab_built

#: kernel name → (packages to install, command that registers the kernelspec, or None)
KERNELS: dict[str, tuple[list[str], list[str] | None]] = {
    "python3": (["ipykernel"], None),
    "bash": (["bash_kernel"], ["-m", "bash_kernel.install", "--sys-prefix"]),
    "ssh": (["sshkernel"], ["-m", "sshkernel", "install", "--sys-prefix"]),
    "powershell": (
        ["powershell_kernel"],
        ["-m", "powershell_kernel.install", "--powershell-command", "pwsh", "--sys-prefix"],
    ),
}
SERVER_PACKAGES = ["jupyterhub", "jupyterlab"]
#: Written into a virtualenv once it is complete: what it was built with (:func:`venv_stamp`).
STAMP_FILE = ".wod-venv"


def unknown_kernels(kernels: Sequence[str]) -> list[str]:
    return [k for k in kernels if k not in KERNELS]


def traversable_by_all(path: Path) -> list[Path]:
    """The parents of ``path`` that other users cannot enter (should be empty)."""
    blocked = []
    for parent in [path, *path.parents]:
        if parent.exists() and not parent.stat().st_mode & stat.S_IXOTH:
            blocked.append(parent)
    return blocked


def venv_stamp(kernels: Sequence[str], constraints: Path | None) -> str:
    """What a complete virtualenv was built with: its kernels, its pinned versions and the
    seats' JupyterLab extension (:mod:`wod.hub.lab`)."""
    pins = constraints.read_bytes() if constraints is not None and constraints.is_file() else b""
    return f"{','.join(kernels)} {hashlib.sha256(pins).hexdigest()[:16]} lab-{lab_digest()}"


def is_built(path: Path, kernels: Sequence[str], constraints: Path | None) -> bool:
    """Whether ``path`` is a virtualenv that :func:`build_venv` completed with these kernels
    and pins (a build that stopped half-way leaves no stamp)."""
    stamp = path / STAMP_FILE
    return stamp.is_file() and stamp.read_text().strip() == venv_stamp(kernels, constraints)


def build_venv(
    path: Path,
    kernels: Sequence[str],
    *,
    python: str = "/usr/bin/python3",
    constraints: Path | None = None,
    say: Callable[[str], None] = print,
) -> Path:
    """Create (or complete) the virtualenv with the server and the kernels; its path."""
    if unknown := unknown_kernels(kernels):
        raise ConfigError(f"unknown kernel(s) {unknown}; known: {sorted(KERNELS)}")
    path = path.resolve()
    if blocked := traversable_by_all(path.parent):
        raise ConfigError(f"other users cannot enter {blocked[0]}: choose a path they can reach")
    if not (path / "bin" / "python").exists():
        say(f"creating {path} with {python}")
        _run([python, "-m", "venv", str(path)])
    packages = [*SERVER_PACKAGES, *(p for k in kernels for p in KERNELS[k][0])]
    say(f"installing {', '.join(packages)}")
    pip = [
        str(path / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    if constraints is not None and constraints.is_file():
        pip += ["-c", str(constraints)]
    _run(pip + packages)
    # An optional format checker of jsonschema that compiles a grammar at import: 0.8 s of
    # every server's start (see scripts/bootstrap); nothing a seat runs needs it.
    _run([str(path / "bin" / "python"), "-m", "pip", "uninstall", "-q", "-y", "rfc3987-syntax"])
    for kernel in kernels:
        command = KERNELS[kernel][1]
        if command is not None:
            _run([str(path / "bin" / "python"), *command])
    if not lab_built():
        say("the seats' JupyterLab extension is not built (scripts/bootstrap builds it)")
    install_lab(path, site_packages(path))
    os.chmod(path, 0o755)  # noqa: S103 - every seat's user runs it
    (path / STAMP_FILE).write_text(venv_stamp(kernels, constraints) + "\n")
    say(f"ready: {path / 'bin' / 'jupyterhub-singleuser'} with kernels {', '.join(kernels)}")
    return path


def site_packages(path: Path) -> Path:
    """The ``site-packages`` folder of the virtualenv at ``path``."""
    code = "import sysconfig; print(sysconfig.get_path('purelib'))"
    result = subprocess.run(
        [str(path / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise ConfigError(f"{path}: not a working virtualenv ({result.stderr.strip()[:200]})")
    return Path(result.stdout.strip())


def _run(command: list[str]) -> None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise ConfigError(f"cannot run {command[0]}: {exc}") from exc
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if "is ignored" not in line]
        raise ConfigError(f"{' '.join(command[:4])} … failed: {' '.join(lines[-5:])[:500]}")
