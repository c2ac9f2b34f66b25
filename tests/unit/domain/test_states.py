import itertools
from enum import StrEnum

import pytest

from wod.domain.states import (
    TRANSITIONS,
    JobState,
    RegistrationState,
    SeatState,
    check_transition,
    sources_of,
)
from wod.errors import IllegalTransition


def test_every_state_has_a_row() -> None:
    for enum, table in TRANSITIONS.items():
        assert set(table) == set(enum)
        for targets in table.values():
            assert targets <= set(enum)


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (RegistrationState.ended, RegistrationState.active),
        (RegistrationState.queued, RegistrationState.ended),
        (SeatState.free, SeatState.ready),
        (JobState.done, JobState.running),
    ],
)
def test_illegal_transitions_raise(old: StrEnum, new: StrEnum) -> None:
    with pytest.raises(IllegalTransition):
        check_transition(old, new)


def test_lifecycle_path_is_allowed() -> None:
    path = [
        RegistrationState.queued,
        RegistrationState.provisioning,
        RegistrationState.active,
        RegistrationState.ending,
        RegistrationState.ended,
    ]
    for old, new in itertools.pairwise(path):
        check_transition(old, new)
    # a seat is free again after it was cleaned, or when its registration moved to another
    # location before any CREATE touched it
    assert set(sources_of(SeatState.free)) == {
        SeatState.cleaning,
        SeatState.resetting,
        SeatState.reserved,
    }


def test_watchdog_names_programs_not_arguments() -> None:
    from wod.backend.watchdog import program_names

    assert "ipykernel_launcher" in program_names(
        ["/venv/bin/python", "-m", "ipykernel_launcher", "-f", "x.json"], "python"
    )
    assert "ipykernel_launcher" not in program_names(
        ["/usr/bin/python3", "burn.py", "ipykernel_launcher"], "python3"
    )
    assert "burn.py" in program_names(["/usr/bin/python3", "burn.py"], "python3")
    assert "xmrig" in program_names(["./xmrig", "--pool", "x"], "xmrig")
