"""Reminders end to end: `trygg run` as a subprocess, killed with SIGKILL around a due time.

The bot's clock is set with the testing hook `TRYGG_FAKE_NOW` (it then runs at the real pace), so
a run can start just before or just after the quarterly digest of 1 January 2027, 09:00 in
Stockholm, instead of waiting for it. Members are written to the database before the first run
(40 of them: joining by chat would only slow the test down). What arrived is counted on the fake
Bot API server: each member gets each digest once, except a message that Telegram accepted in
the moment before a kill, which may come twice (the window README measures).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.outbox import MAX_IN_FLIGHT
from bot.storage import Database, Role
from tests.e2e.conftest import START_WAIT, RunningBot, Trygg, _spawn
from tests.fakes.bot_api_server import FakeBotApiServer

DIGEST = "Din rutin vid hot och hat"
MEMBERS = [7_410_000 + n for n in range(40)]
BEFORE = "2027-01-01T07:59:30+00:00"  # 08:59:30 in Stockholm: the Q1 digest is not due yet
DURING = "2027-01-01T08:00:30+00:00"  # just after 09:00
AFTER = "2027-01-01T08:02:00+00:00"
LATER = "2027-01-01T09:30:00+00:00"
Q2 = "2027-04-01T08:00:30+00:00"
SLOW_SEND = 0.03  # seconds the fake takes to accept a message, so a kill can land mid-broadcast

Start = Callable[..., Awaitable[RunningBot]]


async def seed(data_dir: Path, members: list[int]) -> None:
    """Members of Solvik, as if they had joined with an invite."""
    prepared = prepare_data_dir(data_dir)
    async with await Database.open(prepared.db_path, Sealer(prepared.secret_key)) as db:
        for user in members:
            await db.join(user, "solvik", Role.MEMBER, None, _joined())
    assert (data_dir.parent / "data.key").exists()  # beside the data, not in it


def _joined() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def digests(server: FakeBotApiServer) -> Counter[int]:
    """How many digests each chat has been sent (accepted by the server)."""
    found: Counter[int] = Counter()
    for call in server.calls("sendMessage"):
        if call.ok and DIGEST in str(call.params.get("text", "")):
            found[int(call.params["chat_id"])] += 1
    return found


async def until(check: Callable[[], bool], what: str, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout}s: {what}")
        await asyncio.sleep(0.02)


@pytest.fixture
async def start(trygg: Trygg, server: FakeBotApiServer, tmp_path: Path) -> AsyncIterator[Start]:
    """`await start(TRYGG_FAKE_NOW=...)`: `trygg run`, returned once the application started.

    Bots are started here rather than with `start_bot`, whose end-of-test check expects every
    bot to stop with SIGTERM: these are also killed with SIGKILL, on purpose.
    """
    started: list[RunningBot] = []

    async def run(**env: str | None) -> RunningBot:
        number = len(started) + 1
        out, err = tmp_path / f"remind{number}.stdout", tmp_path / f"remind{number}.stderr"
        process = _spawn(
            [sys.executable, "-m", "bot", "run"], trygg.environment(env), trygg.cwd, out, err
        )
        bot = RunningBot(process, out, err, server)
        started.append(bot)
        await bot.wait_log(r"Application started", timeout=START_WAIT)
        return bot

    yield run

    for bot in started:
        if bot.running:
            assert await bot.stop() == 0, bot.log()
        assert "Traceback" not in bot.log(), bot.log()


async def kill(bot: RunningBot) -> None:
    bot.send_signal(signal.SIGKILL)
    code = await asyncio.to_thread(bot.process.wait, START_WAIT)
    assert code == -signal.SIGKILL


async def barrier(server: FakeBotApiServer, user: int) -> None:
    """A question answered: the start pass and the first outbox round are behind us."""
    server.push_message(user, "/hjalp")
    await server.wait_for(user, "Så här hjälper jag dig", timeout=START_WAIT)


@pytest.mark.e2e
async def test_kill_before_during_and_after_the_due_time_each_member_gets_it_once(
    start: Start, server: FakeBotApiServer, data_dir: Path
) -> None:
    await seed(data_dir, MEMBERS)

    # Before 09:00: the fourth quarter's digest, never sent, goes out once at start.
    first = await start(TRYGG_FAKE_NOW=BEFORE)
    await until(lambda: len(digests(server)) == len(MEMBERS), "the Q4 digest to every member")
    await first.wait_log(r"outbox: sent \d+")
    await kill(first)
    assert set(digests(server).values()) == {1}

    # After 09:00: the first quarter's digest is queued at start; killed halfway through.
    server.api.responder = lambda method, params: _slowly(method)
    second = await start(TRYGG_FAKE_NOW=DURING)
    await second.wait_log(r"reminders: \d+ periods recorded, 40 messages queued")
    await until(lambda: sum(digests(server).values()) >= len(MEMBERS) + 15, "15 of Q1")
    await kill(second)
    midway = sum(digests(server).values()) - len(MEMBERS)
    assert 15 <= midway < len(MEMBERS)

    # Restarted: nothing is queued again; what was left goes out.
    server.api.responder = None
    third = await start(TRYGG_FAKE_NOW=AFTER)
    await until(lambda: min(digests(server)[m] for m in MEMBERS) >= 2, "Q1 to everyone")
    await barrier(server, MEMBERS[0])
    assert "reminders: 1 periods recorded" not in third.log()
    assert await third.stop() == 0

    # Later again, cleanly restarted: nothing more arrives.
    fourth = await start(TRYGG_FAKE_NOW=LATER)
    await barrier(server, MEMBERS[1])
    assert await fourth.stop() == 0

    got = digests(server)
    twice = [m for m in MEMBERS if got[m] > 2]
    assert all(got[m] >= 2 for m in MEMBERS)
    assert max(got.values()) <= 3
    # Only a message accepted by Telegram in the moment before the kill may come twice: the
    # ones under way then, and those accepted while the previous batch of "sent" marks was
    # being committed (answers that come during a commit share the next one): at most twice
    # the requests under way. Usually none.
    assert len(twice) <= 2 * MAX_IN_FLIGHT, twice
    for bot in (first, second, third, fourth):
        for member in MEMBERS:
            assert str(member) not in bot.log()


def _slowly(method: str) -> None:
    if method == "sendMessage":
        time.sleep(SLOW_SEND)


@pytest.mark.e2e
async def test_429_403_and_5xx_from_telegram_delay_but_never_repeat(
    start: Start, server: FakeBotApiServer, data_dir: Path
) -> None:
    members = MEMBERS[:10]
    blocked = members[0]
    await seed(data_dir, members)
    server.api.block_user(blocked)
    server.fail("sendMessage", 500, "Internal Server Error", times=1)
    server.fail("sendMessage", retry_after=1, times=1)

    bot = await start(TRYGG_FAKE_NOW=DURING)
    reached = members[1:]
    await until(lambda: all(digests(server)[m] == 1 for m in reached), "9 digests", timeout=30)
    await bot.wait_log(r"given up: blocked")
    failures = Counter(c.status for c in server.calls("sendMessage") if not c.ok)
    assert failures == Counter({500: 1, 429: 1, 403: 1})
    await barrier(server, members[1])
    assert await bot.stop() == 0

    # The next quarter: the member who blocked the bot is not even tried.
    tried_before = len([c for c in server.calls("sendMessage") if c.chat_id == blocked])
    again = await start(TRYGG_FAKE_NOW=Q2)
    await again.wait_log(r"reminders: \d+ periods recorded, 9 messages queued")
    await until(lambda: all(digests(server)[m] == 2 for m in reached), "the Q2 digest")
    await barrier(server, members[2])
    assert len([c for c in server.calls("sendMessage") if c.chat_id == blocked]) == tried_before
    assert set(digests(server).values()) == {2}
