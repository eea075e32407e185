"""The outbox sender against the recording Bot API: once each, through outages, at Telegram's pace.

Time is a settable clock: instead of sleeping through a backoff, a test moves the clock on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from telegram import Bot
from telegram.ext import Application

from bot.crypto import Sealer
from bot.devchat.transport import RecordingRequest
from bot.outbox import (
    BACKOFF_MAX,
    GIVE_UP_AFTER,
    JOB_NAME,
    Outbox,
    backoff,
    message,
    schedule,
)
from bot.reports.model import Report, State
from bot.storage import Database, OutboxItem, Role

TOKEN = "123456:TEST"
START = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))
COORDINATORS = (4711, 4712)
REPORTER_CHAT = 987654321012
CASE_TEXT = "<b>Nytt ärende R-AAAAAA</b>\nTyp: hot"


class Clock:
    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(KEY)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trygg.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(db_path, Sealer(KEY)) as database:
        yield database


@pytest.fixture
def rr() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def bot(rr: RecordingRequest) -> AsyncIterator[Bot]:
    telegram_bot = Bot(TOKEN, request=rr, get_updates_request=rr.updates_request())
    async with telegram_bot:  # initialize(): getMe, answered offline
        yield telegram_bot


@pytest.fixture
def outbox(db: Database, sealer: Sealer, clock: Clock) -> Outbox:
    return Outbox(db, sealer, clock)


def sends(rr: RecordingRequest) -> list[Any]:
    return rr.calls("sendMessage")


def report(ref: str = "R-AAAAAA", contact_me: bool = True) -> Report:
    return Report(
        id=0,
        ref=ref,
        org_id="solvik",
        type="hot",
        channel="epost",
        month="2026-02",
        repeated=False,
        perpetrator="okand",
        police="nej",
        impacts=(),
        gender=None,
        description="[namn] skrev ett hot.",
        contact_me=contact_me,
        state=State.NEW,
        created_at=START,
    )


async def submit(
    db: Database, sealer: Sealer, clock: Clock, ref: str = "R-AAAAAA", urgent: bool = True
) -> Report:
    """A report queued to both coordinators (with buttons), as the report handler does it."""
    items = [
        message(
            sealer,
            f"report:{ref}:{chat}",
            CASE_TEXT,
            [[{"text": "Kvittera", "callback_data": f"case:ack.{ref}"}]],
            chat_id=chat,
            urgent=urgent,
        )
        for chat in COORDINATORS
    ]
    link = (sealer.owner_tag(REPORTER_CHAT), sealer.seal_chat(REPORTER_CHAT))
    return await db.submit_report(report(ref), link, items, REPORTER_CHAT, clock())


def outbox_rows(db_path: Path) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db_path)
    try:
        return conn.execute(
            "SELECT id, member_key, payload, attempts, sent_at, dead_reason FROM outbox ORDER BY id"
        ).fetchall()
    finally:
        conn.close()


# --- the happy path ---------------------------------------------------------------------------


async def test_a_report_reaches_each_coordinator_once(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await submit(db, sealer, clock)
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.retried, stats.dead, stats.throttled) == (2, 0, 0, False)
    for chat in COORDINATORS:
        [call] = rr.sent_to(chat)
        assert call.params["text"] == CASE_TEXT
        assert call.params["parse_mode"] == "HTML"
        assert call.result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == (
            "case:ack.R-AAAAAA"
        )
    clock.advance(timedelta(days=2))
    assert (await outbox.send_due(bot)).sent == 0
    assert len(sends(rr)) == 2
    assert await db.outbox_pending() == 0


async def test_sent_payloads_are_emptied_and_were_never_plain(
    outbox: Outbox, bot: Bot, db: Database, db_path: Path, sealer: Sealer, clock: Clock
) -> None:
    await submit(db, sealer, clock)
    before = outbox_rows(db_path)
    assert all(b"Nytt" not in row[2] and row[2] for row in before)  # sealed, not empty yet
    await outbox.send_due(bot)
    assert [(row[2], row[4] is not None) for row in outbox_rows(db_path)] == [(b"", True)] * 2


async def test_enqueueing_twice_sends_once(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    item = message(sealer, "notice:1", "Hej", chat_id=COORDINATORS[0])
    assert await db.enqueue([item], clock()) == 1
    assert await db.enqueue([item], clock()) == 0
    await outbox.send_due(bot)
    again = message(sealer, "notice:1", "Hej igen", chat_id=COORDINATORS[0])
    assert await db.enqueue([again], clock()) == 0  # already sent: still the same message
    await outbox.send_due(bot)
    assert [c.params["text"] for c in rr.sent_to(COORDINATORS[0])] == ["Hej"]


# --- outages ----------------------------------------------------------------------------------


async def test_exactly_once_through_several_rounds_of_500(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await submit(db, sealer, clock)
    rr.fail_next("sendMessage", 500, times=6)
    rounds = 0
    while await db.outbox_pending() and rounds < 50:
        rounds += 1
        stats = await outbox.send_due(bot)
        assert stats.retried <= 1  # a round stops at the first failure: the API is away
        pending = await db.due_outbox(clock() + timedelta(days=1), 10)
        if pending:  # no sleeping: the clock goes to the next due attempt
            clock.advance(max(min(r.next_attempt_at for r in pending) - clock(), timedelta(0)))
    assert rounds > 6
    assert [c.status for c in sends(rr)].count(500) == 6
    for chat in COORDINATORS:
        assert len(rr.sent_to(chat)) == 1
    clock.advance(timedelta(hours=1))
    assert (await outbox.send_due(bot)).sent == 0
    assert [c.status for c in sends(rr)] == [500] * 6 + [200] * 2


async def test_backoff_waits_before_trying_again(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await db.enqueue([message(sealer, "one", "Hej", chat_id=COORDINATORS[0])], clock())
    rr.fail_next("sendMessage", network="timeout", times=3)
    expected = [timedelta(seconds=5), timedelta(seconds=10), timedelta(seconds=20)]
    for wait in expected:
        calls = len(sends(rr))
        await outbox.send_due(bot)
        assert len(sends(rr)) == calls + 1
        clock.advance(wait - timedelta(microseconds=1))
        await outbox.send_due(bot)  # not due yet: nothing is tried
        assert len(sends(rr)) == calls + 1
        clock.advance(timedelta(microseconds=1))
    assert (await outbox.send_due(bot)).sent == 1
    assert len(rr.sent_to(COORDINATORS[0])) == 1


def test_backoff_doubles_up_to_ten_minutes() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 10)] == [
        5,
        10,
        20,
        40,
        80,
        160,
        320,
        600,
        600,
    ]
    assert backoff(10_000) == BACKOFF_MAX


async def outage(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, clock: Clock, length: timedelta
) -> None:
    """Telegram's front end answers 502 for `length`, then recovers; the sender keeps trying."""
    rr.api.set_down(True, status=502)
    end = clock() + length
    while clock() < end:
        await outbox.send_due(bot)
        clock.advance(timedelta(hours=1))  # at least the longest backoff: one try per round
    rr.api.set_down(False)
    await outbox.send_due(bot)


async def test_an_urgent_message_is_never_given_up(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await db.enqueue([message(sealer, "u", "Brådskande", chat_id=1, urgent=True)], clock())
    await outage(outbox, bot, rr, clock, timedelta(days=3))
    assert len(rr.sent_to(1)) == 1
    assert [row[3] >= 72 for row in outbox_rows(db.path)] == [True]  # attempts were counted


async def test_an_ordinary_message_is_given_up_after_a_day(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await db.enqueue([message(sealer, "d", "Sammanfattning", chat_id=1)], clock())
    await outage(outbox, bot, rr, clock, GIVE_UP_AFTER + timedelta(hours=1))
    assert rr.sent_to(1) == []
    assert [(row[2], row[5]) for row in outbox_rows(db.path)] == [(b"", "gave_up")]


async def test_retry_after_is_honoured_for_every_row(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await submit(db, sealer, clock)
    rr.fail_next("sendMessage", retry_after=30)
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.throttled) == (0, True)
    assert outbox.paused_until == clock() + timedelta(seconds=30)
    tried = len(sends(rr))
    clock.advance(timedelta(seconds=29))
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.throttled) == (0, True)
    assert len(sends(rr)) == tried  # not one call while Telegram asked us to wait
    clock.advance(timedelta(seconds=1))
    assert (await outbox.send_due(bot)).sent == 2
    assert outbox.paused_until is None
    for chat in COORDINATORS:
        assert len(rr.sent_to(chat)) == 1


# --- refusals ---------------------------------------------------------------------------------


async def test_a_blocked_coordinator_is_marked_and_not_retried(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    blocked, other = COORDINATORS
    for chat in COORDINATORS:  # blocked is a state of a member
        await db.join(chat, "solvik", Role.COORDINATOR, "sak", clock())
    rr.block_user(blocked)
    await submit(db, sealer, clock)
    await db.enqueue([message(sealer, "second", "Påminnelse", chat_id=blocked)], clock())
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.dead) == (1, 2)
    assert len([c for c in sends(rr) if c.chat_id == blocked]) == 1  # asked Telegram once
    assert len(rr.sent_to(other)) == 1
    assert await db.is_blocked(blocked)
    assert not await db.is_blocked(other)
    blocked_key = sealer.member_key(blocked)
    assert [row[5] for row in outbox_rows(db.path) if row[1] == blocked_key] == ["blocked"] * 2
    clock.advance(timedelta(days=1))
    await outbox.send_due(bot)
    assert len([c for c in sends(rr) if c.chat_id == blocked]) == 1
    assert await db.outbox_pending() == 0


async def test_a_bad_request_is_given_up_at_once(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await db.enqueue([message(sealer, "bad", "trasig<br>markup", chat_id=4711)], clock())
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.dead) == (0, 1)
    clock.advance(timedelta(hours=1))
    await outbox.send_due(bot)
    assert len(sends(rr)) == 1
    assert [(row[2], row[5]) for row in outbox_rows(db.path)] == [(b"", "bad_request")]


async def test_an_unreadable_payload_is_given_up(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    await db.enqueue(
        [
            OutboxItem(dedupe="a", payload=b"plain text", chat_id=1),
            OutboxItem(dedupe="b", payload=Sealer(bytes(32)).seal_json({"text": "x"}), chat_id=1),
            OutboxItem(dedupe="c", payload=sealer.seal_json(["not", "a", "message"]), chat_id=1),
        ],
        clock(),
    )
    stats = await outbox.send_due(bot)
    assert stats.dead == 3
    assert sends(rr) == []
    assert [row[5] for row in outbox_rows(db.path)] == ["unreadable", "unreadable", "bad_payload"]


# --- the reporter -----------------------------------------------------------------------------


async def test_a_message_to_the_reporter_goes_to_the_sealed_chat(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    stored = await submit(db, sealer, clock)
    await outbox.send_due(bot)
    item = message(
        sealer, "relay:1", "Svar från samordnaren", to_reporter=True, report_id=stored.id
    )
    await db.enqueue([item], clock())
    [row] = await db.due_outbox(clock(), 10)
    assert row.chat_id is None  # the queue does not know whom it goes to
    assert (await outbox.send_due(bot)).sent == 1
    assert [c.params["text"] for c in rr.sent_to(REPORTER_CHAT)] == ["Svar från samordnaren"]
    assert str(REPORTER_CHAT) not in repr(outbox_rows(db.path))

    await db.remove_link(stored.id)
    await db.enqueue(
        [message(sealer, "relay:2", "Till ingen", to_reporter=True, report_id=stored.id)], clock()
    )
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.dead) == (0, 1)
    assert len(rr.sent_to(REPORTER_CHAT)) == 1
    assert outbox_rows(db.path)[-1][5] == "no_link"


async def test_a_reporter_who_blocked_the_bot_is_not_recorded_in_plain(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    stored = await submit(db, sealer, clock)
    rr.block_user(REPORTER_CHAT)
    await db.enqueue(
        [message(sealer, "relay:1", "Svar", to_reporter=True, report_id=stored.id)], clock()
    )
    stats = await outbox.send_due(bot)
    assert (stats.sent, stats.dead) == (2, 1)
    assert not await db.is_blocked(REPORTER_CHAT)
    assert outbox_rows(db.path)[-1][5] == "blocked"


async def test_a_closed_case_releases_the_reporters_chat_after_the_last_message(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    stored = await submit(db, sealer, clock)
    notice = message(sealer, "closed", "Ärendet är avslutat", to_reporter=True)
    assert await db.close_report(stored.ref, clock(), [notice])
    assert await db.link_of(stored.id) is not None
    await outbox.send_due(bot)
    assert len(rr.sent_to(REPORTER_CHAT)) == 1
    assert await db.link_of(stored.id) is None


# --- logs, kicks and the job ------------------------------------------------------------------


async def test_logs_name_rows_and_error_types_only(
    outbox: Outbox,
    bot: Bot,
    rr: RecordingRequest,
    db: Database,
    sealer: Sealer,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot")
    stored = await submit(db, sealer, clock)
    await db.enqueue(
        [message(sealer, "r", "Hemligt svar", to_reporter=True, report_id=stored.id)], clock()
    )
    rr.fail_next("sendMessage", 500, description="Internal: Nytt ärende text")
    rr.block_user(COORDINATORS[1])
    for _ in range(3):
        await outbox.send_due(bot)
        clock.advance(timedelta(minutes=1))
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("bot")]
    assert ours
    for line in ours:
        for secret in ("Nytt", "ärende", "Hemligt", "R-AAAAAA", str(REPORTER_CHAT)):
            assert secret not in line
        for chat in COORDINATORS:
            assert str(chat) not in line


async def test_a_kick_during_a_round_waits_for_it_then_sends(
    outbox: Outbox, bot: Bot, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    app = cast(Application[Any, Any, Any, Any, Any, Any], SimpleNamespace(bot=bot))
    await db.enqueue([message(sealer, "a", "A", chat_id=1)], clock())
    running = asyncio.create_task(outbox.send_due(bot))
    await asyncio.sleep(0)  # the job's round has the lock now
    await db.enqueue([message(sealer, "b", "B", chat_id=2)], clock())
    kicked = await outbox.kick(app)
    assert [len(rr.sent_to(chat)) for chat in (1, 2)] == [1, 1]  # both out when kick returns
    assert (await running).sent + kicked.sent == 2  # rounds never overlap: no message twice
    await db.enqueue([message(sealer, "c", "C", chat_id=3)], clock())
    assert (await outbox.kick(app)).sent == 1


async def test_a_kick_never_raises(
    outbox: Outbox, bot: Bot, db: Database, sealer: Sealer, clock: Clock
) -> None:
    app = cast(Application[Any, Any, Any, Any, Any, Any], SimpleNamespace(bot=bot))
    await db.enqueue([message(sealer, "a", "A", chat_id=1)], clock())
    await db.close()
    stats = await outbox.kick(app)
    assert dataclasses.astuple(stats) == (0, 0, 0, False)


async def test_schedule_registers_a_repeating_job_that_sends(
    outbox: Outbox, rr: RecordingRequest, db: Database, sealer: Sealer, clock: Clock
) -> None:
    app = Application.builder().token(TOKEN).request(rr).get_updates_request(rr).build()
    async with app:
        job = schedule(app, interval=5, outbox=outbox)
        assert job is not None and job.name == JOB_NAME
        assert app.job_queue is not None
        assert [j.name for j in app.job_queue.jobs()] == [JOB_NAME]
        await db.enqueue([message(sealer, "a", "A", chat_id=1)], clock())
        await job.run(app)
        assert len(rr.sent_to(1)) == 1
        job.schedule_removal()


async def test_marking_a_burst_sent_finds_blocked_members_by_index(tmp_path: Path) -> None:
    """A digest to 40,000 members marks them sent in bursts; looking up which were blocked by
    scanning every member for every row made it four times slower. The plan must use the index.
    """
    from bot.storage.outbox import _BLOCKED_AMONG, _MARK_SENT

    path = tmp_path / "plan.sqlite3"
    await (await Database.open(path)).close()
    conn = sqlite3.connect(path)
    try:
        plans = [
            " ".join(str(row[3]) for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params))
            for sql, params in (
                (_BLOCKED_AMONG, {"keys": "[]"}),
                (_MARK_SENT, {"ids": "[]", "now": "x"}),
            )
        ]
    finally:
        conn.close()
    assert all("SCAN u" not in plan and "SCAN users" not in plan for plan in plans), plans
