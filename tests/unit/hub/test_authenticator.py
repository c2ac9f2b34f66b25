"""The ``wod`` authenticator's lockouts, on an injected clock: an address is locked out of the
seat it fails on before the seat is, other addresses still log in, the seat itself locks only
far later, and the participant's start link logs in once, not after it expires, and lifts the
seat's own lockouts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from wod.domain.unlock import START_VALIDITY, derive_unlock_key, start_token
from wod.hub.authenticator import CLOCK_SKEW, Lockout, LoginGuard, WodAuthenticator
from wod.hub.credentials import FileCredentialStore

SEAT, PASSWORD = "student3", "the-right-password"
KEY = derive_unlock_key("k" * 40)
EPOCH = 1_900_000_000.0
#: When the seat's hub user was created (by its CREATE), before the tokens of these tests.
MADE = EPOCH - 600


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


def test_the_participants_start_link_lifts_the_seats_lockouts(hub: WodAuthenticator) -> None:
    for attacker in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        login(hub, attacker, "wrong")
        login(hub, attacker, "wrong")
    assert login(hub, "203.0.113.9", PASSWORD) is None  # the seat is locked
    assert not hub.start(SEAT, "garbage", "203.0.113.9", seat_created=MADE)
    assert not hub.start(
        SEAT, start_token(KEY, "student4", EPOCH), "203.0.113.9", seat_created=MADE
    )
    assert not hub.start(SEAT, start_token("other", SEAT, EPOCH), "203.0.113.9", seat_created=MADE)
    expired = start_token(KEY, SEAT, EPOCH - START_VALIDITY - 1)
    assert not hub.start(SEAT, expired, "203.0.113.9", seat_created=MADE)
    assert login(hub, "203.0.113.9", PASSWORD) is None
    assert hub.start(SEAT, start_token(KEY, SEAT, EPOCH), "203.0.113.9", seat_created=MADE)
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT


def test_a_start_link_lifts_the_lockout_of_its_own_address_on_the_seat(
    hub: WodAuthenticator,
) -> None:
    for _ in range(3):  # the participant mistyped their own password
        login(hub, "203.0.113.9", "typo")
    assert login(hub, "203.0.113.9", PASSWORD) is None
    assert hub.start(SEAT, start_token(KEY, SEAT, EPOCH), "203.0.113.9", seat_created=MADE)
    assert login(hub, "203.0.113.9", PASSWORD) == SEAT


def test_a_start_link_logs_in_once_even_across_restarts(tmp_path: Path) -> None:
    used = tmp_path / "state" / "used.json"

    def restarted() -> WodAuthenticator:
        authenticator = WodAuthenticator(unlock_key=KEY, used_tokens_file=str(used))
        authenticator.wall_clock = lambda: EPOCH
        return authenticator

    token, other = start_token(KEY, SEAT, EPOCH), start_token(KEY, SEAT, EPOCH)
    assert restarted().start(SEAT, token, "203.0.113.9", seat_created=MADE)
    assert not restarted().start(
        SEAT, token, "203.0.113.9", seat_created=MADE
    )  # the hub restarted between
    assert restarted().start(
        SEAT, other, "203.0.113.9", seat_created=MADE
    )  # another link of the same seat
    assert used.stat().st_mode & 0o777 == 0o600


def test_a_start_link_expires_and_used_ones_are_forgotten_then(tmp_path: Path) -> None:
    used = tmp_path / "used.json"
    authenticator = WodAuthenticator(unlock_key=KEY, used_tokens_file=str(used))
    now = [EPOCH]
    authenticator.wall_clock = lambda: now[0]
    first = start_token(KEY, SEAT, EPOCH, validity=60)
    assert authenticator.start(SEAT, first, "203.0.113.9", seat_created=MADE)
    now[0] += 61
    assert not authenticator.start(
        SEAT, start_token(KEY, SEAT, EPOCH, validity=60), "a", seat_created=MADE
    )
    assert authenticator.start(
        SEAT, start_token(KEY, SEAT, now[0], validity=60), "a", seat_created=MADE
    )
    assert len(json.loads(used.read_text())) == 1  # the expired one is forgotten


def test_a_start_link_is_refused_when_its_use_cannot_be_recorded(tmp_path: Path) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    authenticator = WodAuthenticator(unlock_key=KEY, used_tokens_file=str(blocked / "used"))
    authenticator.wall_clock = lambda: EPOCH
    assert not authenticator.start(
        SEAT, start_token(KEY, SEAT, EPOCH), "203.0.113.9", seat_created=MADE
    )


def test_without_a_key_no_start_link_is_valid(hub: WodAuthenticator) -> None:
    hub.unlock_key = ""
    assert not hub.start(SEAT, start_token("", SEAT, EPOCH), "203.0.113.9", seat_created=MADE)


def test_a_start_token_is_bound_to_its_seat_and_signature() -> None:
    token = start_token(KEY, SEAT, EPOCH)
    issued, expires, nonce, signature = token.split(".")
    assert (int(issued), int(expires)) == (EPOCH, EPOCH + START_VALIDITY)
    forged = f"{issued}.{int(expires) + 9}.{nonce}.{signature}"
    authenticator = WodAuthenticator(unlock_key=KEY)
    authenticator.wall_clock = lambda: EPOCH
    assert not authenticator.start(SEAT, forged, "a", seat_created=MADE)
    assert authenticator.start(SEAT, token, "a", seat_created=MADE)


def test_a_start_link_made_before_the_seat_or_for_no_seat_is_refused(
    hub: WodAuthenticator,
) -> None:
    token = start_token(KEY, SEAT, EPOCH)
    assert not hub.start(SEAT, token, "a", seat_created=None)  # CLEANUP deleted the hub user
    # the seat was made again since (its next participant): the old link opens nothing
    assert not hub.start(SEAT, token, "a", seat_created=EPOCH + CLOCK_SKEW + 1)
    assert hub.start(SEAT, token, "a", seat_created=EPOCH + CLOCK_SKEW)  # a skewed clock


def test_the_start_page_is_among_the_hubs_handlers(hub: WodAuthenticator) -> None:
    routes = [route for route, _ in hub.get_handlers(None)]
    assert "/login" in routes and r"/wod-start/([a-z][a-z0-9_-]{0,31})" in routes


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
