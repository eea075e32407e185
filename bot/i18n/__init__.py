"""Message catalogs (one YAML file per language) and `t(key, lang, **values)`.

Catalog strings are Telegram HTML. Values are HTML-escaped unless wrapped in `Html`, so user and
routine-file text can never inject markup; already rendered fragments are passed as `Html`.
"""

from __future__ import annotations

import html
from functools import cache
from importlib import resources
from typing import Any

import yaml

LANGUAGES = ("sv", "en")
DEFAULT_LANGUAGE = "sv"


class Html(str):
    """A string that is already safe Telegram HTML and must not be escaped again."""

    __slots__ = ()


def escape(text: str) -> Html:
    """Escape user or file text for Telegram HTML (only <, > and & are special there)."""
    return Html(html.escape(text, quote=False))


@cache
def catalog(lang: str) -> dict[str, str]:
    """The flat key -> message map of one language, loaded once."""
    raw = resources.files(__package__).joinpath(f"{lang}.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(raw)
    if not isinstance(data, dict):
        raise RuntimeError(f"message catalog {lang}.yaml is not a mapping")
    return {str(k): str(v).rstrip("\n") for k, v in data.items()}


def normalise_language(code: str | None) -> str:
    """Map a Telegram `language_code` (e.g. `en-GB`) to a language the bot speaks; Swedish first."""
    if code and code.lower().split("-")[0] == "en":
        return "en"
    return DEFAULT_LANGUAGE


def t(key: str, lang: str, **values: Any) -> Html:
    """The message `key` in `lang` (Swedish when the language is unknown), values filled in."""
    messages = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    template = messages[key]
    if not values:
        return Html(template)
    safe = {k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
    return Html(template.format_map(safe))
