"""System account mode's Linux users, as root: a seat account left from an earlier students
folder is moved to the new one (the hub starts the seat's server in the passwd home)."""

from __future__ import annotations

import pwd
from pathlib import Path

from tests.e2e.conftest import UID_BASE, SeatBlock
from wod.hub.modes.system import SystemAccounts


def test_an_existing_account_follows_its_moved_home(
    system_students: Path, seat_block: SeatBlock
) -> None:
    accounts = SystemAccounts(UID_BASE)
    user = seat_block.user(1)
    accounts.prepare(seat_block.n(1), user, system_students / "old" / user)
    assert pwd.getpwnam(user).pw_dir == str(system_students / "old" / user)
    accounts.prepare(seat_block.n(1), user, system_students / user)
    entry = pwd.getpwnam(user)
    assert (entry.pw_dir, entry.pw_uid) == (str(system_students / user), seat_block.uid(1))
