"""When Telegram misbehaves: the real bot as a subprocess, against a fake Bot API that fails.

- **An outage** (`set_down`): everything fails, getUpdates too, for `TRYGG_OUTAGE_SECONDS`
  (default 10; `TRYGG_SLOW=1` adds the full minute). It starts at the very moment the bot hands
  a new report to the outbox, so reports, a relay and an acknowledgement are queued while the
  API is away; updates sent during the outage wait at Telegram. Afterwards every queued message
  arrives exactly once, and every question sent during the outage is answered.
- **A storm** of 500s, 502 pages, 429s with retry_after, and answers lost after Telegram
  delivered the message (a timeout: the one way a message can arrive twice, the window the
  outbox documents), on every method, getUpdates included, while members ask and report.
  Every report is stored and delivered; a duplicate happens only where an answer was lost.
- **A start during an outage**: the bot keeps trying (`bootstrap_retries`) and serves once
  Telegram is back, instead of exiting.
- **A flood**: one user sends 100 messages; another user is answered at once.

Figures (outage and recovery times, counts) are printed; run with `-s` to see them.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import sqlite3
import threading
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from bot.devchat.transport import ApiReply, NetworkFault
from tests.e2e.conftest import StartBot, Trygg, has_buttons
from tests.fakes.bot_api_server import FakeBotApiServer

JSONDict = dict[str, Any]

OUTAGE = float(os.environ.get("TRYGG_OUTAGE_SECONDS", "10"))
SLOW = os.environ.get("TRYGG_SLOW") == "1"
STORM = float(os.environ.get("TRYGG_STORM_SECONDS", "6"))
FAULTS = 30  # a storm is at least this many failed calls
# After Telegram is back: PTB's polling backs off up to 30 s between tries, and the outbox up to
# 40 s for a message that failed four times in a row; both are bounded.
RECOVERY_WAIT = 30.0 + min(OUTAGE, 60.0)

KARIN = 7_810_001  # Solvik's coordinator, contact `sakerhet`
REPORTERS = (7_810_011, 7_810_012, 7_810_013, 7_810_014)
GUEST = 7_810_099
GUESTS = tuple(range(7_820_000, 7_820_020))

CASE = "Ny rapport"
RELAY = "Från säkerhetssamordnaren"


# ------------------------------------------------------------------------------ helpers


def text_of(message: JSONDict) -> str:
    return str(message.get("text", message.get("caption", "")))


def this_month() -> str:
    return datetime.now(ZoneInfo("Europe/Stockholm")).strftime("%Y-%m")


def form_steps() -> list[str]:
    """The buttons of a whole report, contact me: yes."""
    return [
        "rep:skip.description", "rep:set.type.hot", "rep:set.channel.epost",
        f"rep:set.month.{this_month()}", "rep:set.repeated.ja", "rep:set.perpetrator.kand",
        "rep:set.police.planerar", "rep:set.impact.avstod", "rep:done.impact", "rep:skip.gender",
        "rep:set.contact_me.ja",
    ]  # fmt: skip


_MEMBER_CODES: dict[tuple[str, str], str] = {}


async def join(server: FakeBotApiServer, trygg: Trygg, user: int, org: str, **kw: Any) -> None:
    """`user` joins `org` with an invite; members of one bot share one (unlimited) invite."""
    role = kw.get("role", "member")
    key = (trygg.env["TRYGG_DATA_DIR"], org)  # one database, one invite
    if role == "member" and key in _MEMBER_CODES:
        code = _MEMBER_CODES[key]
    else:
        code = await trygg.invite(org, role, contact=kw.get("contact"))
        if role == "member":
            _MEMBER_CODES[key] = code
    server.push_message(user, f"/start {code}")
    await server.wait_for(user, "Välkommen")
    await server.wait_for(user, has_buttons)  # the menu after the welcome


async def fill_form(server: FakeBotApiServer, user: int) -> JSONDict:
    """`user` fills in a report up to its summary; returns the summary message."""
    server.push_message(user, "/rapportera")
    form = await server.wait_for(user, lambda m: "steg 1 av" in text_of(m) and has_buttons(m))
    for data in form_steps():
        server.push_callback(user, form["message_id"], data)
        form = await server.wait_for(user, has_buttons)
    assert "Sammanfattning" in text_of(form), text_of(form)
    return form


def sends(server: FakeBotApiServer, chat: int, needle: str) -> int:
    """Messages Telegram accepted for `chat` whose text holds `needle`."""
    return sum(
        1
        for call in server.calls("sendMessage")
        if call.ok and call.chat_id == chat and needle in str(call.params.get("text", ""))
    )


def db_rows(data_dir: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{data_dir / 'trygg.sqlite3'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def refs(data_dir: Path) -> list[str]:
    return [row[0] for row in db_rows(data_dir, "SELECT ref FROM reports ORDER BY id")]


def unsent(data_dir: Path) -> int:
    rows = db_rows(
        data_dir, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL"
    )
    return int(rows[0][0])


async def until(check: Any, timeout: float, what: str, interval: float = 0.1) -> Any:  # noqa: ASYNC109
    """Poll `check()` until it returns something truthy; a bounded wait."""
    deadline = time.monotonic() + timeout
    while True:
        found = await asyncio.to_thread(check)
        if found:
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout:.0f} s")
        await asyncio.sleep(interval)


class OutageOnFirstCase:
    """A responder: the first case sent to `chat` takes the whole API down, as it arrives."""

    def __init__(self, server: FakeBotApiServer, chat: int) -> None:
        self.server = server
        self.chat = chat
        self.fired = threading.Event()
        self.at = 0.0

    def __call__(self, method: str, params: JSONDict) -> NetworkFault | None:
        if method != "sendMessage" or self.fired.is_set():
            return None
        if str(params.get("chat_id")) != str(self.chat) or CASE not in str(params.get("text")):
            return None
        self.server.set_down(True)
        self.at = time.monotonic()
        self.fired.set()
        return NetworkFault("reset", "httpx.ConnectError: [Errno 111] Connection refused")


# ------------------------------------------------------------------------------ 1. outage


async def _outage(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path, seconds: float
) -> None:
    bot = await start_bot()
    first, second, third, asker = REPORTERS
    await join(server, trygg, KARIN, "solvik", role="coordinator", contact="sakerhet")
    for user in REPORTERS:
        await join(server, trygg, user, "solvik")

    # Before: one report goes through, and Karin starts a reply to it.
    summary = await fill_form(server, first)
    server.push_callback(first, summary["message_id"], "rep:send")
    case = await server.wait_for(KARIN, CASE)
    ref = refs(data_dir)[0]
    server.push_callback(KARIN, case["message_id"], f"case:reply.{ref}")
    await server.wait_for(KARIN, "Skriv ditt meddelande")
    forms = [await fill_form(server, user) for user in (second, third)]

    # The outage begins as the next case is handed to Telegram; by then these are all taken.
    trigger = OutageOnFirstCase(server, KARIN)
    server.api.responder = trigger
    server.push_callback(second, forms[0]["message_id"], "rep:send")
    server.push_callback(third, forms[1]["message_id"], "rep:send")
    server.push_message(KARIN, "Kan vi ses i morgon? RELÄ-4471")
    server.push_callback(KARIN, case["message_id"], f"case:ack.{ref}")
    await until(trigger.fired.is_set, 15, "the outage to begin")
    # While Telegram is away, people go on writing; Telegram keeps their messages.
    server.push_message(GUEST, "/kontakt")
    server.push_message(asker, "jag fick ett hotfullt mejl")
    await asyncio.sleep(max(0.0, trigger.at + seconds - time.monotonic()))  # the outage itself
    server.set_down(False)
    back = time.monotonic()

    # Everything that was queued arrives, and the questions are answered.
    await until(lambda: len(refs(data_dir)) == 3, RECOVERY_WAIT, "three reports stored")
    for r in refs(data_dir)[1:]:
        await until(lambda r=r: sends(server, KARIN, f"{CASE} {r}"), RECOVERY_WAIT, r)
    await until(lambda: sends(server, first, "RELÄ-4471"), RECOVERY_WAIT, "the relay")
    await until(lambda: sends(server, first, "har tagits emot"), RECOVERY_WAIT, "the ack")
    await server.wait_for(GUEST, has_buttons, timeout=RECOVERY_WAIT)
    await server.wait_for(asker, "Jag har fått ett hot", timeout=RECOVERY_WAIT)
    recovered = time.monotonic() - back
    await until(lambda: unsent(data_dir) == 0, RECOVERY_WAIT, "an empty outbox")

    # Exactly once each.
    stored = refs(data_dir)
    assert len(stored) == len(set(stored)) == 3
    assert {r: sends(server, KARIN, f"{CASE} {r}") for r in stored} == dict.fromkeys(stored, 1)
    assert sends(server, first, "RELÄ-4471") == 1
    assert sends(server, first, f"Din rapport {ref} har tagits emot") == 1
    failed = [c for c in server.calls() if not c.ok and c.method != "getUpdates"]
    print(
        f"\noutage {seconds:.0f} s: recovered {recovered:.1f} s after Telegram came back; "
        f"{len(failed)} calls failed during it; 3 reports, 1 relay, 1 acknowledgement, "
        f"each delivered once"
    )
    assert bot.running


@pytest.mark.e2e
async def test_an_outage_delays_reports_and_relays_but_loses_and_repeats_nothing(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    await _outage(start_bot, trygg, server, data_dir, OUTAGE)


@pytest.mark.e2e
@pytest.mark.skipif(not SLOW, reason="the full minute: TRYGG_SLOW=1")
async def test_a_full_minute_outage(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    await _outage(start_bot, trygg, server, data_dir, 60.0)


# ------------------------------------------------------------------------------ 2. storms


class Storm:
    """A responder failing calls at random (seeded) while `raging`: 500, 502, 429, or the
    answer lost after Telegram delivered the message."""

    def __init__(self, server: FakeBotApiServer, seed: int, rate: float) -> None:
        self.server = server
        self.random = random.Random(seed)
        self.rate = rate
        self.raging = True
        self.lock = threading.Lock()
        self.faults: Counter[str] = Counter()
        self.lost_after_delivery: Counter[int] = Counter()  # by chat
        self.case_lost = False

    def __call__(self, method: str, params: JSONDict) -> ApiReply | NetworkFault | None:
        with self.lock:
            if not self.raging:
                return None
            # The first case to the coordinator is surely "lost": the window is exercised.
            first_case = not self.case_lost and CASE in str(params.get("text", ""))
            self.case_lost = self.case_lost or first_case
            roll = 0.0 if first_case else self.random.random()
            rate = self.rate / 2 if method == "getUpdates" else self.rate
            if roll >= rate:
                return None
            kind = "lost" if first_case else self._kind()
            if kind == "lost" and method != "sendMessage":
                kind = "500"
            self.faults[kind] += 1
        return self._answer(kind, method, params)

    def _kind(self) -> str:
        return self.random.choices(["500", "502", "429", "lost"], [4, 2, 3, 1])[0]

    def _answer(self, kind: str, method: str, params: JSONDict) -> ApiReply | NetworkFault:
        if kind == "500":
            return ApiReply.error(500, "Internal Server Error")
        if kind == "502":
            return ApiReply.bad_gateway()
        if kind == "429":
            return ApiReply.error(429, "Too Many Requests: retry after 1", retry_after=1)
        # Delivered, then the connection breaks before the answer: the bot cannot know.
        self.server.api.handle(method, params, check_faults=False)
        with self.lock:
            self.lost_after_delivery[int(params.get("chat_id", 0))] += 1
        return NetworkFault("reset", "httpx.ReadError: connection reset")


@pytest.mark.e2e
async def test_storms_of_5xx_and_429_lose_nothing(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    bot = await start_bot()
    await join(server, trygg, KARIN, "solvik", role="coordinator", contact="sakerhet")
    for user in REPORTERS:
        await join(server, trygg, user, "solvik")
    forms = {user: await fill_form(server, user) for user in REPORTERS}

    storm = Storm(server, seed=4471, rate=0.5)
    server.api.responder = storm
    started = time.monotonic()

    async def calm() -> None:
        """The storm lasts STORM seconds and at least FAULTS faults: how many calls the bot
        makes in a given time depends on the machine and on PTB's backoff after errors."""
        await asyncio.sleep(STORM)
        try:
            await until(lambda: sum(storm.faults.values()) >= FAULTS, 30, "a storm")
        finally:  # too few faults fails the test below, after the storm
            storm.raging = False

    calming = asyncio.create_task(calm())

    async def chatter() -> None:  # guests ask, all through the storm (not a flood: 20 of them)
        for n in itertools.count():
            if not storm.raging:
                return
            server.push_message(GUESTS[n % len(GUESTS)], "jag fick ett hotfullt mejl")
            await asyncio.sleep(0.1)

    asking = asyncio.create_task(chatter())
    for user, form in forms.items():  # every reporter sends, in the storm
        server.push_callback(user, form["message_id"], "rep:send")
    acked: set[str] = set()

    def progress() -> bool:
        """Acknowledge each case as it arrives; done when all are, and the storm has raged."""
        for r in refs(data_dir):
            if r not in acked and sends(server, KARIN, f"{CASE} {r}"):
                case = next(
                    c.result for c in server.calls("sendMessage")
                    if c.ok and c.chat_id == KARIN and f"{CASE} {r}" in str(c.params["text"])
                )  # fmt: skip
                server.push_callback(KARIN, case["message_id"], f"case:ack.{r}")
                acked.add(r)
        told = all(sends(server, u, "har tagits emot") for u in REPORTERS)
        return len(acked) == len(REPORTERS) and told

    try:
        # In the storm and after it: the outbox's backoff is 5 s, doubling, so whatever failed
        # during it goes out within about 20 s of its end.
        await until(progress, STORM + 70, "every case delivered and acknowledged", 0.2)
    finally:
        await calming
        await asking
    lasted = time.monotonic() - started
    assert sum(storm.faults.values()) >= FAULTS, storm.faults  # it was a storm
    await until(lambda: unsent(data_dir) == 0, 60, "an empty outbox")
    server.push_message(GUEST, "/hjalp")  # after the storm, a question is answered at once
    await server.wait_for(GUEST, "Så här hjälper jag dig", timeout=20)

    stored = refs(data_dir)
    assert len(stored) == len(set(stored)) == len(REPORTERS)
    delivered = {r: sends(server, KARIN, f"{CASE} {r}") for r in stored}
    notices = {u: sends(server, u, "har tagits emot") for u in REPORTERS}
    assert all(n >= 1 for n in [*delivered.values(), *notices.values()]), (delivered, notices)
    # Only an answer lost after delivery can make a message arrive twice.
    lost = storm.lost_after_delivery
    duplicates = sum(delivered.values()) - len(stored) + sum(notices.values()) - len(notices)
    assert lost[KARIN] >= 1 and sum(delivered.values()) - len(stored) <= lost[KARIN], lost
    for user, count in notices.items():
        assert count - 1 <= lost[user], (notices, lost)
    answered = sum(sends(server, guest, "Jag har fått ett hot") for guest in GUESTS)
    asked = len([u for u in server.calls("getUpdates") if u.ok])
    failed = Counter(c.status for c in server.calls() if not c.ok)
    print(
        f"\nstorm of {STORM:.0f} s, all delivered {lasted:.1f} s after it began: "
        f"{sum(storm.faults.values())} faults injected "
        f"{dict(storm.faults)}, failed calls by status {dict(failed)}; {len(stored)} reports "
        f"stored once each, cases delivered {sorted(delivered.values())}, acknowledgements "
        f"told {sorted(notices.values())}: {duplicates} duplicates, "
        f"{sum(lost.values())} answers lost after delivery; guests' questions answered "
        f"{answered} times in {asked} polls"
    )
    assert bot.running
    assert "Traceback" not in bot.log()


# ------------------------------------------------------------------------------ 3. start


@pytest.mark.e2e
async def test_the_bot_starts_while_telegram_is_down_and_serves_when_it_is_back(
    start_bot: StartBot, server: FakeBotApiServer
) -> None:
    server.set_down(True)
    loop = asyncio.get_running_loop()
    loop.call_later(3.0, server.set_down, False)
    started = time.monotonic()
    bot = await start_bot()  # returns once it long-polls, after Telegram came back
    print(f"\nstarted {time.monotonic() - started:.1f} s after launch, 3 s of it down")
    server.push_message(GUEST, "/kontakt")
    await server.wait_for(GUEST, has_buttons)
    assert bot.running
    assert any(c.method == "getMe" and c.status == 0 for c in server.calls())


# ------------------------------------------------------------------------------ 4. flood


@pytest.mark.e2e
async def test_a_flood_gets_one_slow_down_and_others_are_answered_at_once(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    bot = await start_bot()
    flooder, other = REPORTERS[0], REPORTERS[1]
    await join(server, trygg, other, "solvik")
    for n in range(100):
        server.push_message(flooder, f"hjälp {n}")
        if n == 50:
            pushed = time.monotonic()
            server.push_message(other, "jag fick ett hotfullt mejl")
    answer = await server.wait_for(other, "Jag har fått ett hot")
    waited = time.monotonic() - pushed
    await server.wait_for(flooder, "Du skickar fler meddelanden än jag hinner med")
    await server.wait_confirmed()
    server.push_message(other, "/hjalp")
    await server.wait_for(other, "Så här hjälper jag dig")  # after the last of the flood
    to_flooder = server.messages_to(flooder)
    slow_downs = [m for m in to_flooder if "Du skickar fler" in text_of(m)]
    print(f"\nflood: the other user waited {waited:.2f} s; the flooder got {len(to_flooder)}")
    assert len(slow_downs) == 1
    # Answers to the burst only (a message and its menu each), then the one slow-down.
    assert len(to_flooder) <= 3 * 20 + 1, len(to_flooder)
    assert waited < 5.0, waited
    assert answer and bot.running
    assert "flood: a user is sending too fast" in bot.log()
    assert str(flooder) not in bot.log()
