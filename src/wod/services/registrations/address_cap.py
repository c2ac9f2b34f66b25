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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wod.db.models import Registration
from wod.domain.states import ADDRESS_HOLDING
from wod.errors import AddressLimitReached


def client_key(secret_key: str, client: str) -> str:
    """The keyed hash a registration keeps of the address it was made from."""
    digest = hmac.new(secret_key.encode(), b"client-address:" + client.encode(), hashlib.sha256)
    return digest.hexdigest()


def live_for(session: Session, key: str) -> int:
    """How many registrations made from the address of ``key`` hold or wait for a seat, or wait
    for their confirmation."""
    count = session.scalar(
        select(func.count())
        .select_from(Registration)
        .where(Registration.client_key == key, Registration.state.in_(ADDRESS_HOLDING))
    )
    return count or 0


def check_address_cap(session: Session, key: str, limit: int) -> None:
    """Raise :class:`AddressLimitReached` when the address of ``key`` already has ``limit``
    live registrations (0: no cap). Inside the registering transaction: on PostgreSQL the
    address stays locked until it commits, so two registrations cannot both take the last
    place."""
    if limit <= 0:
        return
    if session.get_bind().dialect.name == "postgresql":
        lock = int.from_bytes(bytes.fromhex(key[:16]), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(lock)))
    if live_for(session, key) >= limit:
        raise AddressLimitReached(limit)
