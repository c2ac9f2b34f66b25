"""Where a seat's files go on the local filesystem: the :class:`~wod.hub.modes.base.SeatFiles`
of the hub and system modes.

The hub mode keeps every home under one folder owned by the agent's user; the system mode gives
each home to its seat's account. A mode whose seats live elsewhere (the single-user server's
contents API, a Kubernetes volume) provides another implementation.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath

from wod.content.render import RenderedFile

Owner = Callable[[str], "tuple[int, int] | None"]


def _nobody(username: str) -> tuple[int, int] | None:
    return None


class LocalSeatFiles:
    """Homes as folders ``<students_dir>/<username>`` on this host, mode 0700, owned by the
    seat's account when ``owner`` names one (system mode)."""

    def __init__(self, students_dir: Path, owner: Owner = _nobody) -> None:
        self.students_dir = students_dir
        self.owner = owner

    def _chown(self, username: str, path: Path) -> None:
        ids = self.owner(username)
        if ids is None:
            return
        for item in [path, *path.rglob("*")]:
            os.lchown(item, *ids)

    def home(self, username: str) -> Path:
        if "/" in username or username.startswith("."):
            raise ValueError(f"not a seat user name: {username!r}")
        return self.students_dir / username

    def reset_home(self, username: str, skeletons: Sequence[Path]) -> None:
        self.erase(username)
        home = self.home(username)
        self.students_dir.mkdir(parents=True, exist_ok=True)
        home.mkdir(mode=0o700)
        home.chmod(0o700)
        for skeleton in skeletons:
            shutil.copytree(skeleton, home, dirs_exist_ok=True, symlinks=True)
        self._chown(username, home)

    def deploy(self, username: str, folder: str, files: Sequence[RenderedFile]) -> None:
        target = self.home(username) / folder
        if target.exists():
            shutil.rmtree(target)
        for item in files:
            dest = target / item.path
            dest.parent.mkdir(parents=True, exist_ok=True)
            if item.content is None:
                shutil.copyfile(item.source, dest)
            else:
                dest.write_bytes(item.content)
        self._chown(username, target)

    def read_text(self, username: str, path: PurePosixPath) -> str | None:
        try:
            return (self.home(username) / path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return None

    def erase(self, username: str) -> None:
        home = self.home(username)
        if home.is_symlink() or home.is_file():
            home.unlink()
        elif home.exists():
            shutil.rmtree(home)
