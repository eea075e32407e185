"""Parsers for the value types of a routine file (ROUTINES.md, "Value rules").

Security coordinators write these files by hand, so every parser raises ValueError with a message
that says what was written, what is expected and an example; the loader adds the file position.
The parsers work on plain strings and mappings, never on YAML nodes, so they can be reused by the
CLI and by tests without a file.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from datetime import time
from functools import cache, lru_cache
from typing import cast

import phonenumbers
from croniter import croniter

from bot.routines.models import SUPPORTED_LANGUAGES, Duration, DurationUnit, Phone, Text

SCHEDULE_KEYWORDS = ("weekly", "monthly", "quarterly", "never")
DURATION_UNITS: tuple[DurationUnit, ...] = ("s", "m", "h", "d", "w", "mo")

# `mo` before `m` so that `12mo` is not read as 12 minutes followed by junk.
_DURATION = re.compile(r"^(\d+)\s*(mo|s|m|h|d|w)$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")
# A short number is at most six digits (116 006); anything longer is an ordinary number.
_MAX_SHORT_DIGITS = 6
_DURATION_HELP = "write a whole number and a unit (s, m, h, d, w or mo), e.g. 24h or 12mo"


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate `word` was most likely meant to be: typos are the commonest mistake."""
    close = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def suggest(word: str, candidates: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest candidate, or nothing."""
    match = closest(word, candidates)
    return f" (did you mean '{match}'?)" if match else ""


def parse_duration(raw: str) -> Duration:
    """`24h`, `14d`, `12mo`: a whole number and a unit; zero would silently disable a rule."""
    text = raw.strip()
    found = _DURATION.match(text)
    if not found:
        raise ValueError(f"'{raw}' is not a duration: {_DURATION_HELP}")
    amount = int(found.group(1))
    if amount == 0:
        raise ValueError(f"'{raw}' is zero: a duration must be at least 1, e.g. 1{found.group(2)}")
    return Duration(amount, cast(DurationUnit, found.group(2)))


# Parsing a number with phonenumbers is a tenth of loading a file, and the same numbers (a
# region's switchboard, the national ones) recur across files and reloads; Phone is immutable.
@lru_cache(maxsize=8192)
def parse_phone(raw: str, allow_short: bool) -> Phone:
    """Parse for region SE: shown in national format, dialled as E.164 so a tap on `tel:` works.

    Short numbers (112, 114 14, 116 006, 1177, 113 13) cannot be written in E.164; their `tel:`
    link is the bare digits, and they keep the grouping the file used because that is how Swedes
    know them. Only the national file may use them: an organisation refers to `national.<id>`.
    """
    text = " ".join(raw.split())
    if not text:
        raise ValueError("the phone number is empty")
    digits = re.sub(r"[\s-]", "", text)
    if digits.isdigit() and len(digits) <= _MAX_SHORT_DIGITS and _is_short_number(digits):
        if allow_short:
            return Phone(raw=raw, e164=digits, national=text)
        raise ValueError(
            f"'{raw}' is a national short number: refer to the national contact instead, "
            "e.g. `contact: national.112` or `contact: national.polisen`"
        )
    return _parse_long_phone(raw, text)


def _is_short_number(digits: str) -> bool:
    try:
        number = phonenumbers.parse(digits, "SE")
    except phonenumbers.NumberParseException:  # "0", "00": not a number at all
        return False
    return bool(phonenumbers.is_valid_short_number_for_region(number, "SE"))


def _parse_long_phone(raw: str, text: str) -> Phone:
    example = "write it like 0620-68 20 00 or +46 620 68 20 00"
    try:
        number = phonenumbers.parse(text, "SE")
    except phonenumbers.NumberParseException:
        raise ValueError(f"'{raw}' is not a phone number: {example}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"'{raw}' is not a valid phone number: {example}")
    # A foreign number in national format could not be dialled from Sweden.
    swedish = phonenumbers.region_code_for_number(number) == "SE"
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if swedish
        else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )
    return Phone(
        raw=raw,
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=phonenumbers.format_number(number, style),
    )


# croniter's check is slow (a tenth of reading a file that has one); a few schedules recur.
@lru_cache(maxsize=1024)
def parse_schedule(raw: str) -> str:
    """A keyword or a five-field cron expression; six-field and `@daily` forms are refused.

    Refusing them keeps the format one thing to learn, and croniter would read a sixth field as
    seconds, which would flood members with messages.
    """
    text = " ".join(raw.split())
    if text in SCHEDULE_KEYWORDS:
        return text
    help_text = (
        f"write {', '.join(SCHEDULE_KEYWORDS[:-1])} or {SCHEDULE_KEYWORDS[-1]}, "
        'or a cron expression with five fields, e.g. "0 9 1 */3 *"'
    )
    fields = text.split(" ")
    if len(fields) != 5:
        if len(fields) == 1:
            raise ValueError(
                f"'{raw}' is not a schedule{suggest(text, SCHEDULE_KEYWORDS)}: {help_text}"
            )
        raise ValueError(f"'{raw}' has {len(fields)} fields, not five: {help_text}")
    if not croniter.is_valid(text):
        raise ValueError(f"'{raw}' is not a valid cron expression: {help_text}")
    return text


def parse_text(raw: str | Mapping[str, str], default_language: str) -> Text:
    """A plain string (every language) or `{lang: string}` that has the default language.

    The default language is required because it is what every member falls back to.
    """
    if isinstance(raw, str):
        if not raw.strip():
            raise ValueError("the text is empty")
        return Text(values={default_language: raw.strip()}, default=default_language)
    values: dict[str, str] = {}
    for lang, value in raw.items():
        values[parse_language(lang)] = value.strip()
        if not value.strip():
            raise ValueError(f"the text in '{lang}' is empty")
    if not values:
        raise ValueError(f"the text is empty: write it at least in '{default_language}'")
    if default_language not in values:
        raise ValueError(
            f"the text has no '{default_language}' version, the default language "
            f"(it has {', '.join(values)})"
        )
    return Text(values=values, default=default_language)


def parse_language(raw: str) -> str:
    """One of SUPPORTED_LANGUAGES: the bot has no other translations of its own words."""
    if raw not in SUPPORTED_LANGUAGES:
        raise ValueError(
            f"unknown language '{raw}'{suggest(raw, SUPPORTED_LANGUAGES)}: "
            f"the bot speaks {' and '.join(SUPPORTED_LANGUAGES)}"
        )
    return raw


def parse_timezone(raw: str) -> str:
    """An IANA zone name; checked now so that a typo does not break reminders at send time."""
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        hint = suggest(raw, _timezones()) or " (e.g. Europe/Stockholm)"
        raise ValueError(f"unknown time zone '{raw}'{hint}") from None
    return raw


@cache
def _timezones() -> tuple[str, ...]:
    return tuple(sorted(zoneinfo.available_timezones()))


def parse_clock_range(raw: str) -> tuple[time, time]:
    """`HH:MM-HH:MM`, which may pass midnight (`21:00-08:00`); an empty window is refused."""
    help_text = 'write two times, e.g. "21:00-08:00"'
    parts = raw.strip().split("-")
    if len(parts) != 2:
        raise ValueError(f"'{raw}' is not a time range: {help_text}")
    start, end = (_parse_clock(part.strip(), raw, help_text) for part in parts)
    if start == end:
        raise ValueError(f"'{raw}' starts and ends at the same time: {help_text}")
    return start, end


def _parse_clock(part: str, raw: str, help_text: str) -> time:
    found = _CLOCK.match(part)
    if not found or int(found.group(1)) > 23 or int(found.group(2)) > 59:
        raise ValueError(f"'{raw}' is not a time range: '{part}' is not a time; {help_text}")
    return time(int(found.group(1)), int(found.group(2)))


def parse_email(raw: str) -> str:
    """A simple shape check: catches a phone number or a name in the wrong field, nothing more."""
    text = raw.strip()
    if not _EMAIL.match(text):
        raise ValueError(f"'{raw}' is not an e-mail address, e.g. sakerhet@exempelkommun.se")
    return text
