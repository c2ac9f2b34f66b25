"""Random secrets and how they are kept: tokens hashed, seat passwords encrypted or hashed."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

#: Letters and digits but the look-alikes (0 O o, 1 l I), which participants copy by hand.
LOOK_ALIKES = "0Oo1lI"
_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in LOOK_ALIKES)
_hasher = PasswordHasher()


def new_password(length: int = 16) -> str:
    """A seat password from a CSPRNG: letters and digits only, safe inside notebook JSON, and
    none of the :data:`LOOK_ALIKES` (16 characters of 56: 92 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def new_token(prefix: str) -> str:
    """A bearer token with a recognisable prefix (``wodl_`` location, ``wodm_`` manage)."""
    return f"{prefix}_{secrets.token_urlsafe(32)}"


MANAGE_PREFIX = "wodm"
CONFIRM_PREFIX = "wodc"
CLAIM_PREFIX = "wodw"
KEEP_PREFIX = "wodk"
ADMIN_PREFIX = "woda"
#: A seat's lab token (the JupyterLab extension's credential, ``/api/v1/seat/…`` only).
LAB_PREFIX = "wods"
TIMESUP_PREFIX = "wodt"


def new_nonce() -> str:
    return secrets.token_hex(16)


def _derived_token(secret_key: str, purpose: str, prefix: str, nonce: str) -> str:
    """A token derived from a random nonce and the secret key, so that an email rendered when
    it is sent can carry it without the token being stored anywhere (only its hash is,
    :func:`hash_token`); ``purpose`` keeps the tokens of one nonce for two uses apart."""
    digest = hmac.new(secret_key.encode(), f"{purpose}:{nonce}".encode(), hashlib.sha256).digest()
    return f"{prefix}_{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def manage_token(secret_key: str, nonce: str) -> str:
    """A registration's manage token (the personal manage link of its emails)."""
    return _derived_token(secret_key, "manage", MANAGE_PREFIX, nonce)


def confirm_token(secret_key: str, nonce: str) -> str:
    """A registration's confirmation token (the link of its confirmation email), derived like
    the manage token from a nonce of its own."""
    return _derived_token(secret_key, "confirm", CONFIRM_PREFIX, nonce)


def claim_token(secret_key: str, nonce: str) -> str:
    """A waiting-list offer's claim token (the link of its offer email), derived like the
    manage token from a nonce of its own."""
    return _derived_token(secret_key, "claim", CLAIM_PREFIX, nonce)


def keep_token(secret_key: str, nonce: str) -> str:
    """The token of an idle warning's "Keep my seat" link, derived from the warning's nonce."""
    return _derived_token(secret_key, "keep", KEEP_PREFIX, nonce)


def timesup_token(secret_key: str, nonce: str) -> str:
    """The token of a registration's "Time's up" page (the page the seat's lab shows when the
    seat ends), derived from the manage nonce with a purpose of its own: it shows the outcome
    and nothing else."""
    return _derived_token(secret_key, "timesup", TIMESUP_PREFIX, nonce)


def hash_token(token: str) -> str:
    """Tokens carry 256 random bits, so a plain SHA-256 is enough to store them."""
    return hashlib.sha256(token.encode()).hexdigest()


def same_token(token: str, token_hash: str) -> bool:
    return hmac.compare_digest(hash_token(token), token_hash)


def use_password_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Hash passwords with ``hasher`` from now on; returns the one used until now. Only tests
    change it (cheap parameters: a suite hashes hundreds of passwords); a hash records its own
    parameters, so every hash verifies whichever hasher made it."""
    global _hasher
    previous, _hasher = _hasher, hasher
    return previous


def hash_password(password: str) -> str:
    """A slow salted hash (argon2id) for passwords people type."""
    return _hasher.hash(password)


def verify_password(password: str, password_hash: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class SecretBox:
    """Symmetric encryption of short secrets at rest (seat passwords while a registration lives)."""

    def __init__(self, secret_key: str) -> None:
        digest = hashlib.sha256(b"wod-secret-box:" + secret_key.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

    def seal(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def open(self, sealed: str) -> str | None:
        """The plaintext, or None when it was sealed with another key or tampered with."""
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            return None
