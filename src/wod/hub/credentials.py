"""Where seat credentials live on the hub host: argon2 hashes, one file per seat.

The backend agent writes them, the ``wod`` authenticator inside JupyterHub reads them; no
plaintext password is ever stored on the hub host. A Kubernetes location would provide another
:class:`CredentialStore` (a secret store), not a rewrite.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path
from typing import Protocol

from wod.domain.secrets import hash_password, verify_password

_USERNAME = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")


class CredentialStore(Protocol):
    """Seat passwords. Contract: ``set_password`` replaces any previous password at once;
    after ``remove`` nobody can log in as that user; ``verify`` never raises."""

    def set_password(self, username: str, password: str) -> None: ...

    def remove(self, username: str) -> None: ...

    def verify(self, username: str, password: str) -> bool: ...


def valid_username(username: str) -> bool:
    return bool(_USERNAME.match(username))


class FileCredentialStore:
    """``<folder>/<username>`` holds the argon2 hash; writes are atomic (rename)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, username: str) -> Path:
        if not valid_username(username):
            raise ValueError(f"not a seat user name: {username!r}")
        return self.folder / username

    def set_password(self, username: str, password: str) -> None:
        path = self._path(username)
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=f".{username}.")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(hash_password(password))
            os.chmod(tmp, 0o600)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def remove(self, username: str) -> None:
        self._path(username).unlink(missing_ok=True)

    def verify(self, username: str, password: str) -> bool:
        if not valid_username(username) or not password:
            return False
        try:
            stored = self._path(username).read_text().strip()
        except OSError:
            return False
        return verify_password(password, stored)


class MemoryCredentialStore:
    """In-memory store for tests of the agent without a hub."""

    def __init__(self) -> None:
        self._hashes: dict[str, str] = {}
        self._lock = threading.Lock()

    def set_password(self, username: str, password: str) -> None:
        with self._lock:
            self._hashes[username] = hash_password(password)

    def remove(self, username: str) -> None:
        with self._lock:
            self._hashes.pop(username, None)

    def verify(self, username: str, password: str) -> bool:
        with self._lock:
            stored = self._hashes.get(username)
        return stored is not None and verify_password(password, stored)
