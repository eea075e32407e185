"""Danger first, through the real dispatch path: 112 before anything else, in every answer.

What an official notices: every answer and every fallback starts with "Är du i fara nu? Ring
112.", present danger in any words (or a 🔪, a photo's caption, a cry for help) gets the acute
answer, and after it the bot offers the way on once they are safe.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.handlers import callbacks
from tests.conftest import Harness, buttons, html, texts
from tests.fakes import telegram_objects as tg

ANNA = 2001  # member of Solvik
CARL = 2003  # never joins
DANGER_SV = "Är du i fara nu? Ring 112."
DANGER_EN = "In danger now? Call 112."
ACUTE_SV = DANGER_SV + "\n🆘 Akut fara"
SATURDAY_22 = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)


def _media(user: int, kind: str) -> dict[str, Any]:
    """A voice note or a document: a photo update with the photo swapped for it."""
    update = tg.photo_update(user)
    message = update["message"]
    del message["photo"]
    if kind == "voice":
        message["voice"] = {"file_id": "v1", "file_unique_id": "v1u", "duration": 4}
    else:
        message["document"] = {"file_id": "d1", "file_unique_id": "d1u", "file_name": "a.pdf"}
    return update


@pytest.mark.parametrize(
    "sentence",
    [
        "någon bankar på dörren och skriker att han ska döda mig",
        "han hotar mig med en yxa",
        "någon har tänt eld på min bil",
        "🔪",
        "hjälp",
        "Hjälp!!",
        "nån står utanför dörren",
        "han har en knvi",
    ],
)
async def test_present_danger_gets_112_first_and_the_routines_acute_steps(
    harness: Harness, sentence: str
) -> None:
    await harness.join(ANNA, "solvik")
    said = texts(await harness.send(ANNA, sentence))[0]
    assert said.startswith(ACUTE_SV)
    call_now = said.split("Ring nu:\n")[1]
    assert call_now.startswith("☎ SOS Alarm – nödnummer: 112\n")
    assert "Ta dig i säkerhet" in said  # Solvik's own first acute step, before the fold


async def test_english_danger_and_the_english_line(harness: Harness) -> None:
    await harness.join(ANNA, "solvik", language_code="en")
    calls = await harness.send(ANNA, "someone is folowing me right now", language_code="en")
    said = texts(calls)[0]
    assert said.startswith(DANGER_EN + "\n🆘 Immediate danger")
    assert ("I'm safe – what now?", callbacks.situation("efter")) in buttons(calls)


async def test_danger_in_the_last_line_of_a_long_message_is_read(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    story = "Han har skickat mejl och sms i flera månader och jag är orolig för familjen. " * 38
    text = story + "\nIgår kväll stod han utanför mitt hus igen med en kniv"
    assert 2900 < len(text) <= 4096
    assert texts(await harness.send(ANNA, text))[0].startswith(ACUTE_SV)


async def test_after_the_acute_answer_the_way_on_once_safe(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "någon bankar på dörren och skriker att han ska döda mig")
    offered = buttons(calls)
    assert offered[0] == ("Jag är i säkerhet – vad nu?", callbacks.situation("efter"))
    # The words also fit a threat: offered for later, below the way on.
    assert callbacks.situation("hot") in [data for _, data in offered]
    after = texts(await harness.press(ANNA, callbacks.situation("efter")))[0]
    assert after.startswith(DANGER_SV + "\nEfter en händelse")
    assert "Boten sparar inga bilder" in after  # it speaks of evidence


@pytest.mark.parametrize("kind", ["photo", "sticker", "voice", "document"])
async def test_what_the_bot_cannot_read_still_gets_112_first(harness: Harness, kind: str) -> None:
    await harness.join(ANNA, "solvik")
    if kind == "photo":
        update = tg.photo_update(ANNA)
    elif kind == "sticker":
        update = tg.sticker_update(ANNA)
    else:
        update = _media(ANNA, kind)
    calls = await harness.update(update)
    said = texts(calls)
    assert len(said) == 1
    assert said[0].startswith(DANGER_SV + "\nJag kan bara läsa text")
    offered = [data for _, data in buttons(calls)]
    assert offered == [*(callbacks.situation(s) for s in ("akut", "hot", "nathat")), "menu:"]


async def test_a_photo_captioned_with_danger_or_a_knife_sticker_is_danger(
    harness: Harness,
) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.update(tg.photo_update(ANNA, caption="han står utanför med kniv"))
    assert texts(calls)[0].startswith(ACUTE_SV)
    calls = await harness.update(tg.sticker_update(ANNA, emoji="🔪"))
    assert texts(calls)[0].startswith(ACUTE_SV)


async def test_not_understood_offers_the_best_three_and_all(harness: Harness) -> None:
    calls = await harness.send(CARL, "blablabla qwerty")
    assert texts(calls)[0].startswith(DANGER_SV + "\nJag förstod inte")
    assert buttons(calls)[-1] == ("Visa alla situationer", "menu:")
    assert len(buttons(calls)) == 4


async def test_unsure_and_outdated_answers_start_with_112(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    assert texts(await harness.send(ANNA, "hot på nätet"))[0].startswith(DANGER_SV)
    calls = await harness.press(ANNA, callbacks.situation("finns-inte"))
    assert texts(calls)[0].startswith(DANGER_SV + "\nDen knappen gäller inte längre")


async def test_the_group_answer_starts_with_112(harness: Harness) -> None:
    update = tg.message_update(
        CARL, "/kontakt", chat_type="supergroup", chat_id=tg.DEFAULT_GROUP_ID
    )
    said = texts(await harness.update(update))
    assert len(said) == 1
    assert said[0].startswith(DANGER_SV + "\n🆘 Akut fara")
    assert "privat chatt" in said[0]


async def test_a_non_member_who_tries_to_report_gets_112_first(harness: Harness) -> None:
    said = texts(await harness.send(CARL, "/rapportera"))
    assert said[0].startswith(DANGER_SV + "\nFör att rapportera behöver du vara med")
    said = texts(await harness.send(CARL, "/report", language_code="en"))
    assert said[0].startswith(DANGER_EN + "\nTo report, you need to be a member")


async def test_the_apology_for_an_error_starts_with_112(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(user_id: int) -> None:
        raise RuntimeError("the database is gone")

    monkeypatch.setattr(harness.services.db, "get_profile", broken)
    said = texts(await harness.send(ANNA, "jag fick ett hotfullt mejl"))
    assert said == [DANGER_SV + "\nFörlåt, något gick fel hos mig. Försök igen om en stund."]


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_every_situation_starts_with_the_line_whatever_the_file_says(
    harness: Harness, lang: str
) -> None:
    await harness.join(ANNA, "solvik", language_code=lang)
    line = DANGER_SV if lang == "sv" else DANGER_EN
    situations = harness.services.registry.get("solvik").situations  # type: ignore[union-attr]
    for situation in situations:
        calls = await harness.press(ANNA, callbacks.situation(situation.id), language_code=lang)
        assert texts(calls)[0].split("\n")[0] == line, situation.id
        assert "tel:" not in html(calls)
    for situation_id in ("hot", "oro"):  # as a guest: the national answers too
        calls = await harness.press(CARL, callbacks.situation(situation_id), language_code=lang)
        assert texts(calls)[0].split("\n")[0] == line, situation_id


async def test_saturday_night_threat_answer_through_the_dispatch(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    harness.clock.moment = SATURDAY_22
    calls = await harness.press(ANNA, callbacks.situation("hot"))
    [message] = [c for c in calls if c.method == "sendMessage"]
    said = message.result["text"]
    folded = [e for e in message.result["entities"] if e["type"] == "expandable_blockquote"]
    assert len(folded) == 1
    before_fold = said.encode("utf-16-le")[: folded[0]["offset"] * 2].decode("utf-16-le")
    assert len(before_fold) <= 700
    assert "Tjänsteman i beredskap (TiB): +46 70 174 06 12" in before_fold
    assert "Säkerhetssamordnare (Karin Holm): nås från mån 08:00" in before_fold
    assert "Stängt" not in said
