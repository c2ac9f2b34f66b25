"""The ``wod`` authenticator's lockouts, on an injected clock: an address is locked out of the
seat it fails on before the seat is, other addresses still log in, the seat itself locks only
far later, and the participant's unlock link lifts the seat's own lockouts."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace

import pytest

from wod.domain.unlock import UNLOCK_VALIDITY, derive_unlock_key, unlock_token
from wod.hub.authenticator import Lockout, LoginGuard, WodAuthenticator
from wod.hub.credentials import FileCredentialStore

SEAT, PASSWORD = "student3", "the-right-password"
KEY = derive_unlock_key("k" * 40)
EPOCH = 1_900_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(tmp_path: Path, clock: Clock) -> WodAuthenticator:
    FileCredentialStore(tmp_path).set_password(SEAT, PASSWORD)
    authenticator = WodAuthenticator(
        credentials_dir=str(tmp_path),
        lockout_attempts=3,
        lockout_address_attempts=6,
        lockout_seat_attempts=5,
        lockout_window=60.0,
        lockout_duration=120.0,
        unlock_key=KEY,
    )
    authenticator.monotonic = clock
    authenticator.wall_clock = lambda: EPOCH
    return authenticator


def login(hub: WodAuthenticator, address: str, password: str, seat: str = SEAT) -> str | None:
    handler = SimpleNamespace(request=SimpleNamespace(remote_ip=address))
    return asyncio.run(hub.authenticate(handler, {"username": seat, "password": password}))


def test_an_address_that_fails_is_locked_out_of_that_seat_only(hub: WodAuthenticator) -> None:
    for _ in range(3):
        assert login(hub, "198.51.100.1", "wrong") is None
    assert login(hub, "198.51.100.1", PASSWORD) is None  # locked out of this seat
    assert login(hub, "198.51.100.2", PASSWORD) == SEAT  # the participant still logs in


def test_the_seat_locks_for_everyone_only_at_its_own_higher_threshold(
    hub: WodAuthenticator,
) -> None:
    for attacker in ("198.51.100.1", "198.51.100.2"):  # under the per-address limit each
        assert login(hub, attacker, "wrong") is None
        assert login(hub, attacker, "wrong") is None
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT  # 4 failures: the seat is still open
    # (a good login starts the seat's count again)
    for attacker in ("198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.4"):
        assert login(hub, attacker, "wrong") is None
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT
    for attacker in ("198.51.100.3", "198.51.100.4", "198.51.100.5", "198.51.100.6"):
        assert login(hub, attacker, "wrong") is None
    assert login(hub, "198.51.100.7", "wrong") is None
    assert login(hub, "203.0.113.9", PASSWORD) is None  # the seat is locked for everyone
    assert login(hub, "203.0.113.9", PASSWORD, seat="student4") is None  # unknown seat: no


def test_lockouts_run_out_with_the_clock(hub: WodAuthenticator, clock: Clock) -> None:
    for _ in range(3):
        login(hub, "198.51.100.1", "wrong")
    clock.now += 119
    assert login(hub, "198.51.100.1", PASSWORD) is None
    clock.now += 2
    assert login(hub, "198.51.100.1", PASSWORD) == SEAT


def test_failures_out_of_the_window_do_not_count(hub: WodAuthenticator, clock: Clock) -> None:
    for _ in range(2):
        login(hub, "198.51.100.1", "wrong")
    clock.now += 61
    login(hub, "198.51.100.1", "wrong")
    assert login(hub, "198.51.100.1", PASSWORD) == SEAT


def test_an_address_failing_on_many_seats_is_locked_out_of_all(hub: WodAuthenticator) -> None:
    FileCredentialStore(Path(hub.credentials_dir)).set_password("student9", PASSWORD)
    for seat in ("student1", "student2", "student5", "student6", "student7", "student8"):
        login(hub, "198.51.100.1", "wrong", seat=seat)
    assert login(hub, "198.51.100.1", PASSWORD, seat="student9") is None
    assert login(hub, "198.51.100.2", PASSWORD, seat="student9") == "student9"


def test_the_participants_unlock_link_lifts_the_seats_lockouts(hub: WodAuthenticator) -> None:
    for attacker in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        login(hub, attacker, "wrong")
        login(hub, attacker, "wrong")
    assert login(hub, "203.0.113.9", PASSWORD) is None  # the seat is locked
    assert not hub.unlock(SEAT, "garbage", "203.0.113.9")
    assert not hub.unlock(SEAT, unlock_token(KEY, "student4", EPOCH), "203.0.113.9")
    assert not hub.unlock(SEAT, unlock_token("other", SEAT, EPOCH), "203.0.113.9")
    expired = unlock_token(KEY, SEAT, EPOCH - UNLOCK_VALIDITY - 1)
    assert not hub.unlock(SEAT, expired, "203.0.113.9")
    assert login(hub, "203.0.113.9", PASSWORD) is None
    assert hub.unlock(SEAT, unlock_token(KEY, SEAT, EPOCH), "203.0.113.9")
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT


def test_an_unlock_link_lifts_the_lockout_of_its_own_address_on_the_seat(
    hub: WodAuthenticator,
) -> None:
    for _ in range(3):  # the participant mistyped their own password
        login(hub, "203.0.113.9", "typo")
    assert login(hub, "203.0.113.9", PASSWORD) is None
    assert hub.unlock(SEAT, unlock_token(KEY, SEAT, EPOCH), "203.0.113.9")
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT


def test_without_a_key_no_unlock_link_is_valid(hub: WodAuthenticator) -> None:
    hub.unlock_key = ""
    assert not hub.unlock(SEAT, unlock_token("", SEAT, EPOCH), "203.0.113.9")


def test_the_unlock_page_is_among_the_hubs_handlers(hub: WodAuthenticator) -> None:
    routes = [route for route, _ in hub.get_handlers(None)]
    assert "/login" in routes and r"/wod-unlock/([a-z][a-z0-9_-]{0,31})" in routes


def test_the_guard_forgets_what_no_longer_counts() -> None:
    guard = LoginGuard(per_address_seat=2, per_address=9, per_seat=9, window=10, duration=5)
    guard.failed(SEAT, "198.51.100.1", 0.0)
    guard.failed(SEAT, "198.51.100.1", 1.0)
    assert guard.refused(SEAT, "198.51.100.1", 2.0) == (
        f"address 198.51.100.1 on seat {SEAT}",
        4.0,
    )
    lockout: Lockout = guard.lockout
    lockout.forget(20.0)
    assert lockout.failures == {} and lockout.locked_until == {}
