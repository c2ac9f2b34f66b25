"""Applying the transition table to rows: conditional updates that only one writer can win.

A change of a seat or a registration is noted as :attr:`~wod.notify.Topic.seats` (the seats left
may differ); an email that becomes due again as :attr:`~wod.notify.Topic.mail` (a job due again
wakes nobody here: the agents ask for work).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from wod.db.models import Registration, Seat
from wod.domain.states import EmailState, check_transition
from wod.errors import InvalidState
from wod.notify import Topic, note

_DUE_AGAIN = (EmailState.pending,)


class _Stateful(Protocol):
    id: Any
    state: Any


def move(session: Session, row: _Stateful, new: StrEnum, **values: Any) -> None:
    """Change ``row.state`` to ``new`` (and set ``values``) if the table allows it and nobody
    changed the row meanwhile; else raise :class:`InvalidState` (the caller's transaction
    then rolls back)."""
    old = row.state
    check_transition(old, new)
    model = type(row)
    result = session.execute(
        update(model)
        .where(model.id == row.id, model.state == old)
        .values(state=new, **values)
        .execution_options(synchronize_session="evaluate")
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise InvalidState(f"{model.__name__} {row.id} is no longer {old.value}")
    if isinstance(row, Seat | Registration):
        note(session, Topic.seats)
    elif new in _DUE_AGAIN:
        note(session, Topic.mail)
