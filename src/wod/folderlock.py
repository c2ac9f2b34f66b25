"""One data folder, one platform: ``wod up`` holds an exclusive lock on its data folder for as
long as it runs, so a second ``wod up`` on the same folder stops at once, naming the first."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

from wod.errors import ConfigError

LOCK_NAME = "wod-up.lock"


class FolderLock:
    """An exclusive ``flock`` on ``<folder>/wod-up.lock`` holding the owner's pid; released
    when the process exits, however it exits."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._handle: IO[str] | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            owner = handle.read().strip() or "unknown"
            handle.close()
            raise ConfigError(
                f"the data folder {self.path.parent} is used by another wod up (pid {owner}): "
                "stop it first, or give this one another --data-dir"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle

    def release(self) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle, fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None

    def __enter__(self) -> FolderLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
