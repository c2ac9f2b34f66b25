"""The ``wod`` JupyterHub authenticator: a seat logs in with the password the backend agent
set for it; the password is checked against the hashes of :class:`FileCredentialStore`.

Configured by ``wod hub config`` (``c.JupyterHub.authenticator_class = "wod"``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Unicode, default

from wod.hub.credentials import FileCredentialStore


class WodAuthenticator(Authenticator):  # type: ignore[misc]
    """Seats ``studentN`` with passwords from the wod credential store."""

    credentials_dir = Unicode(
        config=True, help="Folder of the seat password hashes written by the wod backend agent."
    )

    @default("allow_all")
    def _allow_all(self) -> bool:
        # Only seats that have a password in the store can log in at all.
        return True

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        username = self.normalize_username(str(data.get("username", "")))
        password = str(data.get("password", ""))
        store = FileCredentialStore(Path(self.credentials_dir))
        if await asyncio.to_thread(store.verify, username, password):
            return str(username)
        self.log.warning("wod: failed login for %r", username)
        return None
