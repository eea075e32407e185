"""The languages the bot speaks, their message catalogs (one YAML file per language) and
`t(key, lang, **values)`.

`SPOKEN` is the one list of languages: the catalogs, the command names, the weekday names, the
CLI's choices, the routine files' languages and triage's stemmers all follow it. Adding a language
is a catalog file and one entry here (docs/languages.md).

Catalog strings are Telegram HTML. Values are HTML-escaped unless wrapped in `Html`, so user and
routine-file text can never inject markup; already rendered fragments are passed as `Html`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import yaml


@dataclass(frozen=True)
class Language:
    """One language the bot speaks."""

    code: str  # ISO 639-1: Telegram's language_code, the catalog's file name, routine text keys
    name: str  # in the language itself, on the /sprak buttons
    stemmer: str  # the Snowball stemmer (snowballstemmer.algorithms()) for reading free text


# The default first: Swedish is what the bot speaks to anyone whose language it does not know.
SPOKEN = (
    Language("sv", "Svenska", stemmer="swedish"),
    Language("en", "English", stemmer="english"),
)
LANGUAGES = tuple(language.code for language in SPOKEN)
DEFAULT_LANGUAGE = LANGUAGES[0]
# Where a text must be read by someone whose language the bot does not speak (hours for a
# Finnish client, say), English is the better guess than Swedish.
FOREIGN_FALLBACK = "en"


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
    # libyaml where PyYAML has it: the same safe loading, a tenth of the time at start.
    data = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(data, dict):
        raise RuntimeError(f"message catalog {lang}.yaml is not a mapping")
    return {str(k): str(v).rstrip("\n") for k, v in data.items()}


def normalise_language(code: str | None) -> str:
    """Map a Telegram `language_code` (e.g. `en-GB`) to a language the bot speaks; Swedish first."""
    base = code.lower().split("-")[0] if code else ""
    return base if base in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str, **values: Any) -> Html:
    """The message `key` in `lang` (Swedish when the language is unknown), values filled in."""
    messages = catalog(lang if lang in LANGUAGES else DEFAULT_LANGUAGE)
    template = messages[key]
    if not values:
        return Html(template)
    safe = {k: v if isinstance(v, Html) else escape(str(v)) for k, v in values.items()}
    return Html(template.format_map(safe))


@cache
def plain(key: str, lang: str) -> str:
    """The message `key` as plain text (entities decoded), for images, terminals and parts that
    are escaped again later."""
    return html.unescape(t(key, lang))


@cache
def words(key: str, lang: str) -> tuple[str, ...]:
    """A catalog entry of space-separated words, such as `weekday.short`, Monday first."""
    return tuple(plain(key, lang).split())
