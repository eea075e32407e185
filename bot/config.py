"""Settings from the environment: the one place that reads configuration.

Every problem is collected and reported at once, so an operator fixes a deployment in one go.
The token is kept in a `Secret` whose repr never shows it, so it cannot leak into a log line
or a traceback.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from bot.datadir import DB_FILE

_TOKEN_SHAPE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class Secret:
    """A string that is never printed: repr and str show a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


class ConfigError(Exception):
    """The environment is not usable; `problems` says every reason."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Settings:
    token: Secret | None = None
    api_url: str | None = None
    data_dir: Path = Path("data")
    routines_dir: Path = Path("routines")
    log_level: str = "INFO"
    reload_interval: float = 2.0
    flood_burst: int = 20  # updates a user may send at once; 0 turns flood control off
    flood_rate: float = 1.0  # updates a second on top of the burst
    stats_threshold: int = 3  # statistics show counts below this as "<3" (bot/stats/suppress.py)

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILE


_N = TypeVar("_N", int, float)


def _number(
    env: Mapping[str, str],
    name: str,
    default: _N,
    kind: Callable[[str], _N],
    valid: Callable[[_N], bool],
    problem: str,
    problems: list[str],
) -> _N:
    """A numeric setting, or its default; a bad value adds `problem` and keeps the default."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError:
        problems.append(problem)
        return default
    if not valid(value):
        problems.append(problem)
        return default
    return value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read TELEGRAM_BOT_TOKEN, TRYGG_API_URL, TRYGG_DATA_DIR, TRYGG_ROUTINES, TRYGG_LOG_LEVEL,
    TRYGG_RELOAD_INTERVAL, TRYGG_FLOOD_BURST, TRYGG_FLOOD_RATE and TRYGG_STATS_THRESHOLD."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    token: Secret | None = None
    raw_token = env.get("TELEGRAM_BOT_TOKEN", "").strip()
    if raw_token:
        if _TOKEN_SHAPE.match(raw_token):
            token = Secret(raw_token)
        else:
            problems.append(
                "TELEGRAM_BOT_TOKEN does not look like a bot token (digits, a colon, then letters; "
                "BotFather gives it)"
            )

    api_url = env.get("TRYGG_API_URL", "").strip() or None
    if api_url and not re.match(r"^https?://[^\s/]+", api_url):
        problems.append(
            "TRYGG_API_URL must be an http(s) URL such as https://api.telegram.org/bot "
            "(the bot token is appended to it)"
        )

    routines_dir = Path(env.get("TRYGG_ROUTINES", "routines"))
    if not routines_dir.is_dir():
        problems.append(f"TRYGG_ROUTINES: {routines_dir} is not a directory of routine files")

    log_level = env.get("TRYGG_LOG_LEVEL", "INFO").strip().upper()
    if log_level not in _LOG_LEVELS:
        problems.append(f"TRYGG_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")

    reload_interval = _number(
        env,
        "TRYGG_RELOAD_INTERVAL",
        2.0,
        float,
        lambda v: v > 0,
        "TRYGG_RELOAD_INTERVAL must be a positive number of seconds",
        problems,
    )
    flood_burst = _number(
        env,
        "TRYGG_FLOOD_BURST",
        20,
        int,
        lambda v: v >= 0,
        "TRYGG_FLOOD_BURST must be a whole number, 0 or more (0: no limit)",
        problems,
    )
    flood_rate = _number(
        env,
        "TRYGG_FLOOD_RATE",
        1.0,
        float,
        lambda v: v > 0,
        "TRYGG_FLOOD_RATE must be a positive number of updates a second",
        problems,
    )
    stats_threshold = _number(
        env,
        "TRYGG_STATS_THRESHOLD",
        3,
        int,
        lambda v: v >= 3,
        "TRYGG_STATS_THRESHOLD must be a whole number, 3 or more (statistics show "
        "smaller counts as <3)",
        problems,
    )

    if problems:
        raise ConfigError(problems)
    return Settings(
        token=token,
        api_url=api_url,
        data_dir=Path(env.get("TRYGG_DATA_DIR", "data")),
        routines_dir=routines_dir,
        log_level=log_level,
        reload_interval=reload_interval,
        flood_burst=flood_burst,
        flood_rate=flood_rate,
        stats_threshold=stats_threshold,
    )
