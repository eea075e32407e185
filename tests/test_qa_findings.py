"""Findings of trying the bot as officials, coordinators and an attacker would, through the
real dispatch path: what each of them reads after an action that can no longer be done."""

from __future__ import annotations

from tests.conftest import Harness, texts

REPORTER = 7_501_001
KARIN = 7_502_002  # bound to sakerhet, which receives reports

FORM = [
    "rep:skip.description",
    "rep:set.type.hot",
    "rep:set.channel.epost",
    "rep:set.month.vet_inte",
    "rep:set.repeated.ja",
    "rep:set.perpetrator.okand",
    "rep:set.police.nej",
    "rep:set.impact.ingen",
    "rep:done.impact",
    "rep:skip.gender",
    "rep:set.contact_me.ja",
]


async def _reported(harness: Harness) -> str:
    await harness.join(REPORTER, "solvik")
    await harness.join(KARIN, "solvik", "coordinator", "sakerhet")
    await harness.send(REPORTER, "/rapportera")
    for data in FORM:
        await harness.press(REPORTER, data)
    receipt = next(t for t in texts(await harness.press(REPORTER, "rep:send")) if "Referens" in t)
    return receipt.split("Referens: ")[1].split()[0]


async def test_an_old_reply_button_on_a_closed_case_says_closed_once(harness: Harness) -> None:
    ref = await _reported(harness)
    await harness.press(KARIN, f"case:close.{ref}")
    await harness.press(KARIN, f"case:closeok.{ref}")
    said = texts(await harness.press(KARIN, f"case:reply.{ref}"))
    assert said == [f"Rapport {ref} är stängd 24/11, så det går inte att svara längre."]


async def test_joining_says_where_to_call_in_danger(harness: Harness) -> None:
    """The first thing a new member reads names 112, as /start and /hjalp do."""
    said = texts(await harness.join(REPORTER, "solvik"))
    assert said[0].endswith("\nVid akut fara: ring 112.")
    said = texts(await harness.join(KARIN, "solvik", language_code="en"))
    assert said[0].endswith("\nIn immediate danger: call 112.")


async def test_the_privacy_screen_lists_the_escalation_readers_as_a_sentence(
    harness: Harness,
) -> None:
    await harness.join(REPORTER, "solvik")
    said = texts(await harness.send(REPORTER, "/integritet"))[0]
    assert "får också Kommundirektör och Kommunstyrelsens ordförande veta" in said
    said = texts(await harness.send(REPORTER, "/privacy", language_code="en"))[0]
    assert "Chief executive and Chair of the executive board are also told" in said
