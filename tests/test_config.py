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
