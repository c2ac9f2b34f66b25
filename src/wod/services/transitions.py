"""Applying the transition table to rows: conditional updates that only one writer can win."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import update
from sqlalchemy.orm import Session

from wod.domain.states import check_transition
from wod.errors import InvalidState


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
