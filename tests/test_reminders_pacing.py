"""Pacing under Telegram's limits: overall, per chat, per group; and the outbox keeping them.

The pacer's own rules are checked on a fake monotonic clock. The outbox is then run against a
recording Bot API that enforces scaled-up limits itself and answers 429 when one is broken, as
the `broadcast` benchmark does at full size.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot

from bot.crypto import Sealer
from bot.devchat.transport import ApiReply, RecordingRequest, Response
from bot.outbox import Outbox, message
from bot.outbox.pacing import Pacer
from bot.storage import Database

NOW = datetime(2027, 1, 1, 8, 0, tzinfo=UTC)


class Monotonic:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


async def test_at_most_rate_messages_in_a_window_counted_from_their_answers() -> None:
    clock = Monotonic()
    pacer = Pacer(rate=30, guard=0.05, monotonic=clock)
    for chat in range(30):
        assert pacer.overall_free_at() <= clock()
        await pacer.start(chat + 1)
        clock.value += 0.001
        pacer.done(chat + 1, delivered=True)
    assert pacer.overall_free_at() == pytest.approx(1000.001 + 1.05)
    clock.value = 1001.051
    await pacer.start(99)  # the oldest answer left the window
    assert pacer.overall_free_at() == pytest.approx(1000.002 + 1.05)


async def test_after_a_stall_the_pace_does_not_burst() -> None:
    """Thirty sends stalled on their way may all reach Telegram at the moment the stall ends:
    the next one waits a window after their answers, not a window after they left."""
    clock = Monotonic()
    pacer = Pacer(rate=30, guard=0.05, monotonic=clock)
    for chat in range(29):
        await pacer.start(chat + 1)
    assert pacer.overall_free_at() == -math.inf  # 29 under way: one more may go
    await pacer.start(30)
    assert pacer.overall_free_at() == math.inf  # 30 under way: wait for an answer
    clock.value += 5.0  # the stall
    for chat in range(30):
        pacer.done(chat + 1, delivered=True)
    assert pacer.overall_free_at() == pytest.approx(1005.0 + 1.05)


async def test_a_chat_waits_a_second_after_its_answer_and_never_has_two_on_the_way() -> None:
    clock = Monotonic()
    pacer = Pacer(monotonic=clock)
    await pacer.start(42)
    assert pacer.chat_free_at(42) == math.inf  # on its way: nothing overtakes it
    assert pacer.chat_free_at(42, urgent=True) == math.inf
    clock.value += 0.3
    pacer.done(42, delivered=True)
    assert pacer.chat_free_at(42) == pytest.approx(1001.3)
    assert pacer.chat_ready(42, urgent=True)  # conversation: only kept in order
    assert pacer.chat_ready(43)
    await pacer.start(43)
    pacer.done(43, delivered=False)  # a failed attempt waits for its backoff instead
    assert pacer.chat_ready(43)


async def test_a_group_gets_at_most_twenty_a_minute() -> None:
    clock = Monotonic()
    pacer = Pacer(chat_interval=0, monotonic=clock)
    group = -100123
    for _ in range(20):
        assert pacer.chat_ready(group)
        await pacer.start(group)
        pacer.done(group, delivered=True)
        clock.value += 1.0
    assert not pacer.chat_ready(group)
    assert pacer.chat_free_at(group) == pytest.approx(1000.0 + 60.05)
    assert pacer.chat_ready(7)  # a private chat is not held back by a group


async def test_a_request_that_never_reached_telegram_is_taken_back() -> None:
    clock = Monotonic()
    pacer = Pacer(rate=2, monotonic=clock)
    await pacer.start(1)
    pacer.done(1, delivered=False, counted=False)
    await pacer.start(2)
    assert pacer.overall_free_at() == -math.inf  # one of two slots used
    await pacer.start(3)
    assert pacer.overall_free_at() == math.inf  # two under way: wait for an answer
    clock.value += 0.2
    pacer.done(2, delivered=True)
    assert pacer.overall_free_at() == pytest.approx(1000.2 + 1.05)  # and one under way
    clock.value += 0.1
    pacer.done(3, delivered=False, counted=False)  # never reached Telegram: taken back
    assert pacer.overall_free_at() == -math.inf


async def test_memory_stays_flat_over_many_chats() -> None:
    clock = Monotonic()
    pacer = Pacer(rate=1_000_000, chat_interval=1.0, monotonic=clock)
    for chat in range(20_000):
        await pacer.start(chat + 1)
        pacer.done(chat + 1, delivered=True)
        clock.value += 0.001
    assert len(pacer._chat_free_at) < 5000
    assert pacer._started == set() and pacer._busy == set()


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError):
        Pacer(rate=0)


# --- the outbox against a Bot API that enforces the limits -------------------------------------


class Enforcer:
    """Answers 429 when a send breaks a limit: a sliding window of `rate` per second overall,
    and `interval` seconds between two arrivals in one chat."""

    def __init__(self, rate: int, interval: float) -> None:
        self.rate, self.interval = rate, interval
        self.arrivals: deque[float] = deque()
        self.last: dict[int, float] = {}
        self.order: dict[int, list[str]] = defaultdict(list)
        self.refused = 0
        self.delay = 0.0
        self.lock = threading.Lock()

    def __call__(self, method: str, params: dict[str, Any]) -> Response | None:
        if method != "sendMessage":
            return None
        if self.delay:
            time.sleep(self.delay)
        now = time.monotonic()
        chat = int(params["chat_id"])
        with self.lock:
            while self.arrivals and self.arrivals[0] <= now - 1.0:
                self.arrivals.popleft()
            too_fast = len(self.arrivals) >= self.rate
            too_soon = chat in self.last and now - self.last[chat] < self.interval
            if too_fast or too_soon:
                self.refused += 1
                return ApiReply.too_many_requests(1)
            self.arrivals.append(now)
            self.last[chat] = now
            self.order[chat].append(str(params["text"]))
        return None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "pacing.sqlite3") as database:
        yield database


async def test_a_broadcast_keeps_the_limits_and_the_order_in_each_chat(db: Database) -> None:
    sealer = Sealer(bytes(32))
    enforcer = Enforcer(rate=300, interval=0.05)
    rr = RecordingRequest(responder=enforcer)
    outbox = Outbox(db, sealer, lambda: NOW, rate=300, chat_interval=0.05, guard=0.01)
    items = [message(sealer, f"d:{chat}", f"till {chat}", chat_id=chat) for chat in range(1, 301)]
    items += [message(sealer, f"e:{n}", f"nr {n}", chat_id=7) for n in range(1, 6)]
    await db.enqueue(items, NOW)
    async with Bot("123:TEST", request=rr, get_updates_request=rr) as bot:
        started = time.monotonic()
        stats = await outbox.send_due(bot)
        elapsed = time.monotonic() - started
    assert (stats.sent, stats.retried, enforcer.refused) == (305, 0, 0)
    assert enforcer.order[7] == ["till 7", "nr 1", "nr 2", "nr 3", "nr 4", "nr 5"]
    assert elapsed >= 1.0  # 305 at 300 a second cannot take less
    assert elapsed < 3.0  # and one chat's five messages did not hold the others up
    assert await db.outbox_pending() == 0


async def test_sent_messages_that_cannot_be_recorded_are_never_sent_again(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    sealer = Sealer(bytes(32))
    rr = RecordingRequest()
    outbox = Outbox(db, sealer, lambda: NOW)
    await db.enqueue([message(sealer, f"d:{c}", "Hej", chat_id=c) for c in (1, 2, 3)], NOW)
    record = db.outbox_sent_many

    async def disk_full(ids: Any, now: datetime) -> int:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(db, "outbox_sent_many", disk_full)
    async with Bot("123:TEST", request=rr, get_updates_request=rr) as bot:
        await outbox.send_due(bot)
        sent = len(rr.calls("sendMessage"))
        assert 1 <= sent <= 3  # the round stops once a commit fails
        await outbox.send_due(bot)  # still failing: nothing is sent again
        assert len(rr.calls("sendMessage")) == sent
        monkeypatch.setattr(db, "outbox_sent_many", record)
        await outbox.send_due(bot)  # recorded first, then the rest
    assert sorted(int(c.params["chat_id"]) for c in rr.calls("sendMessage")) == [1, 2, 3]
    assert await db.outbox_pending() == 0
