"""Masking the secrets of hook output (:class:`wod.backend.hooks.Redactor`), in whole texts
and in pieces, and the secrets :func:`wod.backend.hooks.hook_secrets` finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from wod.backend.appliances import SSH_CONFIG_ENV
from wod.backend.hooks import MASK, Redactor, hook_secrets, masked_tail

SECRET = "s3cr3t-Pa55word"
TEXT = f"login student7 with {SECRET}, again: {SECRET}!"
WANTED = f"login student7 with {MASK}, again: {MASK}!"


def fed(redactor: Redactor, pieces: list[str]) -> str:
    return "".join(redactor.feed(p) for p in pieces) + redactor.flush()


def test_every_occurrence_is_masked() -> None:
    assert Redactor([SECRET]).redact(TEXT) == WANTED


@pytest.mark.parametrize("cut", range(1, len(TEXT)))
def test_a_secret_split_between_two_pieces_is_masked(cut: int) -> None:
    assert fed(Redactor([SECRET, "other-token"]), [TEXT[:cut], TEXT[cut:]]) == WANTED


def test_a_secret_fed_one_character_at_a_time_is_masked() -> None:
    assert fed(Redactor([SECRET]), list(TEXT)) == WANTED


def test_the_longer_of_two_overlapping_secrets_wins() -> None:
    redactor = Redactor(["abcd", "abcdefgh"])
    assert fed(redactor, ["xxabcde", "fghyy abcd"]) == f"xx{MASK}yy {MASK}"


def test_short_or_blank_values_are_not_secrets() -> None:
    assert Redactor(["abc", "    ", ""]).redact("abc abc") == "abc abc"
    assert Redactor([]).redact(TEXT) == TEXT


def test_the_tail_of_a_long_output_shows_no_part_of_a_secret(tmp_path: Path) -> None:
    output = tmp_path / "output"
    # the secret straddles the boundary of two pieces read from the file (64 KiB)
    output.write_bytes(b"x" * (65536 - 5) + SECRET.encode() + b"y" * 100)
    tail = masked_tail(output, Redactor([SECRET]), limit=110)
    assert tail == "x" * 2 + MASK + "y" * 100
    # the cut of the tail falls inside the secret: only the mask's end shows
    cut = masked_tail(output, Redactor([SECRET]), limit=104)
    assert SECRET[-4:] not in cut and cut == MASK[-4:] + "y" * 100


def test_secrets_come_from_the_environment_the_variables_and_the_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WOD_BACKEND__TOKEN", "wodl_agent_token")
    monkeypatch.setenv("WOD_BACKEND__WORKERS", "4444")
    home = tmp_path / "student7"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_ed25519").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nseatkeyline1\nseatkeyline2\n"
        "-----END OPENSSH PRIVATE KEY-----\n"
    )
    agent_key = tmp_path / "agent key"
    agent_key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nagentkeyline\n-----END ...\n")
    config = tmp_path / "ssh_config"
    config.write_text(f'Host appliance\n  IdentityFile "{agent_key}"\n  Port 22\n')
    env = {
        "WOD_PASSWORD": "seat-password",
        "randompw": "seat-password",
        "WOD_HOME": str(home),
        SSH_CONFIG_ENV: str(config),
        "PWD": "/srv/scripts",
        "MY_API_TOKEN": "from-the-host",
    }
    found = set(hook_secrets(env, {"PASSSTU": "seat-password", "HTTPPORT": 8888}, ["given"]))
    assert {"seat-password", "wodl_agent_token", "from-the-host", "given"} <= found
    assert {"seatkeyline1", "seatkeyline2", "agentkeyline"} <= found
    assert not {"/srv/scripts", "8888", "4444"} & found


def test_the_agents_settings_give_every_secret_they_hold() -> None:
    from pydantic import SecretStr

    from wod.backend.hooks import settings_secrets
    from wod.settings import Settings

    settings = Settings(
        backend={"token": SecretStr("agent-token-of-this-location")},
        hub={"api_token": SecretStr("the-hub-service-token")},
        smtp={"password": SecretStr("relay-password")},
    )
    found = settings_secrets(settings)
    for secret in ("agent-token-of-this-location", "the-hub-service-token", "relay-password"):
        assert secret in found
    assert settings.secret_key.get_secret_value() in found
    assert str(settings.data_dir) not in found  # only secrets
