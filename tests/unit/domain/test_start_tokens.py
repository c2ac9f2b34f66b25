"""Start tokens and seat passwords: what a token says is bound to its seat, key and expiry;
passwords have no look-alike characters."""

from __future__ import annotations

from wod.domain.secrets import LOOK_ALIKES, new_password
from wod.domain.unlock import derive_unlock_key, read_start_token, start_token

KEY = derive_unlock_key("k" * 40)
NOW = 1_900_000_000.0


def test_a_start_token_says_its_nonce_and_expiry_for_its_seat_only() -> None:
    token = start_token(KEY, "student3", NOW, validity=600)
    signed = read_start_token(KEY, "student3", token, NOW + 600)
    assert signed is not None and (signed.issued, signed.expires) == (NOW, NOW + 600)
    assert read_start_token(KEY, "student3", token, NOW + 601) is None
    assert read_start_token(KEY, "student4", token, NOW) is None
    assert read_start_token(derive_unlock_key("o" * 40), "student3", token, NOW) is None
    assert read_start_token("", "student3", token, NOW) is None
    other = start_token(KEY, "student3", NOW, validity=600)
    assert other != token and read_start_token(KEY, "student3", other, NOW) != signed


def test_a_tampered_or_malformed_start_token_is_refused() -> None:
    issued, expires, nonce, signature = start_token(KEY, "student3", NOW).split(".")
    for bad in (
        "",
        "garbage",
        f"{expires}.{nonce}.{signature}",
        f"{issued}.{int(expires) + 1}.{nonce}.{signature}",
        f"{int(issued) + 1}.{expires}.{nonce}.{signature}",
        f"{issued}.{expires}.{nonce[:-1]}A.{signature}",
        f"{issued}.{expires}.{'x' * 200}.{signature}",
        f"{issued}.{'9' * 13}.{nonce}.{signature}",
        f"{issued}.{expires}.{nonce}.{signature}.x",
    ):
        assert read_start_token(KEY, "student3", bad, NOW) is None, bad


def test_seat_passwords_have_no_look_alike_characters() -> None:
    drawn = "".join(new_password() for _ in range(200))
    assert not set(drawn) & set(LOOK_ALIKES)
    assert len(new_password()) == 16 and new_password(24).isalnum()
    assert len(set(drawn)) == 56  # every other letter and digit is used
