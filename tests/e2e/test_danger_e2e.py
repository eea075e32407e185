"""Danger first, end to end: the real bot over HTTP against the fake Bot API server.

The bot's clock starts on a Saturday at 22:00 in Stockholm (the testing hook `TRYGG_FAKE_NOW`),
when the municipality's offices are closed and only the duty officer answers.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import StartBot, Trygg, buttons, has_buttons, sent_html
from tests.fakes.bot_api_server import FakeBotApiServer

ANNA = 7_410_001  # member of Solviks kommun
SATURDAY_22 = "2026-11-28T21:00:00+00:00"
DANGER_SV = "Är du i fara nu? Ring 112."


def before_fold(message: dict[str, Any]) -> str:
    """What the reader sees before opening the expandable blockquote."""
    text: str = message["text"]
    folded = [e for e in message.get("entities", []) if e["type"] == "expandable_blockquote"]
    if not folded:
        return text
    units = text.encode("utf-16-le")[: folded[0]["offset"] * 2]
    return units.decode("utf-16-le")


async def _member(server: FakeBotApiServer, trygg: Trygg) -> None:
    code = await trygg.invite("solvik")
    server.push_message(ANNA, f"/start {code}")
    await server.wait_for(ANNA, "Du är nu med i")
    await server.wait_for(ANNA, has_buttons)


@pytest.mark.e2e
async def test_saturday_night_threat_answer_fits_a_screen_with_whom_to_call_first(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    await start_bot(TRYGG_FAKE_NOW=SATURDAY_22)
    await _member(server, trygg)
    server.push_message(ANNA, "/kontakt")
    menu = await server.wait_for(ANNA, has_buttons)
    server.push_callback(ANNA, menu["message_id"], "sit:hot")
    answer = await server.wait_for(ANNA, "Jag har fått ett hot")

    shown = before_fold(answer)
    assert shown.startswith(DANGER_SV + "\nJag har fått ett hot")
    assert len(shown) <= 700
    lines = shown.split("\n")
    call_now = lines[lines.index("Ring nu:") + 1 :]
    assert call_now[0].startswith("☎ Polisen (när det inte är akut): 114 14")
    assert call_now[1] == "☎ Tjänsteman i beredskap (TiB): +46 70 174 06 12"
    assert "🕗 Säkerhetssamordnare (Karin Holm): nås från mån 08:00" in lines
    html = sent_html(server, answer)
    assert "<blockquote expandable>" in html and "tel:" not in html
    assert 'href="https://polisen.se/anmal-polisen/"' in html
    assert not [c for c in server.calls() if c.method != "getUpdates" and not c.ok]


@pytest.mark.e2e
async def test_danger_in_the_last_line_of_a_4000_character_message(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    await start_bot(TRYGG_FAKE_NOW=SATURDAY_22)
    await _member(server, trygg)
    story = "Han har skrivit till mig i flera månader, först på Facebook och sedan i mejl. "
    text = story * 50
    text = text[: 4000 - 60] + "\nnu står han utanför mitt hus med en kniv"
    assert 3900 < len(text) <= 4096
    server.push_message(ANNA, text)
    answer = await server.wait_for(ANNA, "Akut fara")
    assert answer["text"].startswith(DANGER_SV + "\n🆘 Akut fara")
    assert "☎ SOS Alarm – nödnummer: 112" in before_fold(answer)
    assert ("Jag är i säkerhet – vad nu?", "sit:efter") in buttons(answer)
