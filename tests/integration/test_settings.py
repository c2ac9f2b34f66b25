"""Settings: defaults, environment over config file, and production's refusal of dev secrets."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from wod.context import build_context
from wod.domain.clock import FakeClock
from wod.errors import ConfigError
from wod.mail.sender import MemoryMailer
from wod.settings import Mode, Settings, load_settings
from wod.web.app import create_app


def test_environment_wins_over_the_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "wod.toml"
    config.write_text('log_level = "DEBUG"\n[smtp]\nhost = "mail.example.org"\nport = 2525\n')
    monkeypatch.setenv("WOD_SMTP__PORT", "587")
    settings = load_settings(config)
    assert settings.smtp.host == "mail.example.org"
    assert settings.smtp.port == 587
    assert settings.log_level == "DEBUG"


def test_unknown_or_wrong_settings_are_configuration_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[smtp]\nport = 'many'\n")
    with pytest.raises(ConfigError, match=r"smtp\.port"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_production_refuses_the_development_secrets_a_process_uses(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("WOD_MODE", "production")
    settings = load_settings()
    with pytest.raises(ConfigError, match="secret_key"):
        settings.require_secrets("secret_key")
    with pytest.raises(ConfigError, match=r"hub\.api_token"):
        settings.require_secrets("hub.api_token")
    monkeypatch.setenv("WOD_SECRET_KEY", secrets.token_urlsafe(32))
    api_only = load_settings()
    api_only.require_secrets("secret_key")  # the api needs no hub token
    assert api_only.mode is Mode.production
    development = load_settings(mode="development")
    development.require_secrets("secret_key", "hub.api_token")


@pytest.mark.parametrize(
    "weak", ["", " " * 40, "x", "k" * 40, "abcd" * 10, "correct horse battery staple"]
)
def test_production_refuses_weak_secrets(monkeypatch: pytest.MonkeyPatch, weak: str) -> None:
    monkeypatch.setenv("WOD_MODE", "production")
    monkeypatch.setenv("WOD_SECRET_KEY", weak)
    monkeypatch.setenv("WOD_HUB__API_TOKEN", weak)
    settings = load_settings()
    with pytest.raises(ConfigError, match="secret_key is too weak for production"):
        settings.require_secrets("secret_key")
    with pytest.raises(ConfigError, match=r"hub\.api_token is too weak"):
        settings.require_secrets("hub.api_token")


@pytest.mark.parametrize("weak", ["", "x", "abcd" * 10])
def test_production_refuses_a_weak_metrics_token(
    monkeypatch: pytest.MonkeyPatch, weak: str
) -> None:
    monkeypatch.setenv("WOD_MODE", "production")
    monkeypatch.setenv("WOD_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("WOD_METRICS__TOKEN", weak)
    with pytest.raises(ConfigError, match=r"metrics\.token is too weak for production"):
        load_settings().require_secrets("secret_key")
    monkeypatch.setenv("WOD_METRICS__TOKEN", secrets.token_hex(32))
    load_settings().require_secrets("secret_key")


def test_production_refuses_the_dev_mail_catcher(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WOD_MODE", "production")
    monkeypatch.setenv("WOD_SECRET_KEY", secrets.token_hex(32))
    monkeypatch.setenv("WOD_DEV__MAIL_CATCHER", "true")
    with pytest.raises(ConfigError, match=r"dev\.mail_catcher is on"):
        load_settings().require_secrets("secret_key")


def test_production_commands_refuse_default_secrets(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wod.cli.main import app

    env = {"WOD_MODE": "production", "WOD_DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"}
    for args in (["api"], ["backend", "run"], ["hub", "config", "-o", str(tmp_path / "c.py")]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == 2, (args, result.output)
        assert "development default" in result.output


def test_api_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from wod.cli.main import app

    env = {"WOD_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite3'}"}
    result = CliRunner().invoke(app, ["api"], env=env)
    assert result.exit_code == 2 and "run `wod db upgrade` first" in result.output


def test_dev_routes_exist_only_in_development(
    settings: Settings, clock: FakeClock, mailer: MemoryMailer
) -> None:
    production = settings.model_copy(update={"mode": Mode.production})
    ctx = build_context(production, clock=clock, mailer=mailer)
    try:
        with TestClient(create_app(ctx, background=False)) as client:
            assert client.get("/api/v1/dev/mail").status_code == 404
            assert client.get("/dev/mail").status_code == 404
            assert client.get("/healthz").json() == {"status": "ok"}
    finally:
        ctx.close()


@pytest.mark.parametrize("written", ["60", "60.0", "PT1M", "00:01:00"])
def test_durations_in_seconds_or_iso(monkeypatch: pytest.MonkeyPatch, written: str) -> None:
    from datetime import timedelta

    monkeypatch.setenv("WOD_REGISTRATION__RATE_WINDOW", written)
    assert load_settings().registration.rate_window == timedelta(minutes=1)


def test_git_layers_from_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "wod.toml"
    config.write_text(
        "[content]\n"
        f'checkout_dir = "{tmp_path / "checkout"}"\n'
        "[[content.layers]]\n"
        'name = "public"\n'
        'git = "https://git.example.org/org/workshops.git"\n'
        'ref = "v2"\n'
        "[[content.layers]]\n"
        'name = "private"\n'
        f'path = "{tmp_path / "private"}"\n'
    )
    content = load_settings(config).content
    assert content.paths == [tmp_path / "checkout" / "current" / "public", tmp_path / "private"]
    assert content.has_git_layers and content.layers[0].ref == "v2"


@pytest.mark.parametrize(
    ("layers", "extra", "message"),
    [
        ([{"name": "a"}], "", "give either path or git"),
        ([{"name": "a", "path": "/x", "git": "file:///y"}], "", "give either path or git"),
        ([{"name": "a", "git": "https://u:secret@h.example/x"}], "", "the URL holds a password"),
        ([{"name": "a", "path": "/x", "token_env": "T"}], "", "credentials only apply"),
        ([{"name": "a", "git": "file:///x", "subdir": "../up"}], "", "inside the repository"),
        ([{"name": "Bad Name", "path": "/x"}], "", "name"),
        ([{"name": "a", "path": "/x"}, {"name": "a", "path": "/y"}], "", "its own name"),
        ([{"name": "a", "path": "/x", "kind": "svn"}], "", "kind"),
        ([{"name": "a", "path": "/x"}], 'paths = ["/z"]\n', "not both"),
    ],
)
def test_bad_layers_are_configuration_errors(
    tmp_path: Path, layers: list[dict[str, str]], extra: str, message: str
) -> None:
    lines = ["[content]", extra]
    for layer in layers:
        lines.append("[[content.layers]]")
        lines += [f'{key} = "{value}"' for key, value in layer.items()]
    config = tmp_path / "wod.toml"
    config.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError, match=message):
        load_settings(config)
