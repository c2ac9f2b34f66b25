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


def test_an_unconfirmed_registration_holds_no_seat_and_is_not_live() -> None:
    from wod.domain.states import ADDRESS_HOLDING, EMAIL_HOLDING, SEAT_HOLDING

    unconfirmed = RegistrationState.unconfirmed
    assert set(sources_of(unconfirmed)) == set()  # where a registration may start
    check_transition(unconfirmed, RegistrationState.queued)  # confirmed
    check_transition(unconfirmed, RegistrationState.failed)  # lapsed, or full
    for never in (RegistrationState.active, RegistrationState.ended):
        with pytest.raises(IllegalTransition):
            check_transition(unconfirmed, never)
    assert unconfirmed not in SEAT_HOLDING and unconfirmed not in EMAIL_HOLDING
    assert set(ADDRESS_HOLDING) == {unconfirmed, *SEAT_HOLDING}


def test_confirm_and_manage_tokens_of_one_nonce_differ() -> None:
    from wod.domain.secrets import confirm_token, manage_token

    assert confirm_token("k", "n").startswith("wodc_")
    assert confirm_token("k", "n") != manage_token("k", "n").replace("wodm_", "wodc_")
    assert confirm_token("k", "n") != confirm_token("other", "n")
