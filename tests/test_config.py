"""Settings: every problem at once, and the token never printed."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Secret, load_settings

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "routines").mkdir()
    monkeypatch.chdir(tmp_path)
    settings = load_settings({})
    assert settings.token is None
    assert settings.data_dir == Path("data")
    assert settings.routines_dir == Path("routines")
    assert settings.db_path == Path("data/trygg.sqlite3")


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                "TELEGRAM_BOT_TOKEN": "nonsense",
                "TRYGG_API_URL": "ftp://x",
                "TRYGG_ROUTINES": str(tmp_path / "missing"),
                "TRYGG_LOG_LEVEL": "LOUD",
            }
        )
    assert len(caught.value.problems) == 4
    assert "nonsense" not in str(caught.value)


def test_the_token_is_never_shown(tmp_path: Path) -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TRYGG_ROUTINES": str(tmp_path)})
    assert isinstance(settings.token, Secret)
    assert settings.token.reveal() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings)


def test_the_token_can_come_from_a_file_or_a_systemd_credential(tmp_path: Path) -> None:
    secret = tmp_path / "token"
    secret.write_text(TOKEN + "\n")
    env = {"TELEGRAM_BOT_TOKEN_FILE": str(secret), "TRYGG_ROUTINES": str(tmp_path)}
    assert load_settings(env).token == Secret(TOKEN)
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "telegram-token").write_text(TOKEN)
    env = {"CREDENTIALS_DIRECTORY": str(credentials), "TRYGG_ROUTINES": str(tmp_path)}
    assert load_settings(env).token == Secret(TOKEN)
    env = {"TELEGRAM_BOT_TOKEN_FILE": str(tmp_path / "nope"), "TRYGG_ROUTINES": str(tmp_path)}
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(env)


def test_webhook_metrics_and_key_settings(tmp_path: Path) -> None:
    base = {"TRYGG_ROUTINES": str(tmp_path), "TRYGG_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(
        {
            **base,
            "TRYGG_WEBHOOK_URL": "https://bot.example.se/telegram",
            "TRYGG_WEBHOOK_LISTEN": "8081",
            "TRYGG_WEBHOOK_SECRET": "s3cret_-x",
            "TRYGG_METRICS": "127.0.0.1:9464",
            "TRYGG_KEY_FILE": str(tmp_path / "trygg.key"),
        }
    )
    assert settings.webhook_url == "https://bot.example.se/telegram"
    assert settings.webhook_listen == ("127.0.0.1", 8081)
    assert settings.webhook_secret == Secret("s3cret_-x")
    assert settings.metrics_listen == ("127.0.0.1", 9464)
    assert settings.key_file == tmp_path / "trygg.key"
    assert load_settings(base).metrics_listen is None  # off unless asked for
    with pytest.raises(ConfigError) as caught:
        load_settings(
            {
                **base,
                "TRYGG_WEBHOOK_URL": "http://bot.example.se/telegram",
                "TRYGG_WEBHOOK_SECRET": "has spaces",
                "TRYGG_METRICS": "localhost:99999",
                "TRYGG_KEY_FILE": str(tmp_path / "data" / "secret.key"),
            }
        )
    problems = " ".join(caught.value.problems)
    assert len(caught.value.problems) == 4
    assert "https" in problems and "TRYGG_METRICS" in problems
    assert "must not be inside TRYGG_DATA_DIR" in problems
    assert "has spaces" not in problems
