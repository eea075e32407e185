"""The outbox: messages queued in the same transaction as what they are about, sent later."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import datetime

from bot.crypto import Sealer
from bot.storage.core import (
    _Core,
    _opt_db_time,
    from_db_time,
    to_db_time,
)
from bot.storage.inline import every, one, run
from bot.storage.records import (
    OutboxItem,
    OutboxRow,
)

# The link to a reporter lives while the follow-up lasts: it goes when the report is closed and
# no message to the reporter is still waiting to be sent (else when the last one is sent or
# given up). The pending inputs of a closed report go at once.
_RELEASE_LINK = """
DELETE FROM report_links
WHERE report_id = :report_id
  AND EXISTS (SELECT 1 FROM reports WHERE id = :report_id AND state = 'closed')
  AND NOT EXISTS (
      SELECT 1 FROM outbox
      WHERE report_id = :report_id AND member_key IS NULL
        AND sent_at IS NULL AND dead_reason IS NULL
  )
"""

# What is left of a report's messages once it is closed and its link released: sent or given up
# rows (their dedupe keys) and reminder period keys. Nothing is queued about it any more.
_FORGET_CLOSED_OUTBOX = """
DELETE FROM outbox
WHERE report_id = :report_id
  AND (sent_at IS NOT NULL OR dead_reason IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM report_links WHERE report_id = :report_id)
  AND EXISTS (SELECT 1 FROM reports WHERE id = :report_id AND state = 'closed')
"""

_OUTBOX_COLUMNS = (
    "id, dedupe, chat_sealed, report_id, payload, urgent, attempts, next_attempt_at, created_at"
)

# ON CONFLICT (dedupe) DO NOTHING, not INSERT OR IGNORE: OR IGNORE would also swallow CHECK and
# NOT NULL failures, hiding a bug as a message that silently never goes.
_ENQUEUE = """
INSERT INTO outbox (dedupe, member_key, chat_sealed, report_id, payload, urgent, attempts,
                    next_attempt_at, created_at)
VALUES (:dedupe, :member_key, :chat_sealed, :report_id, :payload, :urgent, 0, :next_attempt_at,
        :now)
ON CONFLICT (dedupe) DO NOTHING
"""

_DUE_OUTBOX = f"""
SELECT {_OUTBOX_COLUMNS} FROM outbox
WHERE sent_at IS NULL AND dead_reason IS NULL AND next_attempt_at <= :now
ORDER BY urgent DESC, created_at, id
LIMIT :limit
"""

# Marks a burst of answered messages sent in one statement (see `outbox_sent_many`).
_MARK_SENT = """
UPDATE outbox SET sent_at = :now, payload = x''
WHERE id IN (SELECT value FROM json_each(:ids)) AND sent_at IS NULL AND dead_reason IS NULL
RETURNING member_key, report_id
"""

# Which of the chats that just accepted a message were marked blocked. Not a subquery of the
# RETURNING clause above: SQLite cannot use the users' index there and scanned the whole table
# for every row, which made a digest to 40,000 members four times slower.
_BLOCKED_AMONG = """
SELECT member_key FROM users
WHERE member_key IN (SELECT value FROM json_each(:keys)) AND blocked_on IS NOT NULL
"""

_DEAD_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A dead reason is a short code, so that message text or an id can never end up in it."""


def _outbox_row(row: sqlite3.Row, sealer: Sealer) -> OutboxRow:
    sealed = row["chat_sealed"]
    return OutboxRow(
        id=int(row["id"]),
        dedupe=row["dedupe"],
        chat_id=None if sealed is None else sealer.unseal_chat(bytes(sealed)),
        report_id=row["report_id"],
        payload=bytes(row["payload"]),
        urgent=bool(row["urgent"]),
        attempts=int(row["attempts"]),
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        created_at=from_db_time(row["created_at"]),
    )


class OutboxQueries(_Core):
    """Queue, send, retry and give up messages; release a closed report's link after."""

    # --- outbox ------------------------------------------------------------------------------

    async def enqueue(self, items: Iterable[OutboxItem], now: datetime) -> int:
        """Queue messages in one transaction; return how many were new.

        An item whose `dedupe` is already in the outbox (queued, sent or dead) is skipped:
        queueing the same logical message twice sends it once.
        """
        stamp = to_db_time(now)

        def body(conn: sqlite3.Connection) -> int:
            added = 0
            for item in items:
                if item.to_reporter and item.report_id is None:
                    raise ValueError("a message to the reporter needs its report_id")
                added += self._enqueue(conn, item, item.report_id, stamp)
            return added

        return await self._transact(body)

    def _enqueue(
        self, conn: sqlite3.Connection, item: OutboxItem, report_id: int | None, stamp: str
    ) -> int:
        member_key = chat_sealed = None
        dedupe = item.dedupe
        if item.chat_id is not None:
            member_key = self._key(item.chat_id)
            chat_sealed = self._sealer.seal_chat(item.chat_id)
            # Dedupe keys name the recipient (`report:R-ABC123:<id>`): the id becomes their key.
            plain = str(item.chat_id)
            dedupe = ":".join(member_key if part == plain else part for part in dedupe.split(":"))
        return run(
            conn,
            _ENQUEUE,
            {
                "dedupe": dedupe,
                "member_key": member_key,
                "chat_sealed": chat_sealed,
                "report_id": report_id,
                "payload": bytes(item.payload),
                "urgent": int(item.urgent),
                "next_attempt_at": max(stamp, _opt_db_time(item.not_before) or stamp),
                "now": stamp,
            },
        )

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Messages to try now: not sent, not dead, due; urgent first, then oldest."""
        rows = await self._query(
            lambda conn: every(conn, _DUE_OUTBOX, {"now": to_db_time(now), "limit": limit})
        )
        return [_outbox_row(row, self._sealer) for row in rows]

    async def outbox_sent(self, outbox_id: int, now: datetime) -> bool:
        """Telegram accepted the message: mark it sent and empty its payload.

        A chat that accepts a message is no longer blocked. If it was the last message queued
        to the reporter of a closed report, the link to them ends here. Returns False if the
        row was already sent or dead (nothing changes then).
        """

        def body(conn: sqlite3.Connection) -> int | None:
            row = one(
                conn,
                "UPDATE outbox SET sent_at = :now, payload = x''"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL"
                " RETURNING member_key, report_id",
                {"id": outbox_id, "now": to_db_time(now)},
            )
            if row is None:
                return None
            if row["member_key"] is not None:
                run(
                    conn,
                    "UPDATE users SET blocked_on = NULL WHERE member_key = :member_key",
                    {"member_key": row["member_key"]},
                )
            return 0 if row["report_id"] is None else self._release(conn, row["report_id"])

        released = await self._transact(body)
        if released is None:
            return False
        if released:
            await self.checkpoint()
        return True

    async def outbox_retry(
        self, outbox_id: int, attempts: int, next_attempt_at: datetime, now: datetime
    ) -> None:
        """Try the message again at `next_attempt_at`; `attempts` is the count of failures."""
        await self._transact(
            lambda conn: run(
                conn,
                "UPDATE outbox SET attempts = :attempts, next_attempt_at = :next"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL",
                {"id": outbox_id, "attempts": attempts, "next": to_db_time(next_attempt_at)},
            )
        )

    async def outbox_dead(self, outbox_id: int, reason: str, now: datetime) -> None:
        """Give the message up for `reason`, a short code such as 'blocked' or 'bad_request'
        (never message text: anything else is refused). Its payload is emptied."""
        if not _DEAD_REASON.fullmatch(reason):
            raise ValueError("a dead reason is a short lowercase code")

        def body(conn: sqlite3.Connection) -> int:
            row = one(
                conn,
                "UPDATE outbox SET dead_reason = :reason, payload = x''"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL"
                " RETURNING member_key, report_id",
                {"id": outbox_id, "reason": reason},
            )
            if row is not None and row["report_id"] is not None:
                return self._release(conn, row["report_id"])
            return 0

        if await self._transact(body):
            await self.checkpoint()

    async def outbox_pending(self) -> int:
        """How many messages are neither sent nor given up."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL",
                {},
            )
        )
        assert row is not None
        return int(row[0])

    async def prune_outbox(self, created_before: datetime) -> int:
        """Delete sent and dead messages queued before `created_before`; return how many.

        Their dedupe keys go with them, so keep this well beyond any retry of a handler.
        """
        # Off the loop: after a digest to every member this deletes tens of thousands of rows.
        count = await self._transact(
            lambda conn: run(
                conn,
                "DELETE FROM outbox WHERE (sent_at IS NOT NULL OR dead_reason IS NOT NULL)"
                " AND created_at < :before",
                {"before": to_db_time(created_before)},
            ),
            off_loop=True,
        )
        return count

    async def outbox_sent_many(self, outbox_ids: Sequence[int], now: datetime) -> int:
        """`outbox_sent` for many rows, committed as ONE statement; return how many were marked
        (rows already sent or dead are left as they are).

        This commit closes the window in which a crash would send a message again, so it is
        kept short: ONE transaction marks the rows sent, clears the blocks of the chats that
        accepted a message, and releases the links of closed reports whose last message this
        was. Every statement is set-based, so a burst costs a handful of statements.
        """
        if not outbox_ids:
            return 0
        params = {"ids": json.dumps(list(outbox_ids)), "now": to_db_time(now)}

        def body(conn: sqlite3.Connection) -> tuple[int, int]:
            rows = every(conn, _MARK_SENT, params)
            keys = sorted({row["member_key"] for row in rows if row["member_key"]})
            found = every(conn, _BLOCKED_AMONG, {"keys": json.dumps(keys)}) if keys else []
            if found:
                run(
                    conn,
                    "UPDATE users SET blocked_on = NULL"
                    " WHERE member_key IN (SELECT value FROM json_each(:keys))",
                    {"keys": json.dumps(sorted(row["member_key"] for row in found))},
                )
            released = sorted({row["report_id"] for row in rows if row["report_id"]})
            return len(rows), sum(self._release(conn, report_id) for report_id in released)

        marked, gone = await self._transact(body)
        if gone:
            await self.checkpoint()
        return marked

    async def count_prunable_outbox(self, created_before: datetime) -> int:
        """How many messages `prune_outbox` with the same argument would delete."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE (sent_at IS NOT NULL OR dead_reason IS NOT NULL)"
                " AND created_at < :before",
                {"before": to_db_time(created_before)},
            )
        )
        assert row is not None
        return int(row[0])

    def _release(self, conn: sqlite3.Connection, report_id: int) -> int:
        """Inside a write transaction: end a closed report's link if nothing is queued to the
        reporter, and then what is left of its messages; return how many rows went (the caller
        checkpoints then, so the sealed chat leaves the -wal too)."""
        gone = run(conn, _RELEASE_LINK, {"report_id": report_id})
        gone += run(conn, _FORGET_CLOSED_OUTBOX, {"report_id": report_id})
        return gone

    async def outbox_oldest(self) -> datetime | None:
        """When the oldest message neither sent nor given up was queued (for the metrics)."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT MIN(created_at) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL",
                {},
            )
        )
        return None if row is None or row[0] is None else from_db_time(row[0])
