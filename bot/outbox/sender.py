"""The outbox sender: every queued message reaches its chat once, even through Bot API outages.

Handlers never send reports, relays or notices to other people directly. They queue them in the
database (`Database.enqueue`, or `submit_report` in the same transaction as the report), and this
module sends what is due: right away when a handler calls `Outbox.kick_soon` (or `kick`, which
waits for the round), and every few seconds from the job queue (`schedule`), so messages queued
before a crash or a restart go out too.

**The handler does not wait for the round.** A round keeps Telegram's pace, so it can take a
second or more (one message a second to a chat that was just written to). A handler that waited
for it held up the person who acted: their next tap waits for their previous update
(`handlers/ordering.py`). The round runs beside it instead; what it sends was committed with the
action, so a crash loses nothing. Shutdown waits for kicked rounds (`settled`) before the
database closes.

**Exactly once.** A row is marked sent only after Telegram has answered that it accepted the
message, and rounds never overlap (one lock per process). So a message is never lost, and it is
sent twice only if Telegram accepted it but we could not record that:

- the process dies (kill -9, power cut) between Telegram's answer and the commit of `sent_at`;
- the request times out (`TimedOut`) or the connection breaks *after* Telegram received it: the
  Bot API gives no way to ask whether an earlier request went through, so it is sent again.

Both windows are short (README, "Reminders", gives the measured figure); a missing message
would be worse than a rare duplicate. Answers that arrive while a commit runs are recorded
together in the next one, so a burst costs one commit, not one per message.

**Pace.** A round goes on while rows are due (urgent ones first, read `BATCH` at a time, so an
urgent message queued during a long broadcast goes out within seconds), within Telegram's limits
kept by `bot.outbox.pacing.Pacer`: 30 messages a second overall, one a second per chat (urgent
messages are only kept in order), 20 a minute per group (constructor parameters). Up to
`MAX_IN_FLIGHT` requests are under way at once, never two to the same chat; a round starts with
one and doubles with every answer, so an API that is away costs one failed request per round,
not a burst. The job skips its turn while a round is under way; progress is logged every
`PROGRESS_EVERY` messages, as counts.

**Failures**, by what Telegram answered:

- `RetryAfter` (429): the row waits until now + retry_after, and the whole sender pauses until
  then: Telegram asked us to slow down, not to retry another message at once.
- `TimedOut`, `NetworkError`, 5xx and other transient errors: exponential backoff from 5 s,
  doubling, at most 10 minutes, attempts counted. The round starts nothing more (the API is
  likely away; trying every other row now would only hold up the handler that kicked). An
  urgent row is never given up; any other is dead ('gave_up') when one of its attempts fails
  more than 24 hours after it was queued (one never tried during an outage is sent late instead).
- `Forbidden` (403, the bot was blocked): dead ('blocked'); a member's or coordinator's chat is
  recorded in `blocked_chats` (a reporter's never is: their chat id is stored nowhere in plain),
  and reminders to all members skip it from then on; a message it accepts again clears it.
- `BadRequest` (400) and `ChatMigrated`: dead ('bad_request', 'chat_migrated'); trying again
  would give the same answer.
- A reporter's message whose report has no link any more: dead ('no_link'). A payload or link
  that cannot be unsealed: dead ('unreadable'); one that is not the expected JSON: 'bad_payload'.

Logs name row ids, counts and error types, never text, chat ids or Telegram's error description
(which can quote the text).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackContext, Job

from bot.crypto import Sealer, SealError
from bot.outbox.pacing import CHAT_INTERVAL, GROUP_PER_MINUTE, GUARD, RATE, Pacer
from bot.sending import send_html
from bot.storage import Database, OutboxItem, OutboxRow

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_START",
    "BATCH",
    "GIVE_UP_AFTER",
    "JOB_NAME",
    "KICK_WAIT",
    "MAX_IN_FLIGHT",
    "PROGRESS_EVERY",
    "Outbox",
    "SendStats",
    "backoff",
    "message",
    "schedule",
]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

JOB_NAME = "outbox"
DEFAULT_INTERVAL = 5.0
"""Seconds between rounds of the job: the longest a queued message waits when nothing failed."""

BACKOFF_START = timedelta(seconds=5)
BACKOFF_MAX = timedelta(minutes=10)
KICK_WAIT = timedelta(seconds=10)
BATCH = 200
"""Rows read from the database at a time while a round goes on."""
MAX_IN_FLIGHT = 16
"""Requests under way at once, at most (a round starts with one and doubles per answer)."""
PROGRESS_EVERY = 1000
"""A round logs its progress (counts only) every this many messages sent."""
"""The longest a handler waits in `Outbox.kick` before the round goes on without it."""
GIVE_UP_AFTER = timedelta(hours=24)
"""A message that is not urgent is given up once it has been queued this long."""

_Outcome = Literal["sent", "dead", "blocked", "pause", "stop"]


@dataclass
class SendStats:
    """What one call of `send_due` did."""

    sent: int = 0
    retried: int = 0
    dead: int = 0
    throttled: bool = False  # Telegram asked to wait (now or earlier): nothing more was sent


def backoff(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failure in a row: 5 s, 10 s, 20 s, … at most 10 min."""
    exponent = min(max(attempts, 1) - 1, 20)
    return min(BACKOFF_START * (1 << exponent), BACKOFF_MAX)


def message(
    sealer: Sealer,
    dedupe: str,
    text: str,
    buttons: list[list[dict[str, str]]] | None = None,
    *,
    chat_id: int | None = None,
    to_reporter: bool = False,
    report_id: int | None = None,
    urgent: bool = False,
) -> OutboxItem:
    """An `OutboxItem` with `text` (HTML) and inline `buttons` sealed as its payload."""
    payload = {"text": text, "buttons": buttons or None, "photo": None}
    return OutboxItem(
        dedupe=dedupe,
        payload=sealer.seal_json(payload),
        chat_id=chat_id,
        to_reporter=to_reporter,
        report_id=report_id,
        urgent=urgent,
    )


class _Undeliverable(Exception):
    """The row can never be sent; `reason` is its dead code."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _markup(buttons: Any) -> InlineKeyboardMarkup | None:
    if buttons is None or buttons == []:
        return None
    if not isinstance(buttons, list):
        raise _Undeliverable("bad_payload")
    rows: list[list[InlineKeyboardButton]] = []
    for row in buttons:
        if not isinstance(row, list):
            raise _Undeliverable("bad_payload")
        keys: list[InlineKeyboardButton] = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise _Undeliverable("bad_payload")
            if isinstance(button.get("callback_data"), str):
                keys.append(
                    InlineKeyboardButton(button["text"], callback_data=button["callback_data"])
                )
            elif isinstance(button.get("url"), str):
                keys.append(InlineKeyboardButton(button["text"], url=button["url"]))
            else:
                raise _Undeliverable("bad_payload")
        if keys:
            rows.append(keys)
    return InlineKeyboardMarkup(rows) if rows else None


def _retry_after(error: RetryAfter) -> timedelta:
    # With PTB_TIMEDELTA=1 (set by `trygg`, bot/cli.py) this is a timedelta; an int otherwise.
    value: int | float | timedelta = error.retry_after
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))


@dataclass
class _Ready:
    """A due row with its message unsealed and its chat known, ready to go out."""

    row: OutboxRow
    chat_id: int
    text: str
    markup: InlineKeyboardMarkup | None


@dataclass
class _Run:
    """The state of one round: what is under way, and whether it must stop."""

    bot: Bot
    stats: SendStats
    limit: int | None
    window: int = 1  # sends allowed under way at once: 1 at first, doubled by every answer
    tried: int = 0
    halt: _Outcome | None = None  # "pause" (429) or "stop" (transient error): start no more
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    blocked: set[int] = field(default_factory=set)  # chats that answered 403 in this round

    @property
    def done(self) -> bool:
        return self.halt is not None or (self.limit is not None and self.tried >= self.limit)


class Outbox:
    """Sends due outbox rows through a `telegram.Bot`. One per process; see the module doc.

    The limits (`rate` messages a second overall, `chat_interval` seconds between messages to
    one chat, `group_per_minute` to one group) are Telegram's; a benchmark scales them. At most
    `max_in_flight` requests are under way at once, and a round logs its progress every
    `progress_every` messages.
    """

    def __init__(
        self,
        db: Database,
        sealer: Sealer,
        clock: Clock,
        *,
        rate: float = RATE,
        chat_interval: float = CHAT_INTERVAL,
        group_per_minute: float = GROUP_PER_MINUTE,
        guard: float = GUARD,
        max_in_flight: int = MAX_IN_FLIGHT,
        progress_every: int = PROGRESS_EVERY,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_in_flight < 1 or progress_every < 1:
            raise ValueError("max_in_flight and progress_every must be at least 1")
        self._db = db
        self._sealer = sealer
        self._clock = clock
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Future[SendStats]] = set()
        self._queued: asyncio.Future[SendStats] | None = None  # a kicked round not started yet
        self._paused_until: datetime | None = None
        self.pacer = Pacer(rate, chat_interval, group_per_minute, guard=guard, monotonic=monotonic)
        self._max_in_flight = max_in_flight
        self._progress_every = progress_every
        self._taken: set[int] = set()  # rows under way or waiting for their commit
        self._to_commit: list[int] = []
        self._committing: asyncio.Future[None] | None = None
        self._commit_failed = False

    def __repr__(self) -> str:
        return f"Outbox(paused_until={self._paused_until!r}, {self.pacer!r})"

    @property
    def paused_until(self) -> datetime | None:
        """Until when Telegram asked us not to send (429), if that is still ahead."""
        if self._paused_until is not None and self._clock() >= self._paused_until:
            return None
        return self._paused_until

    async def kick(self, app: Application[Any, Any, Any, Any, Any, Any]) -> SendStats:
        """Send what is due now, e.g. right after a report was submitted; return what it did.

        Waits for a round already under way (rounds never overlap), then runs one, so when it
        returns the messages queued before the call have been tried. It waits at most
        `KICK_WAIT`: a round still running then (a slow Bot API, a long broadcast) goes on in
        the background, and the handler that kicked goes on. Never raises: what was queued is
        safe in the database and the job sends it later. Cancelling the caller does not cancel
        the round, so a message Telegram accepted is always marked sent.
        """
        task = asyncio.ensure_future(self.send_due(app.bot))
        self._background.add(task)
        task.add_done_callback(self._round_done)
        try:
            return await asyncio.wait_for(asyncio.shield(task), KICK_WAIT.total_seconds())
        except TimeoutError:
            log.info("outbox: the kicked round goes on in the background")
        except Exception:  # logged by _round_done, by type only
            pass
        return SendStats()

    def kick_soon(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Send what is due now, beside the caller: a round starts after the one under way, if
        any. Kicks that come while that round waits are one round: it reads what is due when
        it starts."""
        if self._queued is not None and not self._queued.done():
            return
        task = asyncio.ensure_future(self._locked_round(app.bot, None, kicked=True))
        self._queued = task
        self._background.add(task)
        task.add_done_callback(self._round_done)

    async def settled(self) -> None:
        """Wait until the kicked rounds (and those they were queued behind) are done. Tests read
        what users got after it; shutdown calls it, within a time limit, before the database
        closes. Cancelling the wait leaves the rounds running."""
        while self._background:
            await asyncio.wait(list(self._background))

    def _round_done(self, task: asyncio.Future[SendStats]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.warning("outbox: a round failed (%s); the job will retry", type(error).__name__)

    async def send_due(self, bot: Bot, limit: int | None = None) -> SendStats:
        """Send due rows until none is left (or `limit` were tried), at Telegram's pace; see
        the module doc for failures. Waits for a round under way first."""
        return await self._locked_round(bot, limit)

    async def _locked_round(self, bot: Bot, limit: int | None, kicked: bool = False) -> SendStats:
        stats = SendStats()
        async with self._lock:
            if kicked:
                self._queued = None  # rows queued from now on need the next round
            await self._round(bot, limit, stats)
        if stats.sent or stats.retried or stats.dead:
            log.info(
                "outbox: sent %d, to retry %d, given up %d", stats.sent, stats.retried, stats.dead
            )
        return stats

    async def send_due_if_idle(self, bot: Bot) -> SendStats:
        """A round, unless one is under way: that one goes on while rows are due (the job)."""
        if self._lock.locked():
            return SendStats()
        return await self.send_due(bot)

    # --- a round ------------------------------------------------------------------------------

    async def _round(self, bot: Bot, limit: int | None, stats: SendStats) -> None:
        now = self._clock()
        if self._paused_until is not None:
            if now < self._paused_until:
                stats.throttled = True
                return
            self._paused_until = None
        if self._to_commit:  # sent in an earlier round, not recorded yet: that comes first
            self._committing = asyncio.ensure_future(self._commit_loop())
            await self._committed()
            if self._commit_failed:
                return
        run = _Run(bot, stats, limit)
        try:
            while not run.done and not self._commit_failed:
                batch = await self._next_batch(run)
                if not batch:
                    if not run.tasks:
                        break
                    await asyncio.wait(run.tasks)  # then look again: more may have come
                    await self._committed()
                    continue
                await self._dispatch(run, batch)
        finally:
            if run.tasks:  # a send under way always ends, and is recorded
                await asyncio.wait(run.tasks)
            await self._committed()

    async def _next_batch(self, run: _Run) -> list[_Ready]:
        """Due rows not under way, unsealed; the ones that can never go are given up here."""
        rows = await self._db.due_outbox(self._clock(), BATCH + len(self._taken))
        ready: list[_Ready] = []
        for row in rows:
            if row.id in self._taken:
                continue
            try:
                text, markup = self._unseal(row)
                chat_id = await self._chat_of(row)
            except _Undeliverable as undeliverable:
                log.warning("outbox: row %d given up: %s", row.id, undeliverable.reason)
                await self._db.outbox_dead(row.id, undeliverable.reason, self._clock())
                run.stats.dead += 1
                continue
            ready.append(_Ready(row, chat_id, text, markup))
        return ready

    async def _dispatch(self, run: _Run, batch: list[_Ready]) -> None:
        """Start sends for `batch` in order, each when its chat and the overall pace allow.

        A row whose chat must still wait does not hold up the others behind it; rows to the
        same chat keep their order.
        """
        pending = list(batch)
        while pending and not run.done and not self._commit_failed:
            index, wait = self._pick(pending, run)
            if index is None:
                if wait is None:  # every chat left has a message on its way
                    await self._wait_for_one(run)
                else:
                    await asyncio.sleep(wait)
                continue
            item = pending[index]
            if item.chat_id in run.blocked:  # no need to ask Telegram again in the same round
                pending.pop(index)
                await self._db.outbox_dead(item.row.id, "blocked", self._clock())
                run.stats.dead += 1
                continue
            while len(run.tasks) >= run.window and not run.done:
                await self._wait_for_one(run)
            if run.done or item.chat_id in run.blocked:
                continue
            pending.pop(index)
            await self.pacer.start(item.chat_id, item.row.urgent)
            run.tried += 1
            self._taken.add(item.row.id)
            task = asyncio.create_task(self._deliver(run, item))
            run.tasks.add(task)
            task.add_done_callback(run.tasks.discard)

    def _pick(self, pending: list[_Ready], run: _Run) -> tuple[int | None, float | None]:
        """The first row whose chat may get a message now; else how long until one may (None:
        until a send under way ends)."""
        now = self.pacer.now()
        earliest = math.inf
        waiting: set[int] = set()
        for index, item in enumerate(pending):
            if item.chat_id in waiting:
                continue
            if item.chat_id in run.blocked:
                return index, None
            free = self.pacer.chat_free_at(item.chat_id, item.row.urgent)
            if free <= now:
                return index, None
            waiting.add(item.chat_id)
            earliest = min(earliest, free)
        return None, None if math.isinf(earliest) else earliest - now

    async def _wait_for_one(self, run: _Run) -> None:
        if run.tasks:
            await asyncio.wait(run.tasks, return_when=asyncio.FIRST_COMPLETED)

    async def _deliver(self, run: _Run, item: _Ready) -> None:
        """One send and what follows from its answer; never raises."""
        delivered = False
        outcome: _Outcome | None = None
        try:
            outcome = await self._send(run.bot, item)
            delivered = outcome == "sent"
            if outcome in ("sent", "dead", "blocked"):  # Telegram answered: open up
                run.window = min(self._max_in_flight, run.window * 2)
            if outcome == "sent":
                run.stats.sent += 1
                self._commit_sent(item.row.id)
                if run.stats.sent % self._progress_every == 0:
                    log.info(
                        "outbox: progress: %d sent, %d given up in this round",
                        run.stats.sent,
                        run.stats.dead,
                    )
            elif outcome in ("dead", "blocked"):
                run.stats.dead += 1
                if outcome == "blocked":
                    run.blocked.add(item.chat_id)
            else:  # "pause" or "stop": no more this round
                run.stats.retried += 1
                run.stats.throttled = run.stats.throttled or outcome == "pause"
                if run.halt != "pause":
                    run.halt = outcome
        except Exception as error:  # a database failure: the row stays due, the job retries
            kind = type(error).__name__
            log.warning("outbox: row %d could not be handled (%s)", item.row.id, kind)
            run.halt = run.halt or "stop"
        finally:
            # A request that failed on the way (network, 5xx) did not count at Telegram.
            self.pacer.done(item.chat_id, delivered, counted=outcome != "stop")
            if not delivered:
                self._taken.discard(item.row.id)

    # --- recording what was sent -----------------------------------------------------------

    def _commit_sent(self, outbox_id: int) -> None:
        """Mark the row sent soon: answers that come while a commit runs share the next one."""
        self._to_commit.append(outbox_id)
        if self._committing is None or self._committing.done():
            self._committing = asyncio.ensure_future(self._commit_loop())

    async def _commit_loop(self) -> None:
        while self._to_commit:
            ids, self._to_commit = self._to_commit, []
            try:
                await self._db.outbox_sent_many(ids, self._clock())
            except Exception as error:
                # Sent, but not recorded: they stay taken, so this process never sends them
                # again, and are recorded before anything else once the database works again.
                kind = type(error).__name__
                log.warning("outbox: %d sent rows could not be recorded (%s)", len(ids), kind)
                self._to_commit = ids + self._to_commit
                self._commit_failed = True
                return
            self._commit_failed = False
            self._taken.difference_update(ids)

    async def _committed(self) -> None:
        """Wait until every answer so far is recorded."""
        while self._committing is not None and not self._committing.done():
            await asyncio.shield(self._committing)

    # --- one message ----------------------------------------------------------------------------

    async def _send(self, bot: Bot, item: _Ready) -> _Outcome:
        row = item.row
        try:
            # The same sendMessage as `bot.send_message(..., parse_mode=HTML, link previews
            # off)`, without a `Message` built of the answer (bot/sending.py).
            await send_html(bot, item.chat_id, item.text, item.markup)
        except RetryAfter as error:
            wait = _retry_after(error)
            now = self._clock()
            self._paused_until = max(self._paused_until or now, now + wait)
            log.warning(
                "outbox: Telegram asked to wait %.0f s (row %d)", wait.total_seconds(), row.id
            )
            await self._db.outbox_retry(row.id, row.attempts, now + wait, now)
            return "pause"
        except Forbidden:
            log.warning("outbox: row %d given up: blocked", row.id)
            now = self._clock()
            await self._db.outbox_dead(row.id, "blocked", now)
            if row.chat_id is not None:  # a member's; a reporter's chat is never stored
                await self._db.mark_blocked(row.chat_id, now)
            return "blocked"
        except ChatMigrated:
            log.warning("outbox: row %d given up: chat_migrated", row.id)
            await self._db.outbox_dead(row.id, "chat_migrated", self._clock())
            return "dead"
        except BadRequest:  # before TelegramError: BadRequest is a NetworkError in PTB
            log.warning("outbox: row %d given up: bad_request", row.id)
            await self._db.outbox_dead(row.id, "bad_request", self._clock())
            return "dead"
        except (TelegramError, OSError) as error:  # NetworkError, TimedOut, 5xx, ...
            return await self._transient(row, type(error).__name__)
        return "sent"

    async def _transient(self, row: OutboxRow, error_type: str) -> _Outcome:
        now = self._clock()
        if not row.urgent and now - row.created_at >= GIVE_UP_AFTER:
            log.warning("outbox: row %d given up after %d attempts", row.id, row.attempts + 1)
            await self._db.outbox_dead(row.id, "gave_up", now)
            return "dead"
        attempts = row.attempts + 1
        wait = backoff(attempts)
        log.info(
            "outbox: row %d failed (%s), attempt %d, next in %.0f s",
            row.id,
            error_type,
            attempts,
            wait.total_seconds(),
        )
        await self._db.outbox_retry(row.id, attempts, now + wait, now)
        return "stop"

    def _unseal(self, row: OutboxRow) -> tuple[str, InlineKeyboardMarkup | None]:
        try:
            payload = self._sealer.unseal_json(row.payload)
        except SealError:
            raise _Undeliverable("unreadable") from None
        if not isinstance(payload, dict):
            raise _Undeliverable("bad_payload")
        text = payload.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _Undeliverable("bad_payload")
        if payload.get("photo") is not None:  # not supported yet: say so rather than drop it
            raise _Undeliverable("bad_payload")
        return text, _markup(payload.get("buttons"))

    async def _chat_of(self, row: OutboxRow) -> int:
        if row.chat_id is not None:
            return row.chat_id
        if row.report_id is None:
            raise _Undeliverable("no_link")
        link = await self._db.link_of(row.report_id)
        if link is None:
            raise _Undeliverable("no_link")
        try:
            return self._sealer.unseal_chat(link[1])
        except SealError:
            raise _Undeliverable("unreadable") from None


async def _outbox_job(context: CallbackContext[Any, Any, Any, Any]) -> None:
    outbox = context.job.data if context.job is not None else None
    if not isinstance(outbox, Outbox):
        services = getattr(context.application.bot_data, "services", None)
        outbox = getattr(services, "outbox", None)
    if isinstance(outbox, Outbox):
        await outbox.send_due_if_idle(context.bot)


def schedule(
    app: Application[Any, Any, Any, Any, Any, Any],
    interval: float = DEFAULT_INTERVAL,
    outbox: Outbox | None = None,
) -> Job[Any] | None:
    """Run a round every `interval` seconds (job `outbox`), the first one at once.

    The outbox is `outbox`, or else `app.bot_data.services.outbox` at each run. Returns the job,
    or None (with a warning) when the application has no job queue.
    """
    if app.job_queue is None:
        log.warning("no job queue: queued messages are only sent when a handler kicks the outbox")
        return None
    return app.job_queue.run_repeating(
        _outbox_job, interval=interval, first=0, name=JOB_NAME, data=outbox
    )
