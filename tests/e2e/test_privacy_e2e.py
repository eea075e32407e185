"""End to end: /glom while a coordinator's chat is failing, then the chat comes back; and the
data-directory audit after the whole run (issue 14, points 2 and 6).

The reporter asks to be contacted, the coordinator writes, and while Telegram fails every
message to that coordinator the reporter answers, shows who they are, and then asks the bot to
forget them. When the chat comes back, the coordinator gets what else is queued for them (a
colleague's acknowledgement), but neither the forgotten reporter's answer nor their identity.
Then no file of the data directory holds anyone's id (as text or as a 4-, 6- or 8-byte integer
in either byte order), name or username: not while the bot runs, not after it stopped.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import StartBot, Trygg
from tests.e2e.test_reports_e2e import (
    KARIN,
    KARIN_WHO,
    REPORTER,
    REPORTER_WHO,
    fill_and_send,
    join,
    press,
    say,
    text_of,
)
from tests.fakes.bot_api_server import FakeBotApiServer
from tests.test_data_audit import audit

BERTIL = 7_364_970  # Solvik's second coordinator, contact `sakerhet`
BERTIL_WHO: dict[str, Any] = {"first_name": "Bertil", "username": "bertil_beredskap"}
ANSWER = "Ring mig efter lunch, kodord GLOMSVAR-5531."
COORDINATOR_TEXT = "Hur vill du att vi går vidare?"
WAIT_THROUGH_BACKOFF = 90.0  # the outbox retries a failing chat after 5, 10, 20, ... s

PEOPLE: dict[int, tuple[str, ...]] = {
    REPORTER: tuple(str(v) for v in REPORTER_WHO.values()),
    KARIN: tuple(str(v) for v in KARIN_WHO.values()),
    BERTIL: tuple(str(v) for v in BERTIL_WHO.values()),
}


def _to(server: FakeBotApiServer, chat: int) -> str:
    """Everything Telegram accepted for `chat`."""
    return "\n".join(
        str(c.params.get("text", ""))
        for c in server.calls("sendMessage")
        if c.ok and c.params.get("chat_id") in (chat, str(chat))
    )


@pytest.mark.e2e
async def test_glom_while_a_coordinators_chat_fails_then_the_chat_comes_back(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    bot = await start_bot()
    for user, who in ((KARIN, KARIN_WHO), (BERTIL, BERTIL_WHO)):
        await join(
            server, trygg, user, "solvik", "säkerhetssamordnare",
            role="coordinator", contact="sakerhet", who=who,
        )  # fmt: skip
    await join(server, trygg, REPORTER, "solvik", "Du är nu med i", who=REPORTER_WHO)
    ref = await fill_and_send(server)
    case = await server.wait_for(
        KARIN, lambda m: f"Ny rapport {ref}" in text_of(m), timeout=WAIT_THROUGH_BACKOFF
    )
    bertils_case = await server.wait_for(BERTIL, f"Ny rapport {ref}")

    await press(server, KARIN, case, f"case:reply.{ref}", "Skriv ditt meddelande", **KARIN_WHO)
    await say(server, KARIN, COORDINATOR_TEXT, "Skickat", **KARIN_WHO)
    relayed = await server.wait_for(REPORTER, "Från säkerhetssamordnaren")

    # Telegram now fails everything to Karin: what the reporter sends her waits in the queue.
    earlier = {id(call) for call in server.calls("sendMessage")}
    server.fail("sendMessage", 500, "Internal Server Error", times=100_000, chat_id=KARIN)
    await press(server, REPORTER, relayed, f"relay:answer.{ref}", "Skriv ditt svar", **REPORTER_WHO)
    shown = await say(server, REPORTER, ANSWER, "Så här får", **REPORTER_WHO)
    await press(server, REPORTER, shown, f"relay:send.{ref}", "Skickat", **REPORTER_WHO)
    tapper = {k: v for k, v in REPORTER_WHO.items() if k != "last_name"}
    share = f"relay:share.{ref}"
    asked = await press(server, REPORTER, relayed, share, "Vill du visa vem du är", **tapper)
    await press(server, REPORTER, asked, f"relay:shareyes.{ref}", "får nu se vem du är", **tapper)
    await server.wait_for_call(  # the answer was tried, and is queued
        "sendMessage",
        lambda c: id(c) not in earlier and c.params.get("chat_id") in (KARIN, str(KARIN)),
    )

    asked = await say(server, REPORTER, "/glom", "Vill du att jag raderar", **REPORTER_WHO)
    done = "Allt jag hade sparat om dig"
    await press(server, REPORTER, asked, "forget:yes", done, **REPORTER_WHO)

    # Karin's chat comes back; her colleague acknowledges the case, which she is told of.
    server.clear_faults()
    await press(server, BERTIL, bertils_case, f"case:ack.{ref}", "Du har kvitterat", **BERTIL_WHO)
    await server.wait_for(KARIN, f"Rapport {ref} kvitterades av", timeout=WAIT_THROUGH_BACKOFF)

    # The audit: while the bot runs (the -wal and -shm as they are), and after it stopped.
    assert audit(data_dir, PEOPLE) == []
    assert await bot.stop() == 0
    assert audit(data_dir, PEOPLE) == []
    seen = _to(server, KARIN)
    for secret in (ANSWER, "GLOMSVAR-5531", "vill visa vem", "tg://user", *PEOPLE[REPORTER]):
        assert secret not in seen, secret
    # Nothing is left in the queue either: not sent late, never to be sent.
    conn = sqlite3.connect(f"file:{data_dir / 'trygg.sqlite3'}?mode=ro", uri=True)
    try:
        waiting = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL"
        ).fetchone()
    finally:
        conn.close()
    assert waiting == (0,)
