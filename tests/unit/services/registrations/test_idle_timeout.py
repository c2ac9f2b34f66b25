"""Which workshops give idle seats back, and after how long."""

from __future__ import annotations

from datetime import timedelta

import pytest

from wod.db.models import Workshop
from wod.services.registrations.idle import idle_timeout_of
from wod.settings import Settings


@pytest.mark.parametrize(
    ("hours", "own", "expected"),
    [
        (2, None, timedelta(minutes=45)),  # long enough: the default applies
        (4, None, timedelta(minutes=45)),
        (1, None, None),  # shorter than idle.min_duration: off by default
        (1, 20, timedelta(minutes=20)),  # unless its wod.yml sets one
        (4, 0, None),  # 0: off
        (4, 90, timedelta(minutes=90)),
    ],
)
def test_the_workshop_setting_else_the_default_for_long_workshops(
    hours: int, own: int | None, expected: timedelta | None
) -> None:
    workshop = Workshop(duration_hours=hours, idle_timeout=own)
    assert idle_timeout_of(Settings(), workshop) == expected


def test_a_default_of_zero_or_not_shorter_than_the_workshop_is_off() -> None:
    workshop = Workshop(duration_hours=2, idle_timeout=None)
    assert idle_timeout_of(Settings(idle={"timeout": 0}), workshop) is None
    assert idle_timeout_of(Settings(idle={"timeout": "PT2H"}), workshop) is None
