"""Unlock links: a participant lifts the login lockout of their own seat.

The api signs, for one seat and a short while, a token that the ``wod`` authenticator in the
seat's JupyterHub checks (``/hub/wod-unlock/<seat>?token=…``): the manage page's start button
goes through it. Both sides share one key (``hub.unlock_key``, or one derived from
``secret_key`` when the api and the hub run with the same settings). A token lifts lockouts
only: the seat's password is still needed to log in.
"""

from __future__ import annotations

import hashlib
import hmac

#: Seconds an unlock token stays valid (the button is pressed, the hub answers at once).
UNLOCK_VALIDITY = 600


def derive_unlock_key(secret: str) -> str:
    """The unlock key derived from a secret of the platform (``secret_key``)."""
    return hmac.new(secret.encode(), b"wod-hub-unlock", hashlib.sha256).hexdigest()


def _signature(key: str, username: str, expires: int) -> str:
    message = f"{username}:{expires}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()[:32]


def unlock_token(key: str, username: str, now: float) -> str:
    """A token that unlocks seat ``username`` until :data:`UNLOCK_VALIDITY` after ``now``
    (seconds since the epoch)."""
    expires = int(now) + UNLOCK_VALIDITY
    return f"{expires}.{_signature(key, username, expires)}"


def valid_unlock_token(key: str, username: str, token: str, now: float) -> bool:
    """Whether ``token`` unlocks seat ``username`` at ``now``; never raises."""
    expires, _, signature = token.partition(".")
    if not key or not expires.isdigit() or len(expires) > 12 or int(expires) < now:
        return False
    return hmac.compare_digest(signature, _signature(key, username, int(expires)))
