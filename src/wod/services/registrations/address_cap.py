"""The cap on live registrations per client address (``registration.live_per_address``).

One address may hold only so many registrations that hold or wait for a seat, or wait for their
address to confirm them (:data:`~wod.domain.states.ADDRESS_HOLDING`); the next is refused until
one of them ends. The unconfirmed ones count because each made the platform email an address
that may never have asked: the cap bounds how many such emails one client address causes at
once (an unconfirmed registration ends within ``registration.confirm_within``). Counting them
costs a real participant nothing: a registration counts once, before and after it is
confirmed, and confirming it checks the cap no more. A
registration keeps a keyed hash of its address (:func:`client_key`), not the address itself.
Concurrent registrations from one address are counted one after the other: SQLite runs one
writer at a time, PostgreSQL takes a transaction lock of the address first.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wod.db.models import Registration
from wod.domain.states import ADDRESS_HOLDING
from wod.errors import AddressLimitReached


def client_key(secret_key: str, client: str) -> str:
    """The keyed hash a registration keeps of the address it was made from."""
    digest = hmac.new(secret_key.encode(), b"client-address:" + client.encode(), hashlib.sha256)
    return digest.hexdigest()


def live_from(key: str) -> Any:
    """How many registrations made from the address of ``key`` hold or wait for a seat, or wait
    for their confirmation: a scalar subquery, counted with the other checks of a registration
    in one round trip (:func:`~wod.services.registrations.register.check_admission`)."""
    return (
        select(func.count())
        .select_from(Registration)
        .where(Registration.client_key == key, Registration.state.in_(ADDRESS_HOLDING))
        .scalar_subquery()
    )


def address_lock(session: Session, key: str) -> Any:
    """On PostgreSQL, a column that takes the transaction lock of the address of ``key``, to
    select with the workshop's row before the address's registrations are counted: two
    registrations from one address are then counted one after the other, and cannot both take
    its last place (SQLite runs one writer at a time: None there)."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    return func.pg_advisory_xact_lock(int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True))


def check_address_cap(live: int, limit: int) -> None:
    """Raise :class:`AddressLimitReached` when an address already has ``limit`` live
    registrations (0: no cap)."""
    if 0 < limit <= live:
        raise AddressLimitReached(limit)
