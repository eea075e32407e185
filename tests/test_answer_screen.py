"""The answer for right now fits one phone screen, at every hour of a week, in both languages.

For every situation of the example routines (and the national ones a guest sees), every 30
minutes of a week and on public holidays: the text before the fold (what shows before the
expandable blockquote is opened) is at most 700 characters, starts with the fixed danger line,
and every number in it is in a form Telegram clients make tappable.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import phonenumbers
import pytest

from bot.devchat.transport import parse_html
from bot.fragments import phone_text
from bot.handlers.render import VISIBLE_LIMIT, render_answer, visible_text
from bot.i18n import Html, t
from bot.routines.answer import answer, situations_for
from bot.routines.hours import is_open
from bot.routines.loader import load_national, load_routine
from bot.routines.models import Contact, National, Routine

REPO = Path(__file__).resolve().parent.parent
# Monday 30 November 2026, 00:00 in Stockholm, and 7 days on in steps of 30 minutes.
WEEK_START = datetime(2026, 11, 29, 23, 0, tzinfo=UTC)
HOLIDAYS = (
    datetime(2026, 12, 25, 9, 0, tzinfo=UTC),  # juldagen, a Friday
    datetime(2027, 1, 1, 11, 0, tzinfo=UTC),  # nyårsdagen
    datetime(2027, 3, 29, 8, 30, tzinfo=UTC),  # annandag påsk
    datetime(2027, 5, 6, 7, 0, tzinfo=UTC),  # Kristi himmelsfärdsdag
)
MOMENTS = (*(WEEK_START + timedelta(minutes=30 * i) for i in range(7 * 48)), *HOLIDAYS)
SATURDAY_22 = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
# A number as clients detect it: +46 and groups of digits, or a national short number.
INTERNATIONAL = re.compile(r"^\+\d{1,3}( \d{1,4})+$")
SHORT = re.compile(r"^1\d{2,3}( \d{2,3})*$")


@cache
def _sources() -> dict[str, Routine | National]:
    national = load_national(REPO / "routines" / "_national.yaml")
    sources: dict[str, Routine | National] = {"national": national}
    for org in ("solvik", "region-norrmark"):
        sources[org] = load_routine(REPO / "routines" / f"{org}.yaml", national)
    return sources


def _contacts(source: Routine | National) -> list[Contact]:
    if isinstance(source, Routine):
        return [*source.contacts.values(), *source.national.contacts.values()]
    return list(source.contacts.values())


def _timezone(source: Routine | National) -> str:
    return source.organisation.timezone if isinstance(source, Routine) else source.timezone


def _distinct_moments(source: Routine | National) -> Iterator[datetime]:
    """One moment for each set of contacts reachable at once.

    Within such a set the text differs only in the weekday and time of the next opening, which
    are always three letters and HH:MM: its length is the same. Rendering one moment per set
    keeps this test quick while it covers every half hour of the week.
    """
    seen: set[tuple[bool, ...]] = set()
    contacts, tz = _contacts(source), _timezone(source)
    for moment in MOMENTS:
        state = tuple(is_open(c.hours, moment, tz) for c in contacts)
        if state not in seen:
            seen.add(state)
            yield moment


def _rendered(source_id: str, lang: str) -> Iterator[tuple[str, datetime, str]]:
    source = _sources()[source_id]
    for moment in _distinct_moments(source):
        for situation in situations_for(source):
            result = answer(source, situation, moment)
            if source_id == "national":  # a guest's answer has a footer under it
                footer = t("contact.guest_footer", lang, answer=Html(""))
                reserve = len(visible_text(footer)) + 4
                text = render_answer(result, lang, _timezone(source), reserve=reserve)
                text = t("contact.guest_footer", lang, answer=text)
            else:
                text = render_answer(result, lang, _timezone(source))
            yield situation.id, moment, text


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("source_id", ["national", "solvik", "region-norrmark"])
def test_every_answer_fits_one_screen_and_starts_with_112(source_id: str, lang: str) -> None:
    longest: dict[str, int] = {}
    first_line = t("danger.line", lang)
    for situation_id, moment, text in _rendered(source_id, lang):
        shown = visible_text(text)
        assert len(shown) <= VISIBLE_LIMIT, (situation_id, moment, shown)
        assert shown.split("\n")[0] == first_line, (situation_id, moment)
        plain, entities = parse_html(text)  # Telegram accepts the markup
        assert any(e["type"] == "expandable_blockquote" for e in entities) or len(plain) < 700
        longest[situation_id] = max(longest.get(situation_id, 0), len(shown))
    assert len(longest) == len(situations_for(_sources()[source_id]))


@pytest.mark.parametrize("source_id", ["national", "solvik", "region-norrmark"])
def test_every_number_is_plain_and_tappable(source_id: str) -> None:
    source = _sources()[source_id]
    numbers = {c.phone.national: phone_text(c.phone) for c in _contacts(source) if c.phone}
    for shown in numbers.values():
        assert INTERNATIONAL.match(shown) or SHORT.match(shown), shown
        if shown.startswith("+"):
            assert phonenumbers.is_valid_number(phonenumbers.parse(shown, None)), shown
    for lang in ("sv", "en"):
        for situation_id, _, text in _rendered(source_id, lang):
            assert "tel:" not in text, situation_id
            for national, shown in numbers.items():
                if national != shown:  # the national "0980-…" form would not dial abroad
                    assert national not in text, (situation_id, national)
            for href in re.findall(r'href="([^"]*)"', text):
                assert href.startswith("https://"), href


def test_saturday_night_threat_puts_whom_to_call_first() -> None:
    """The issue's case: the municipal number one can call now is near the top, not 1,000
    characters down, and each contact that cannot be reached now is one line."""
    solvik = _sources()["solvik"]
    hot = next(s for s in situations_for(solvik) if s.id == "hot")
    text = render_answer(answer(solvik, hot, SATURDAY_22), "sv", "Europe/Stockholm")
    lines = visible_text(text).split("\n")
    assert lines[0] == "Är du i fara nu? Ring 112."
    call_now = lines[lines.index("Ring nu:") + 1 :]
    assert call_now[0] == "☎ Polisen (när det inte är akut): 114 14 · anmäl på polisen.se"
    assert call_now[1] == "☎ Tjänsteman i beredskap (TiB): +46 70 174 06 12"
    later = lines[lines.index("Kan inte nås nu:") + 1 : lines.index("Gör så här:")]
    assert later == [
        "🕗 Säkerhetssamordnare (Karin Holm): nås från mån 08:00",
        "🕗 Kommunjurist (Erik Sandberg): nås från mån 08:00",
        "🕗 Företagshälsovården – stödsamtal: nås från mån 08:00",
    ]
    assert text.count("+46 70 174 06 12") == 1  # no repeated fallback chains
    assert 'href="https://polisen.se/anmal-polisen/"' in text
    assert "Boten sparar inga bilder" in text  # the answer speaks of screenshots
