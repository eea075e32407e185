"""The outbox sender: every queued message reaches its chat once, even through Bot API outages.

Handlers never send reports, relays or notices to other people directly. They queue them in the
database (`Database.enqueue`, or `submit_report` in the same transaction as the report), and this
module sends what is due: right away when a handler calls `Outbox.kick`, and every few seconds
from the job queue (`schedule`), so messages queued before a crash or a restart go out too.

**Exactly once.** A row is marked sent only after Telegram has answered that it accepted the
message, and rounds never overlap (one lock per process). So a message is never lost, and it is
sent twice only if Telegram accepted it but we could not record that:

- the process dies (kill -9, power cut) between Telegram's answer and the commit of `sent_at`;
- the request times out (`TimedOut`) or the connection breaks *after* Telegram received it: the
  Bot API gives no way to ask whether an earlier request went through, so it is sent again.

Both windows are short; a missing message would be worse than a rare duplicate.

**Failures**, by what Telegram answered:

- `RetryAfter` (429): the row waits until now + retry_after, and the whole sender pauses until
  then: Telegram asked us to slow down, not to retry another message at once.
- `TimedOut`, `NetworkError`, 5xx and other transient errors: exponential backoff from 5 s,
  doubling, at most 10 minutes, attempts counted. The round stops there (the API is likely away;
  trying every other row now would only hold up the handler that kicked). An urgent row is
  never given up; any other is dead ('gave_up') when one of its attempts fails more than 24
  hours after it was queued (one that was never tried during an outage is sent late instead).
- `Forbidden` (403, the bot was blocked): dead ('blocked'); a coordinator's chat is recorded in
  `blocked_chats` (a reporter's never is: their chat id is stored nowhere in plain).
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
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    RetryAfter,
    TelegramError,
)
from telegram.ext import Application, CallbackContext, Job

from bot.crypto import Sealer, SealError
from bot.storage.db import Database, OutboxItem, OutboxRow

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_START",
    "GIVE_UP_AFTER",
    "JOB_NAME",
    "KICK_WAIT",
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
    # With PTB_TIMEDELTA=1 (set in bot/__init__.py) this is a timedelta; an int otherwise.
    value: int | float | timedelta = error.retry_after
    if isinstance(value, timedelta):
        return value
    return timedelta(seconds=float(value))


class Outbox:
    """Sends due outbox rows through a `telegram.Bot`. One per process; see the module doc."""

    def __init__(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self._db = db
        self._sealer = sealer
        self._clock = clock
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Future[SendStats]] = set()
        self._paused_until: datetime | None = None

    def __repr__(self) -> str:
        return f"Outbox(paused_until={self._paused_until!r})"

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
        `KICK_WAIT`: a round still running then (a slow Bot API) goes on in the background, and
        the handler that kicked goes on. Never raises: what was queued is safe in the database
        and the job sends it later. Cancelling the caller does not cancel the round, so a
        message Telegram accepted is always marked sent.
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

    def _round_done(self, task: asyncio.Future[SendStats]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            error = task.exception()
            log.warning("outbox: a round failed (%s); the job will retry", type(error).__name__)

    async def send_due(self, bot: Bot, limit: int = 50) -> SendStats:
        """Send every due row (at most `limit` per round); see the module doc for failures."""
        stats = SendStats()
        async with self._lock:
            await self._round(bot, limit, stats)
        if stats.sent or stats.retried or stats.dead:
            log.info(
                "outbox: sent %d, to retry %d, given up %d", stats.sent, stats.retried, stats.dead
            )
        return stats

    async def _round(self, bot: Bot, limit: int, stats: SendStats) -> None:
        now = self._clock()
        if self._paused_until is not None:
            if now < self._paused_until:
                stats.throttled = True
                return
            self._paused_until = None
        rows = await self._db.due_outbox(now, limit)
        blocked: set[tuple[str, int]] = set()  # chats (or reports' reporters) that said 403
        for row in rows:
            target = (
                ("report", row.report_id or 0) if row.chat_id is None else ("chat", row.chat_id)
            )
            if target in blocked:  # no need to ask Telegram again in the same round
                await self._db.outbox_dead(row.id, "blocked", self._clock())
                stats.dead += 1
                continue
            outcome = await self._send_row(bot, row)
            if outcome == "sent":
                stats.sent += 1
            elif outcome in ("dead", "blocked"):
                stats.dead += 1
                if outcome == "blocked":
                    blocked.add(target)
            else:  # "pause" or "stop": nothing more this round
                stats.retried += 1
                stats.throttled = outcome == "pause"
                return

    async def _send_row(self, bot: Bot, row: OutboxRow) -> _Outcome:
        try:
            text, markup = self._unseal(row)
            chat_id = await self._chat_of(row)
        except _Undeliverable as undeliverable:
            log.warning("outbox: row %d given up: %s", row.id, undeliverable.reason)
            await self._db.outbox_dead(row.id, undeliverable.reason, self._clock())
            return "dead"
        try:
            await bot.send_message(
                chat_id,
                text,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except RetryAfter as error:
            wait = _retry_after(error)
            now = self._clock()
            self._paused_until = now + wait
            log.warning(
                "outbox: Telegram asked to wait %.0f s (row %d)", wait.total_seconds(), row.id
            )
            await self._db.outbox_retry(row.id, row.attempts, now + wait, now)
            return "pause"
        except Forbidden:
            log.warning("outbox: row %d given up: blocked", row.id)
            now = self._clock()
            await self._db.outbox_dead(row.id, "blocked", now)
            if row.chat_id is not None:  # a coordinator; a reporter's chat is never stored
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
        await self._db.outbox_sent(row.id, self._clock())
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
        await outbox.send_due(context.bot)


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
