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
from urllib.parse import urlsplit

from bot.datadir import DB_FILE

_TOKEN_SHAPE = re.compile(r"^\d{3,20}:[A-Za-z0-9_-]{20,}$")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
_WEBHOOK_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")  # what Telegram accepts
_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


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
    key_file: Path | None = None  # None: found by bot.datadir.locate_key
    webhook_url: str | None = None  # set: Telegram posts updates there instead of long polling
    webhook_listen: tuple[str, int] = ("127.0.0.1", 8080)  # behind the reverse proxy
    webhook_secret: Secret | None = None  # None: a new random one at every start
    metrics_listen: tuple[str, int] | None = None  # /healthz and /metrics; None: off

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


def _address(
    env: Mapping[str, str], name: str, default_host: str, problems: list[str]
) -> tuple[str, int] | None:
    """`HOST:PORT` or `PORT` (on `default_host`), or None when unset."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    host, colon, port = raw.rpartition(":")
    if not colon:
        host, port = default_host, raw
    host = host.strip("[]") or default_host
    if not port.isdigit() or not 0 < int(port) < 65536:
        problems.append(f"{name} must be PORT or HOST:PORT, e.g. 127.0.0.1:9464")
        return None
    return host, int(port)


def _webhook(
    env: Mapping[str, str], problems: list[str]
) -> tuple[str | None, tuple[str, int], Secret | None]:
    url = env.get("TRYGG_WEBHOOK_URL", "").strip() or None
    if url is not None:
        parts = urlsplit(url)
        local = parts.hostname in _LOOPBACK
        if parts.scheme != "https" and not (parts.scheme == "http" and local):
            problems.append(
                "TRYGG_WEBHOOK_URL must be the public https:// address of the reverse proxy, "
                "e.g. https://bot.example.se/telegram (Telegram posts only to https)"
            )
    listen = _address(env, "TRYGG_WEBHOOK_LISTEN", "127.0.0.1", problems) or ("127.0.0.1", 8080)
    secret: Secret | None = None
    raw = env.get("TRYGG_WEBHOOK_SECRET", "").strip()
    if raw:
        if _WEBHOOK_SECRET.match(raw):
            secret = Secret(raw)
        else:
            problems.append(
                "TRYGG_WEBHOOK_SECRET must be 1-256 letters, digits, _ or - (or leave it unset "
                "for a new random one at every start)"
            )
    return url, listen, secret


TOKEN_CREDENTIAL = "telegram-token"
"""The systemd credential with the token: `LoadCredential=telegram-token:/etc/trygg/...`."""


def _token_from_file(env: Mapping[str, str], problems: list[str]) -> str:
    """The token from a file, so it never sits in the environment of a process listing:
    TELEGRAM_BOT_TOKEN_FILE (a container secret), else the systemd credential."""
    named = env.get("TELEGRAM_BOT_TOKEN_FILE", "").strip()
    credentials = env.get("CREDENTIALS_DIRECTORY", "").strip()
    if named:
        path = Path(named)
    elif credentials and (Path(credentials) / TOKEN_CREDENTIAL).is_file():
        path = Path(credentials) / TOKEN_CREDENTIAL
    else:
        return ""
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as error:
        problems.append(f"TELEGRAM_BOT_TOKEN_FILE: cannot read {path} ({type(error).__name__})")
        return ""


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read TELEGRAM_BOT_TOKEN (or TELEGRAM_BOT_TOKEN_FILE, or the telegram-token credential),
    TRYGG_API_URL, TRYGG_DATA_DIR, TRYGG_ROUTINES, TRYGG_LOG_LEVEL, TRYGG_RELOAD_INTERVAL,
    TRYGG_FLOOD_BURST, TRYGG_FLOOD_RATE, TRYGG_STATS_THRESHOLD, TRYGG_KEY_FILE,
    TRYGG_WEBHOOK_URL, TRYGG_WEBHOOK_LISTEN, TRYGG_WEBHOOK_SECRET and TRYGG_METRICS."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    token: Secret | None = None
    raw_token = env.get("TELEGRAM_BOT_TOKEN", "").strip() or _token_from_file(env, problems)
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

    data_dir = Path(env.get("TRYGG_DATA_DIR", "data"))
    key_file = Path(raw_key) if (raw_key := env.get("TRYGG_KEY_FILE", "").strip()) else None
    if key_file is not None:
        if key_file.is_dir():
            problems.append(f"TRYGG_KEY_FILE: {key_file} is a directory, not the key's file")
        elif key_file.resolve().parent == data_dir.resolve():
            problems.append(
                "TRYGG_KEY_FILE must not be inside TRYGG_DATA_DIR: a copy of the data then "
                "holds the key that opens it"
            )
    webhook_url, webhook_listen, webhook_secret = _webhook(env, problems)
    metrics_listen = _address(env, "TRYGG_METRICS", "127.0.0.1", problems)

    if problems:
        raise ConfigError(problems)
    return Settings(
        token=token,
        api_url=api_url,
        data_dir=data_dir,
        routines_dir=routines_dir,
        log_level=log_level,
        reload_interval=reload_interval,
        flood_burst=flood_burst,
        flood_rate=flood_rate,
        stats_threshold=stats_threshold,
        key_file=key_file,
        webhook_url=webhook_url,
        webhook_listen=webhook_listen,
        webhook_secret=webhook_secret,
        metrics_listen=metrics_listen,
    )
