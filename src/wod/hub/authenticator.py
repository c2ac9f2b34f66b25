"""The ``wod`` JupyterHub authenticator: a seat logs in with the password the backend agent set.

Hub mode checks it against the argon2 hashes of :class:`FileCredentialStore`; system mode
against the Linux account through PAM. Repeated failures lock out (what the original platform
left to fail2ban), narrowest first (:class:`LoginGuard`): an address that fails on a seat is
locked out of that seat while others still log in to it; an address that fails on many seats
is locked out of all; only a seat failed from very many addresses is locked for everyone, and
its participant lifts that with a start link (the credentials email's, the manage page's
start button: :mod:`wod.domain.unlock`), which also logs them in without the password. Every
lockout is logged. Configured by ``wod hub config`` (``c.JupyterHub.authenticator_class =
"wod"``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from jupyterhub.auth import Authenticator
from jupyterhub.handlers import BaseHandler
from tornado.httputil import url_concat
from traitlets import Float, Integer, Unicode, default

from wod.domain.unlock import read_start_token
from wod.hub.credentials import FileCredentialStore, valid_username
from wod.hub.used_tokens import UsedTokens

#: Keys that ``Lockout`` forgets first once it holds this many (addresses are unbounded).
MAX_KEYS = 100_000
#: Seconds the api's clock (which dates start tokens) may be behind the hub's (which dates its
#: users) before a start token made just after CREATE seems older than its seat.
CLOCK_SKEW = 10.0


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
        if len(self.failures) >= MAX_KEYS:
            self.forget(now)
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

    def lift(self, key: str) -> bool:
        """End the key's lockout and forget its failures; True when it was locked."""
        self.failures.pop(key, None)
        return self.locked_until.pop(key, None) is not None

    def forget(self, now: float) -> None:
        """Drop the keys whose failures are out of the window and whose lockout is over."""
        for key in [k for k, v in self.failures.items() if not v or v[-1] < now - self.window]:
            del self.failures[key]
        for key in [k for k, until in self.locked_until.items() if until <= now]:
            del self.locked_until[key]


class LoginGuard:
    """Which failed logins lock whom out, narrowest first: an address on one seat
    (``per_address_seat``), an address on any seat (``per_address``), a seat from any address
    (``per_seat``, set much higher: anyone can fail on a seat whose name they guess)."""

    def __init__(
        self,
        *,
        per_address_seat: int,
        per_address: int,
        per_seat: int,
        window: float,
        duration: float,
    ) -> None:
        self.lockout = Lockout(window, duration)
        self.limits = (per_address_seat, per_address, per_seat)

    @staticmethod
    def keys(username: str, address: str) -> tuple[str, str, str]:
        """The keys a login counts against, in the order of :attr:`limits`."""
        return (f"address {address} on seat {username}", f"address {address}", f"seat {username}")

    def refused(self, username: str, address: str, now: float) -> tuple[str, float] | None:
        """The lockout that refuses this login (key, seconds left), or None."""
        for key in self.keys(username, address):
            wait = self.lockout.locked(key, now)
            if wait:
                return key, wait
        return None

    def failed(self, username: str, address: str, now: float) -> list[tuple[str, int]]:
        """Count a failed login; the lockouts it started (key, limit)."""
        counted = zip(self.keys(username, address), self.limits, strict=True)
        return [(key, limit) for key, limit in counted if self.lockout.fail(key, limit, now)]

    def succeeded(self, username: str, address: str) -> None:
        """A good login forgets the failures of this address on this seat and of the seat."""
        pair, _, seat = self.keys(username, address)
        self.lockout.succeed(pair)
        self.lockout.succeed(seat)

    def lift(self, username: str, address: str) -> list[str]:
        """End the seat's own lockouts, for everyone and for this address; the keys lifted.
        The lockout of an address over all seats stays: it is not the seat's to lift."""
        pair, _, seat = self.keys(username, address)
        return [key for key in (pair, seat) if self.lockout.lift(key)]


class StartHandler(BaseHandler):  # type: ignore[misc]
    """``GET /hub/wod-start/<seat>?token=…&next=…``: a valid start token not used before logs
    the browser in to the seat (lifting the seat's own lockouts) and goes on to ``next``; any
    other leads to the login page with the user name filled in (``next`` kept)."""

    async def get(self, username: str) -> None:
        authenticator = self.authenticator
        token = self.get_argument("token", "")
        address = self.request.remote_ip or "unknown"
        found = self.find_user(username)  # None: the seat is not live (CLEANUP deleted it)
        made = getattr(found, "created", None)  # naive UTC in JupyterHub's database
        created = made.replace(tzinfo=UTC).timestamp() if made is not None else None
        if isinstance(authenticator, WodAuthenticator) and authenticator.start(
            username, token, address, seat_created=created
        ):
            user = await self.auth_to_user({"name": username})
            self.set_login_cookie(user)
            self.log.info("wod: %s logged in by its start link", username)
            self.redirect(self.get_next_url(user))
            return
        query = {"username": username}
        next_url = self.get_argument("next", "")
        if next_url:
            query["next"] = next_url
        login = self.settings.get("login_url") or self.hub.base_url + "login"
        self.redirect(url_concat(login, query))


class WodAuthenticator(Authenticator):  # type: ignore[misc]
    """Seats ``studentN`` with the passwords of the wod backend agent."""

    credentials_dir = Unicode(
        config=True, help="Folder of the seat password hashes written by the wod backend agent."
    )
    password_check = Unicode(
        "store", config=True, help="'store' (hub mode: the hashes) or 'pam' (system mode)."
    )
    pam_service = Unicode("login", config=True, help="PAM service of the 'pam' check.")
    lockout_attempts = Integer(
        5, config=True, help="Failed logins from one address on one seat that lock it out of it."
    )
    lockout_address_attempts = Integer(
        50, config=True, help="Failed logins from one address that lock the address out."
    )
    lockout_seat_attempts = Integer(
        100, config=True, help="Failed logins on one seat, from any address, that lock the seat."
    )
    lockout_window = Float(300.0, config=True, help="Seconds over which failures count.")
    lockout_duration = Float(300.0, config=True, help="Seconds a lockout lasts.")
    unlock_key = Unicode(
        "", config=True, help="Key of the api's start links (empty: start links are off)."
    )
    used_tokens_file = Unicode(
        "", config=True, help="File of the start tokens used (empty: kept in memory only)."
    )

    @default("allow_all")
    def _allow_all(self) -> bool:
        # Only seats that have a password can log in at all.
        return True

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.guard = LoginGuard(
            per_address_seat=self.lockout_attempts,
            per_address=self.lockout_address_attempts,
            per_seat=self.lockout_seat_attempts,
            window=self.lockout_window,
            duration=self.lockout_duration,
        )
        #: The lockouts' clock (seconds, monotonic) and the start tokens' (seconds since the
        #: epoch, as the api signs them); tests replace them.
        self.monotonic: Callable[[], float] = time.monotonic
        self.wall_clock: Callable[[], float] = time.time
        used = Path(self.used_tokens_file) if self.used_tokens_file else None
        self.used_tokens = UsedTokens(used)

    def get_handlers(self, app: Any) -> list[tuple[str, Any]]:
        handlers: list[tuple[str, Any]] = super().get_handlers(app)
        return [*handlers, (r"/wod-start/([a-z][a-z0-9_-]{0,31})", StartHandler)]

    def start(self, username: str, token: str, address: str, *, seat_created: float | None) -> bool:
        """Whether ``token`` is a valid start token of seat ``username``, whose hub user was
        created at ``seat_created`` (epoch seconds; None: there is none), made since and used
        for the first time, which it now is; then the seat's lockouts (for everyone, and for
        ``address``) are lifted too."""
        now = self.wall_clock()
        signed = read_start_token(self.unlock_key, username, token, now)
        if signed is None:
            self.log.warning("wod: start link for %r from %s refused", username, address)
            return False
        if seat_created is None or seat_created > signed.issued + CLOCK_SKEW:
            self.log.warning(
                "wod: start link for %r from %s refused: made before the seat", username, address
            )
            return False
        if not self.used_tokens.use(signed.nonce, signed.expires, now):
            self.log.warning("wod: start link for %r from %s used already", username, address)
            return False
        for key in self.guard.lift(username, address):
            self.log.warning("wod: %s unlocked by its participant's link", key)
        return True

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
        refused = self.guard.refused(username, address, self.monotonic())
        if refused is not None:
            key, wait = refused
            self.log.warning("wod: login refused, %s is locked out for %.0f s more", key, wait)
            return None
        if await asyncio.to_thread(self._check, username, password):
            self.guard.succeeded(username, address)
            return str(username)
        self.log.warning("wod: failed login for %r from %s", username, address)
        for key, limit in self.guard.failed(username, address, self.monotonic()):
            self.log.warning(
                "wod: %s locked out for %.0f s after %d failed logins",
                key,
                self.lockout_duration,
                limit,
            )
        return None
