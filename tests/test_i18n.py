"""Every message exists in Swedish and English, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from bot.handlers.commands import COMMANDS
from bot.handlers.register import COMMAND_CALLBACKS
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Html, catalog, normalise_language, t, words

BOT = Path(__file__).resolve().parent.parent / "bot"


def _fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_catalog_has_the_same_keys_and_placeholders() -> None:
    sv = catalog(DEFAULT_LANGUAGE)
    for lang in LANGUAGES:
        other = catalog(lang)
        assert sorted(set(sv) ^ set(other)) == [], lang
        for key in sv:
            assert _fields(sv[key]) == _fields(other[key]), (lang, key)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_each_language_names_the_weekdays_and_commands_as_telegram_accepts(lang: str) -> None:
    assert len(words("weekday.short", lang)) == 7
    assert len(words("weekday.long", lang)) == 7
    names = [command.name(lang) for command in COMMANDS]
    assert all(re.fullmatch(r"[a-z0-9_]{1,32}", name) for name in names), names
    assert len(set(names)) == len(names)


def test_no_command_name_means_another_command_in_another_language() -> None:
    owner: dict[str, str] = {}
    for command in COMMANDS:
        for name in command.names:
            assert owner.setdefault(name, command.key) == command.key, name


def test_every_key_used_in_the_code_exists() -> None:
    used: set[str] = set()
    prefixes: set[str] = set()
    for path in BOT.rglob("*.py"):
        source = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\(\s*"([a-z_]+\.[a-z_.]+)"', source))
        prefixes |= set(re.findall(r'\bt\(\s*f"([a-z_]+\.)\{', source))
    missing = sorted(key for key in used if key not in catalog("sv"))
    assert missing == []
    for prefix in prefixes:  # keys built at run time must have at least one entry
        assert any(key.startswith(prefix) for key in catalog("sv")), prefix
    for failure in ("unknown", "expired", "used_up"):
        assert f"join.{failure}" in catalog("sv")


def test_every_command_has_a_menu_text_and_a_handler() -> None:
    for command in COMMANDS:
        assert command in COMMAND_CALLBACKS
        if command.in_menu:
            assert f"command.{command.key}" in catalog("sv")


def test_values_are_escaped_unless_already_html() -> None:
    assert t("join.welcome", "sv", organisation="<b>x</b> & co") == (
        "Välkommen! Du är nu med i <b>&lt;b&gt;x&lt;/b&gt; &amp; co</b>. "
        "Skriv vad som har hänt eller använd /kontakt.\n<b>Vid akut fara: ring 112.</b>"
    )
    assert "<i>ok</i>" in t("contact.guest_footer", "sv", answer=Html("<i>ok</i>"))


@pytest.mark.parametrize(
    ("code", "lang"),
    [
        ("sv", "sv"),
        ("sv-SE", "sv"),
        ("en", "en"),
        ("en-GB", "en"),
        ("fi", "sv"),
        (None, "sv"),
        ("", "sv"),
    ],
)
def test_telegram_language_sets_the_default(code: str | None, lang: str) -> None:
    assert normalise_language(code) == lang


def test_an_unknown_language_falls_back_to_swedish() -> None:
    assert t("language.set", "de") == t("language.set", "sv")
