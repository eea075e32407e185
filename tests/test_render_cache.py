"""Rendered answers are kept, but never shown once they would say something else.

What a user notices: two officials asking the same thing at the same moment get the same answer;
when the hour changes who can be reached, the next answer says so; when a coordinator saves the
routine file, the next answer shows the change.
"""

from __future__ import annotations

from datetime import timedelta

from bot.app import reload_routines
from bot.handlers import callbacks
from tests.conftest import Harness, buttons, texts

ANNA = 8_100_001
BO = 8_100_002


async def _threat_answer(h: Harness, user: int, **who: str) -> str:
    return texts(await h.press(user, callbacks.situation("hot"), **who))[0]


async def test_the_same_question_at_the_same_moment_gets_the_same_answer(harness: Harness) -> None:
    h = harness
    await h.join(ANNA, "solvik")
    await h.join(BO, "solvik")
    first = await _threat_answer(h, ANNA)
    assert await _threat_answer(h, BO) == first
    assert h.services.answers.hits >= 1  # the second was not rendered again


async def test_the_answer_changes_when_the_hour_changes_who_can_be_reached(
    harness: Harness,
) -> None:
    h = harness  # Tuesday 10:00 in Solvik: the security coordinator can be reached
    await h.join(ANNA, "solvik")
    daytime = await _threat_answer(h, ANNA)
    assert "Säkerhetssamordnare" in daytime.split("Kan inte nås nu")[0]  # among "call now"
    h.clock.advance(timedelta(hours=12))  # 22:00: closed, the duty officer instead
    night = await _threat_answer(h, ANNA)
    assert night != daytime
    assert "Säkerhetssamordnare" in night.split("Kan inte nås nu")[1]  # now "can't be reached"
    h.clock.advance(timedelta(hours=12))  # 10:00 the next day: as in the morning again
    assert await _threat_answer(h, ANNA) == daytime


async def test_a_saved_routine_file_shows_in_the_next_answer(harness: Harness) -> None:
    h = harness
    await h.join(ANNA, "solvik")
    before = await _threat_answer(h, ANNA)
    path = h.services.settings.routines_dir / "solvik.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("Säkerhetssamordnare", "Trygghetssamordnare"),
        encoding="utf-8",
    )
    await reload_routines(h.app)
    after = await _threat_answer(h, ANNA)
    assert "Trygghetssamordnare" in after and "Trygghetssamordnare" not in before


async def test_each_language_gets_its_own_answer(harness: Harness) -> None:
    h = harness
    await h.join(ANNA, "solvik")
    await h.join(BO, "solvik", language_code="en")
    swedish = await _threat_answer(h, ANNA)
    english = await _threat_answer(h, BO, language_code="en")
    assert swedish.startswith("Är du i fara nu? Ring 112.")
    assert english.startswith("In danger now? Call 112.")


async def test_the_buttons_under_an_answer_follow_the_language_and_a_saved_file(
    harness: Harness,
) -> None:
    h = harness
    await h.join(ANNA, "solvik")
    await h.join(BO, "solvik", language_code="en")
    acute = "han har en kniv och skickade ett hotfullt mejl"  # acute, and a threat besides
    swedish = buttons(await h.send(ANNA, acute))
    english = buttons(await h.send(BO, acute, language_code="en"))
    assert ("Jag har fått ett hot (mejl, brev, sms, samtal)", "sit:hot") in swedish
    assert ("I have received a threat", "sit:hot") in english
    assert buttons(await h.send(ANNA, acute)) == swedish  # kept, and the same
    path = h.services.settings.routines_dir / "solvik.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            '"Jag har fått ett hot (mejl, brev, sms, samtal)"', "Jag har blivit hotad"
        ),
        encoding="utf-8",
    )
    await reload_routines(h.app)
    assert ("Jag har blivit hotad", "sit:hot") in buttons(await h.send(ANNA, acute))


async def test_a_member_who_moves_to_another_organisation_gets_its_answer(
    harness: Harness,
) -> None:
    h = harness
    await h.join(ANNA, "solvik")
    await h.join(BO, "region-norrmark")
    solvik = await _threat_answer(h, ANNA)
    norrmark = await _threat_answer(h, BO)
    assert solvik != norrmark
    asked = await h.join(ANNA, "region-norrmark")  # a new invite, and she confirms the move
    switch = next(data for label, data in buttons(asked) if label.startswith("Ja"))
    await h.press(ANNA, switch)
    assert await _threat_answer(h, ANNA) == norrmark
    await h.services.db.revoke_member(ANNA, [])  # what `trygg revoke` does
    left = await _threat_answer(h, ANNA)
    assert left not in (solvik, norrmark)  # the national answer for someone in no organisation
