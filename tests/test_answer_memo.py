"""Answers shared within a minute are the answers of that very moment.

`answer()` keeps the answers of the current minute (bot/routines/answer.py). Office hours are
whole minutes, so that is exact, and these tests hold it to that: asked a second before a
contact closes, the official is told it is open; asked when it closes, even right after someone
asked in the minute before, they are told it is closed and when it opens again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.routines.answer import _answer, answer, find_situation, situations_for
from bot.routines.loader import load_national, load_routine
from bot.routines.models import Routine

REPO = Path(__file__).resolve().parent.parent
# Tuesday 24 November 2026 in Stockholm (UTC+1): Solvik's växel closes at 16:30.
CLOSING = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)


@pytest.fixture(scope="module")
def solvik() -> Routine:
    national = load_national(REPO / "routines" / "_national.yaml")
    return load_routine(REPO / "routines" / "solvik.yaml", national)


def _open_steps(routine: Routine, situation_id: str, at: datetime) -> list[bool]:
    situation = find_situation(routine, situation_id)
    assert situation is not None
    return [s.reach.open_now for s in answer(routine, situation, at).steps if s.reach]


def test_the_second_before_closing_is_open_and_closing_time_is_closed(solvik: Routine) -> None:
    before = _open_steps(solvik, "hot", CLOSING - timedelta(seconds=1))
    at = _open_steps(solvik, "hot", CLOSING)
    after_a_second = _open_steps(solvik, "hot", CLOSING + timedelta(seconds=1))
    assert before != at  # someone closed at 16:30 (else this test proves nothing)
    assert at == after_a_second
    # and back: an earlier minute is never served from a later one
    assert _open_steps(solvik, "hot", CLOSING - timedelta(microseconds=1)) == before


# Where Solvik's contacts open or close (local wall clock, minutes after midnight).
BOUNDARIES = (8 * 60, 10 * 60, 14 * 60, 15 * 60, 16 * 60, 16 * 60 + 30, 17 * 60, 19 * 60, 22 * 60)


def test_both_sides_of_every_opening_and_closing_match_a_fresh_answer(solvik: Routine) -> None:
    """On a Monday, a Friday and a Saturday, at the last instant before and the first instant of
    each opening and closing, for every situation, the shared answer equals the one worked out
    for that exact moment; the earlier instant is asked first, so its minute is in the memo."""
    for day in (datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 4, tzinfo=UTC)):
        for boundary in BOUNDARIES:
            at = day + timedelta(minutes=boundary - 60)  # Stockholm is UTC+1 in winter
            for moment in (at - timedelta(microseconds=1), at):
                for situation in situations_for(solvik):
                    shared = answer(solvik, situation, moment)
                    assert shared == _answer(solvik, situation, moment), (situation.id, moment)
    saturday = datetime(2026, 12, 5, 9, 0, 30, tzinfo=UTC)
    for situation in situations_for(solvik):
        assert answer(solvik, situation, saturday) == _answer(solvik, situation, saturday)


def test_a_reloaded_routine_is_answered_from_its_own_contacts(solvik: Routine) -> None:
    national = load_national(REPO / "routines" / "_national.yaml")
    reloaded = load_routine(REPO / "routines" / "solvik.yaml", national)
    situation = find_situation(solvik, "hot")
    again = find_situation(reloaded, "hot")
    assert situation is not None and again is not None
    first = answer(solvik, situation, CLOSING)
    second = answer(reloaded, again, CLOSING)
    assert second.situation is again
    assert all(
        a.reach is None or a.reach.contact is reloaded.contacts.get(a.step.contact, a.reach.contact)
        for a in second.steps
    )
    assert first.situation is situation
