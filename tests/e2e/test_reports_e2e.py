"""Anonymous incident reports end to end: the real bot as a subprocess over the fake Bot API.

An official of Solviks kommun fills in the whole form with button presses and a description
full of personal data, sends it while Telegram is failing, and gets a reference; Solvik's
coordinator gets the case exactly once, acknowledges it, and the two write to each other
through the bot without learning who the other is. The coordinator of Region Norrmark sees
nothing. Then the bot is stopped and everything it wrote to disk is audited.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import RunningBot, StartBot, Trygg, buttons, has_buttons
from tests.fakes.bot_api_server import FakeBotApiServer

JSONDict = dict[str, Any]

# Distinctive ids and names, so that finding one in a file cannot be a coincidence.
REPORTER = 7_361_947  # member of Solvik
KARIN = 7_362_958  # Solvik's coordinator, contact `sakerhet`
SARA = 7_363_969  # Region Norrmark's coordinator, contact `samordnare`
REPORTER_WHO: JSONDict = {
    "first_name": "Gunnel",
    "last_name": "Ekdahl-Wrede",
    "username": "gunnel_fullmaktig",
}
KARIN_WHO: JSONDict = {"first_name": "Karin", "username": "karin_sakerhet"}

PLANTED = (
    "19800101-1234",  # personnummer
    "070-174 06 50",  # phone
    "erik.svensson@example.se",  # e-mail
    "Erik Svensson",  # name
    "Storgatan 12",  # address
)
DESCRIPTION = (
    "Han heter Erik Svensson och bor på Storgatan 12. Han har lagt ut mitt personnummer "
    "19800101-1234, ringde från 070-174 06 50 och mejlade från erik.svensson@example.se."
)
COORDINATOR_TEXT = "Hej! Vill du att vi ses i morgon? KOORD-RELAY-7731"
REPORTER_TEXT = "Ja, gärna efter lunch. SVAR-RELAY-8842"

WAIT_THROUGH_OUTAGE = 60.0  # the outbox retries after 5 s of backoff and a 1 s retry_after


def text_of(message: JSONDict) -> str:
    return str(message.get("text", ""))


async def say(server: FakeBotApiServer, user: int, text: str, expect: Any, **who: Any) -> JSONDict:
    server.push_message(user, text, **who)
    return await server.wait_for(user, expect)


async def press(
    server: FakeBotApiServer, user: int, message: JSONDict, data: str, expect: Any, **who: Any
) -> JSONDict:
    assert data in [d for _, d in buttons(message)], (data, buttons(message))
    who.pop("last_name", None)  # a callback's `from` carries first name and username here
    server.push_callback(user, message["message_id"], data, **who)
    return await server.wait_for(user, expect)


async def join(
    server: FakeBotApiServer, trygg: Trygg, user: int, org: str, welcome: str, **kw: Any
) -> None:
    role, contact, who = kw.get("role", "member"), kw.get("contact"), kw.get("who", {})
    code = await trygg.invite(org, role, contact=contact)
    await say(server, user, f"/start {code}", welcome, **who)


def step(number: int) -> Any:
    return lambda m: f"steg {number} av 10" in text_of(m) and has_buttons(m)


async def fill_and_send(server: FakeBotApiServer) -> str:
    """The reporter fills every step by pressing buttons, writes the description, and sends;
    returns the reference the bot gave."""
    who = REPORTER_WHO
    await say(server, REPORTER, "/rapportera", step(1), **who)
    shown = await say(server, REPORTER, DESCRIPTION, "Så här sparas din text", **who)
    for planted in PLANTED:  # the reporter sees what will be stored, before it is sent
        assert planted not in text_of(shown), planted
    assert "[personnummer]" in text_of(shown) and "[namn]" in text_of(shown)
    form = await press(server, REPORTER, shown, "rep:keep", step(2), **who)
    form = await press(server, REPORTER, form, "rep:set.type.hot", step(3), **who)
    form = await press(server, REPORTER, form, "rep:set.channel.epost", step(4), **who)
    month = next(d for _, d in buttons(form) if d.startswith("rep:set.month."))
    form = await press(server, REPORTER, form, month, step(5), **who)
    form = await press(server, REPORTER, form, "rep:set.repeated.ja", step(6), **who)
    form = await press(server, REPORTER, form, "rep:set.perpetrator.kand", step(7), **who)
    form = await press(server, REPORTER, form, "rep:set.police.planerar", step(8), **who)
    chosen = lambda m: any(label.startswith("✓") for label, _ in buttons(m))  # noqa: E731
    form = await press(server, REPORTER, form, "rep:set.impact.avstod", chosen, **who)
    form = await press(server, REPORTER, form, "rep:done.impact", step(9), **who)
    form = await press(server, REPORTER, form, "rep:set.gender.kvinna", step(10), **who)
    summary = await press(server, REPORTER, form, "rep:set.contact_me.ja", "Sammanfattning", **who)

    # Telegram fails the coordinator's messages right when the report goes: a 500, then a 429.
    server.fail("sendMessage", 500, "Internal Server Error", times=1, chat_id=KARIN)
    server.fail("sendMessage", retry_after=1, times=1, chat_id=KARIN)
    await press(server, REPORTER, summary, "rep:send", "är skickad", **who)
    sent = await server.wait_for(REPORTER, "Referens:")
    ref = text_of(sent).split("Referens: ")[1].split()[0]
    assert ref.startswith("R-")
    return ref


def case_sends(server: FakeBotApiServer, ref: str) -> list[Any]:
    return [
        call
        for call in server.calls("sendMessage")
        if call.params.get("chat_id") in (KARIN, str(KARIN))
        and f"Ny rapport {ref}" in str(call.params.get("text", ""))
    ]


def data_files(data_dir: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(data_dir.rglob("*")) if p.is_file()}


@pytest.mark.e2e
async def test_a_report_is_delivered_once_followed_up_and_leaves_no_trace_of_the_reporter(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    """The anonymity audit, after the bot has stopped.

    What the promise is, precisely: the reporter is a *member* of Solvik, and a member's
    Telegram id is stored by design, in `users` and `memberships`, so that reminders can reach
    them (and `/glom` deletes it). What must never happen is that anything about a *report*
    leads back to them. So:

    - **SQL, table by table**: apart from `users` and `memberships`, no row of any table
      (`reports`, `report_links`, `outbox`, `pending_inputs`, `drafts`, ...) holds the
      reporter's id, as an integer or as text; the draft is gone; every queued message was
      sent and its payload emptied; the link back (the reporter asked to be contacted) is an
      HMAC tag and a sealed chat, not the id.
    - **Raw bytes** of every file of the data directory, the database with its `-wal` and
      `-shm` included: none holds the reporter's id as decimal text (the id is in the file only
      as SQLite's binary rowid of `users`/`memberships`, which is why the binary forms are not
      searched: they are there by design and would prove nothing), their first or last name or
      username, any piece of personal data planted in the description, or the texts the two
      sides wrote to each other (sealed while queued, emptied once sent).
    - **The bot's log**: none of these either.
    """
    bot = await start_bot()
    await join(
        server, trygg, KARIN, "solvik", "säkerhetssamordnare",
        role="coordinator", contact="sakerhet", who=KARIN_WHO,
    )  # fmt: skip
    await join(
        server, trygg, SARA, "region-norrmark", "säkerhetssamordnare",
        role="coordinator", contact="samordnare",
    )  # fmt: skip
    await join(server, trygg, REPORTER, "solvik", "Du är nu med i", who=REPORTER_WHO)

    ref = await fill_and_send(server)

    # Through the outage, the coordinator gets the case; what it says is anonymised.
    case = await server.wait_for(
        KARIN, lambda m: f"Ny rapport {ref}" in text_of(m), timeout=WAIT_THROUGH_OUTAGE
    )
    failed = [c for c in case_sends(server, ref) if not c.ok]
    assert sorted(c.status for c in failed) == [429, 500]
    for planted in PLANTED:
        assert planted not in text_of(case), planted
    assert "[namn]" in text_of(case) and "Solviks kommun" in text_of(case)
    assert [label for label, _ in buttons(case)] == ["Kvittera", "Svara", "Stäng"]

    # Acknowledged: the reporter is told.
    await press(server, KARIN, case, f"case:ack.{ref}", f"Du har kvitterat {ref}", **KARIN_WHO)
    await server.wait_for(REPORTER, f"Din rapport {ref} har tagits emot")

    # The relay, coordinator to reporter...
    await press(server, KARIN, case, f"case:reply.{ref}", "Skriv ditt meddelande", **KARIN_WHO)
    await say(server, KARIN, COORDINATOR_TEXT, "Skickat", **KARIN_WHO)
    relayed = await server.wait_for(REPORTER, "Från säkerhetssamordnaren")
    assert COORDINATOR_TEXT in text_of(relayed)
    for secret in ("Karin", "karin_sakerhet", str(KARIN)):
        assert secret not in text_of(relayed)

    # ... and back.
    await press(server, REPORTER, relayed, f"relay:answer.{ref}", "Skriv ditt svar", **REPORTER_WHO)
    shown = await say(server, REPORTER, REPORTER_TEXT, "Så här får", **REPORTER_WHO)
    await press(server, REPORTER, shown, f"relay:send.{ref}", "Skickat", **REPORTER_WHO)
    answer = await server.wait_for(KARIN, "Svar från den som rapporterade")
    assert REPORTER_TEXT in text_of(answer)

    # Everything the coordinator got: the case once, and nothing that names the reporter.
    assert len([c for c in case_sends(server, ref) if c.ok]) == 1
    to_karin = " ".join(str(c.params.get("text", "")) for c in server.calls("sendMessage")
                        if c.params.get("chat_id") in (KARIN, str(KARIN)))  # fmt: skip
    for secret in (*REPORTER_WHO.values(), str(REPORTER), *PLANTED):
        assert secret not in to_karin, secret

    # The other organisation's coordinator saw nothing, and can do nothing with the reference.
    for verb in ("ack", "show", "reply"):
        server.push_callback(SARA, 9999, f"case:{verb}.{ref}")
        await server.wait_for(SARA, "Den rapporten finns inte")
    seen_by_sara = " ".join(text_of(m) for m in server.messages_to(SARA, include_edits=True))
    assert "Ny rapport" not in seen_by_sara and "Svar från" not in seen_by_sara
    assert ref not in seen_by_sara

    assert await bot.stop() == 0
    _audit_files(data_dir)
    _audit_tables(data_dir / "trygg.sqlite3", ref)
    _audit_log(bot)


def _secrets() -> list[str]:
    return [
        str(REPORTER),
        *REPORTER_WHO.values(),
        *PLANTED,
        DESCRIPTION,
        COORDINATOR_TEXT,
        REPORTER_TEXT,
        "KOORD-RELAY-7731",
        "SVAR-RELAY-8842",
    ]


def _audit_files(data_dir: Path) -> None:
    files = data_files(data_dir)
    assert "trygg.sqlite3" in files and "secret.key" not in files  # the key is kept apart
    # The control: the redacted description is there, so the search reads the real content.
    assert b"[personnummer]" in b"".join(files.values())
    for name, content in files.items():
        for secret in _secrets():
            assert secret.encode("utf-8") not in content, f"{secret!r} is in {name}"


def _audit_tables(database: Path, ref: str) -> None:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        assert {"reports", "report_links", "outbox", "pending_inputs", "drafts"} <= set(tables)
        # By design: the member, for reminders.
        assert ("solvik", "member") in conn.execute(
            "SELECT org_id, role FROM memberships"
        ).fetchall()  # under a keyed hash of the id (tests/e2e/test_privacy_e2e.py)
        for table in tables:
            if table in ("users", "memberships"):
                continue
            for row in conn.execute(f'SELECT * FROM "{table}"'):  # names from the schema
                for value in row:
                    _assert_not_reporter(table, value)
        assert conn.execute("SELECT COUNT(*) FROM drafts").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM pending_inputs").fetchone() == (0,)
        unsent = conn.execute(
            "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL OR length(payload) > 0"
        ).fetchone()
        assert unsent == (0,), "every message was sent and its payload emptied"
        (report_id, description) = conn.execute(
            "SELECT id, description FROM reports WHERE ref = ?", (ref,)
        ).fetchone()
        assert "[namn]" in description and "[telefon]" in description
        links = conn.execute(
            "SELECT owner_tag, chat_sealed FROM report_links WHERE report_id = ?", (report_id,)
        ).fetchall()
        assert len(links) == 1  # the reporter asked to be contacted: a tag and a sealed chat
        tag, sealed = links[0]
        assert len(tag) == 64 and all(c in "0123456789abcdef" for c in tag)
        assert str(REPORTER).encode() not in sealed
    finally:
        conn.close()


def _assert_not_reporter(table: str, value: object) -> None:
    where = f"a row of {table}"
    if isinstance(value, int):
        assert value != REPORTER, where
    elif isinstance(value, str):
        for secret in _secrets():
            assert secret not in value, (where, secret)
    elif isinstance(value, bytes):
        for secret in _secrets():
            assert secret.encode("utf-8") not in value, (where, secret)


def _audit_log(bot: RunningBot) -> None:
    log = bot.log()
    assert "outbox: sent" in log  # the log is there (reports are counted, not logged one by one)
    for secret in _secrets():
        assert secret not in log, secret
