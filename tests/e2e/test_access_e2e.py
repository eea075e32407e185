"""Least privilege end to end: the real bot as a subprocess over the fake Bot API, and the
operator's `trygg members` and `trygg revoke` beside it on the same data directory.

Solvik has two coordinators: Karin, bound to `sakerhet` (receives reports), and Pia, bound to
`kommunikation` (the press service, receives nothing). Only Karin gets, lists and opens the
report. Then Karin starts a reply, the operator revokes her in the middle of it, and what she
writes next never reaches the reporter; a coordinator invited afresh can reply again.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.e2e.conftest import StartBot, Trygg, buttons
from tests.e2e.test_reports_e2e import join, press, say, step, text_of
from tests.fakes.bot_api_server import FakeBotApiServer

REPORTER = 7_461_947
KARIN = 7_462_958  # sakerhet: receives reports
PIA = 7_463_969  # kommunikation: receives nothing
NEW_KARIN = 7_464_970

REVOKED_TEXT = "Det här ska aldrig fram. REVOKED-3317"
LATER_TEXT = "Hej igen från samordnaren. LATER-5521"


async def _report(server: FakeBotApiServer) -> str:
    # The form opens with the optional free text (step 1), then the buttons.
    form = await say(server, REPORTER, "/rapportera", step(1))
    # Own words first (free recall, optional), then the buttons.
    form = await press(server, REPORTER, form, "rep:skip.description", step(2))
    for data, expect in [
        ("rep:set.type.hot", step(3)),
        ("rep:set.channel.epost", step(4)),
    ]:
        form = await press(server, REPORTER, form, data, expect)
    month = next(d for _, d in buttons(form) if d.startswith("rep:set.month."))
    form = await press(server, REPORTER, form, month, step(5))
    for data, expect in [
        ("rep:set.repeated.nej", step(6)),
        ("rep:set.perpetrator.okand", step(7)),
        ("rep:set.police.nej", step(8)),
    ]:
        form = await press(server, REPORTER, form, data, expect)
    chosen = lambda m: any(label.startswith("✓") for label, _ in buttons(m))  # noqa: E731
    form = await press(server, REPORTER, form, "rep:set.impact.ingen", chosen)
    form = await press(server, REPORTER, form, "rep:done.impact", step(9))
    form = await press(server, REPORTER, form, "rep:skip.gender", step(10))
    summary = await press(server, REPORTER, form, "rep:set.contact_me.ja", "Sammanfattning")
    await press(server, REPORTER, summary, "rep:send", "är skickad")
    receipt = await server.wait_for(REPORTER, "Referens:")
    assert "skickad till Säkerhetssamordnare" in text_of(receipt)
    return text_of(receipt).split("Referens: ")[1].split()[0]


def _handle(listing: str, contact: str) -> str:
    line = next(row for row in listing.splitlines() if f" {contact} " in row)
    return line.split()[0]


def _seen_by(server: FakeBotApiServer, user: int) -> str:
    return " ".join(text_of(m) for m in server.messages_to(user, include_edits=True))


@pytest.mark.e2e
async def test_only_the_receiving_coordinator_acts_and_revoke_stops_a_reply_midway(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    await start_bot()
    coordinator = {"role": "coordinator"}
    await join(
        server, trygg, KARIN, "solvik", "säkerhetssamordnare", contact="sakerhet", **coordinator
    )
    await join(
        server, trygg, PIA, "solvik", "säkerhetssamordnare", contact="kommunikation", **coordinator
    )
    await join(server, trygg, REPORTER, "solvik", "Du är nu med i")
    ref = await _report(server)

    case = await server.wait_for(KARIN, f"Ny rapport {ref}")
    pia: dict[str, Any] = await say(server, PIA, "/arenden", "inte emot rapporter")
    for verb in ("show", "ack", "reply", "close"):
        server.push_callback(PIA, pia["message_id"], f"case:{verb}.{ref}")
        await server.wait_for(PIA, "Den rapporten finns inte")
    assert ref not in _seen_by(server, PIA)
    assert "Ny rapport" not in _seen_by(server, PIA)
    listed = await say(server, KARIN, "/arenden", "Öppna rapporter")
    assert ref in text_of(listed)

    # Karin starts a reply; the operator revokes her before she sends it.
    await press(server, KARIN, case, f"case:reply.{ref}", "Skriv ditt meddelande")
    members = await asyncio.to_thread(trygg, "members", "--org", "solvik")
    assert members.returncode == 0, members.stderr
    for user in (REPORTER, KARIN, PIA):
        assert str(user) not in members.stdout
    revoked = await asyncio.to_thread(trygg, "revoke", _handle(members.stdout, "sakerhet"))
    assert revoked.returncode == 0, revoked.stderr
    await say(server, KARIN, REVOKED_TEXT, lambda m: True)
    server.push_callback(KARIN, case["message_id"], f"case:ack.{ref}")
    await server.wait_for(KARIN, "för säkerhetssamordnare")

    # A coordinator invited afresh replies; that arrives, the revoked text never did.
    await join(
        server, trygg, NEW_KARIN, "solvik", "säkerhetssamordnare", contact="sakerhet", **coordinator
    )
    server.push_message(NEW_KARIN, "/arenden")
    await server.wait_for(NEW_KARIN, "Öppna rapporter")
    server.push_callback(NEW_KARIN, 1, f"case:reply.{ref}")
    await server.wait_for(NEW_KARIN, "Skriv ditt meddelande")
    await say(server, NEW_KARIN, LATER_TEXT, "Skickat")
    await server.wait_for(REPORTER, "LATER-5521")
    assert "REVOKED-3317" not in _seen_by(server, REPORTER)
