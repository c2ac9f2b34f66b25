"""The ``wod`` JupyterHub authenticator: a seat logs in with the password the backend agent set.

Hub mode checks it against the argon2 hashes of :class:`FileCredentialStore`; system mode
against the Linux account through PAM. Either way repeated failures lock a seat, and an
address, out for a while (what the original platform left to fail2ban), and every lockout is
logged. Configured by ``wod hub config`` (``c.JupyterHub.authenticator_class = "wod"``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from traitlets import Float, Integer, Unicode, default

from wod.hub.credentials import FileCredentialStore, valid_username


class Lockout:
    """Failed attempts per key in a sliding window; a key over its limit is locked a while."""

    def __init__(self, window: float, duration: float) -> None:
        self.window = window
        self.duration = duration
        self.failures: dict[str, deque[float]] = {}
        self.locked_until: dict[str, float] = {}

    def locked(self, key: str, now: float) -> float:
        """Seconds the key stays locked (0 when it is not)."""
        return max(0.0, self.locked_until.get(key, 0.0) - now)

    def fail(self, key: str, limit: int, now: float) -> bool:
        """Count a failure; True when it locks the key."""
        attempts = self.failures.setdefault(key, deque())
        attempts.append(now)
        while attempts and attempts[0] < now - self.window:
            attempts.popleft()
        if len(attempts) >= limit:
            self.locked_until[key] = now + self.duration
            attempts.clear()
            return True
        return False

    def succeed(self, key: str) -> None:
        self.failures.pop(key, None)


class WodAuthenticator(Authenticator):  # type: ignore[misc]
    """Seats ``studentN`` with the passwords of the wod backend agent."""

    credentials_dir = Unicode(
        config=True, help="Folder of the seat password hashes written by the wod backend agent."
    )
    password_check = Unicode(
        "store", config=True, help="'store' (hub mode: the hashes) or 'pam' (system mode)."
    )
    pam_service = Unicode("login", config=True, help="PAM service of the 'pam' check.")
    lockout_attempts = Integer(5, config=True, help="Failed logins of one seat that lock it.")
    lockout_address_attempts = Integer(
        50, config=True, help="Failed logins from one address that lock the address."
    )
    lockout_window = Float(300.0, config=True, help="Seconds over which failures count.")
    lockout_duration = Float(300.0, config=True, help="Seconds a lockout lasts.")

    @default("allow_all")
    def _allow_all(self) -> bool:
        # Only seats that have a password can log in at all.
        return True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._lockout = Lockout(self.lockout_window, self.lockout_duration)

    def _check(self, username: str, password: str) -> bool:
        if not valid_username(username) or not password:
            return False
        if self.password_check == "pam":  # noqa: S105 - a mode, not a password
            import pamela

            try:
                pamela.authenticate(username, password, service=self.pam_service)
            except pamela.PAMError:
                return False
            return True
        return FileCredentialStore(Path(self.credentials_dir)).verify(username, password)

    async def authenticate(self, handler: Any, data: dict[str, str]) -> str | None:
        username = self.normalize_username(str(data.get("username", "")))
        password = str(data.get("password", ""))
        address = getattr(getattr(handler, "request", None), "remote_ip", None) or "unknown"
        now = time.monotonic()
        keys = {
            f"seat {username}": self.lockout_attempts,
            f"address {address}": self.lockout_address_attempts,
        }
        for key in keys:
            wait = self._lockout.locked(key, now)
            if wait:
                self.log.warning("wod: login refused, %s is locked out for %.0f s more", key, wait)
                return None
        if await asyncio.to_thread(self._check, username, password):
            self._lockout.succeed(f"seat {username}")
            return str(username)
        self.log.warning("wod: failed login for %r from %s", username, address)
        for key, limit in keys.items():
            if self._lockout.fail(key, limit, now):
                self.log.warning(
                    "wod: %s locked out for %.0f s after %d failed logins",
                    key,
                    self.lockout_duration,
                    limit,
                )
        return None
