"""Start links: a participant opens their own seat in one click, without typing its password.

The api signs, for one seat and a short while, a one-time token that the ``wod``
authenticator in the seat's JupyterHub checks (``/hub/wod-start/<seat>?token=…&next=…``): a
valid, unused token logs the browser in to that seat and lifts the seat's own login lockouts;
a used, expired or forged one leads to the hub's login page with the user name filled in (the
password still logs in). The credentials email and the manage page's start button carry one.
Both sides share one key (``hub.unlock_key``, or one derived from ``secret_key`` when the api
and the hub run with the same settings). Each token has a random nonce; the hub remembers the
nonces used until their tokens expire (:class:`wod.hub.used_tokens.UsedTokens`), so a token
logs in once, even across the hub's restarts. It also says when it was made: the hub refuses
it for a seat made again since (its hub user is deleted at CLEANUP and created at CREATE), so
a token of the seat's last participant never opens it for the next.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

#: Seconds a start token stays valid unless the api is told otherwise (hub.start_link_validity).
START_VALIDITY = 3600
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


def derive_unlock_key(secret: str) -> str:
    """The start links' key derived from a secret of the platform (``secret_key``)."""
    return hmac.new(secret.encode(), b"wod-hub-unlock", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class StartToken:
    """What a valid start token says: its one-time nonce and when it expires (epoch seconds)."""

    nonce: str
    issued: int
    expires: int


def _signature(key: str, username: str, issued: int, expires: int, nonce: str) -> str:
    message = f"start:{username}:{issued}:{expires}:{nonce}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def start_token(key: str, username: str, now: float, validity: float = START_VALIDITY) -> str:
    """A one-time token made at ``now`` (seconds since the epoch) that logs in to seat
    ``username`` until ``validity`` seconds later."""
    issued, expires = int(now), int(now + validity)
    nonce = secrets.token_urlsafe(18)
    return f"{issued}.{expires}.{nonce}.{_signature(key, username, issued, expires, nonce)}"


def _epoch(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 12 else None


def read_start_token(key: str, username: str, token: str, now: float) -> StartToken | None:
    """What ``token`` says when it is a start token of seat ``username`` signed with ``key``
    and not expired at ``now``; None otherwise (never raises). Whether it was used already,
    or made before the seat, is the hub's to know."""
    parts = token.split(".")
    if not key or len(parts) != 4:
        return None
    issued, expires, (nonce, signature) = _epoch(parts[0]), _epoch(parts[1]), parts[2:]
    if issued is None or expires is None or expires < now or not _NONCE.match(nonce):
        return None
    if not hmac.compare_digest(signature, _signature(key, username, issued, expires, nonce)):
        return None
    return StartToken(nonce, issued, expires)
