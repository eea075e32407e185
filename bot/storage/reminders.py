"""Reminders: period keys (`reminders_sent`), digests, acknowledgement reminders, follow-ups."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.storage.core import (
    _opt_db_time,
    to_db_day,
    to_db_time,
)
from bot.storage.inline import every, run
from bot.storage.outbox import OutboxQueries
from bot.storage.records import (
    OutboxItem,
    Report,
)
from bot.storage.reports import _REPORT_COLUMNS, _REPORT_COLUMNS_R, _report

_RECORD_REMINDER = """
INSERT INTO reminders_sent (key, sent_at) VALUES (:key, :now)
ON CONFLICT (key) DO NOTHING
"""

# One message per member of the organisation in the given language (the default language's
# message also goes to members whose language has none), skipping members who turned reminders
# off and chats that blocked the bot. The WHERE clause also keeps SQLite from reading the upsert's
# ON CONFLICT as a join constraint.
_BROADCAST = """
INSERT INTO outbox (dedupe, member_key, chat_sealed, report_id, payload, urgent, attempts,
                    next_attempt_at, created_at)
SELECT :prefix || m.member_key, m.member_key, u.chat_sealed, NULL, :payload, 0, 0, :next, :now
FROM memberships m JOIN users u ON u.member_key = m.member_key
WHERE m.org_id = :org_id AND m.digest_enabled = 1
  AND u.blocked_on IS NULL
  AND (u.lang = :lang
       OR (:fallback = 1 AND (u.lang IS NULL
                              OR u.lang NOT IN (SELECT value FROM json_each(:langs)))))
ORDER BY m.member_key
ON CONFLICT (dedupe) DO NOTHING
"""


class _AlreadyRecorded(Exception):
    """A period key was recorded before: the transaction is rolled back."""


class ReminderQueries(OutboxQueries):
    """What the reminder jobs record and queue, each in one transaction."""

    # --- reminders ---------------------------------------------------------------------------

    async def reminders_recorded(self, keys: Iterable[str]) -> set[str]:
        """Which of the period `keys` have been acted on (see `record_reminder`)."""
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        rows = await self._query(
            lambda conn: every(
                conn,
                "SELECT key FROM reminders_sent WHERE key IN (SELECT value FROM json_each(:keys))",
                {"keys": json.dumps(wanted)},
            )
        )
        return {row[0] for row in rows}

    async def record_reminder(
        self,
        keys: Sequence[str],
        items: Iterable[OutboxItem],
        now: datetime,
        *,
        reminded: int | None = None,
        escalated: int | None = None,
    ) -> bool:
        """Record the period `keys` and queue `items`, in ONE transaction; False (and nothing
        changes) if any key was recorded before.

        A crash before the commit leaves neither, so the job does it again; after the commit the
        keys stop it for good. `reminded`/`escalated` mark that report's acknowledgement reminder
        or escalation in the same transaction.
        """
        if not keys:
            raise ValueError("a reminder needs at least one period key")
        stamp = to_db_time(now)

        def body(conn: sqlite3.Connection) -> None:
            for key in keys:
                if not run(conn, _RECORD_REMINDER, {"key": key, "now": stamp}):
                    raise _AlreadyRecorded
            for item in items:
                if item.to_reporter and item.report_id is None:
                    raise ValueError("a message to the reporter needs its report_id")
                self._enqueue(conn, item, item.report_id, stamp)
            for column, report_id in (("reminded_at", reminded), ("escalated_at", escalated)):
                if report_id is not None:
                    run(
                        conn,
                        f"UPDATE reports SET {column} = :now WHERE id = :id",
                        {"id": report_id, "now": to_db_day(now)},
                    )

        try:
            await self._transact(body)
        except _AlreadyRecorded:
            return False
        return True

    async def record_broadcast(
        self,
        key: str,
        org_id: str,
        payloads: Mapping[str, bytes],
        default_lang: str,
        now: datetime,
        *,
        not_before: datetime | None = None,
    ) -> int | None:
        """Record `key` and queue one message to every member of `org_id` who has reminders on
        and has not blocked the bot, in ONE transaction; return how many were queued, or None
        if `key` was recorded before (nothing changes then).

        `payloads` holds the sealed message per language; a member gets the one of their
        language (`users.lang`), else the one of `default_lang`, which must be there. Each
        message's dedupe key is `key:<user id>`. The rows are written by INSERT ... SELECT, so
        a digest to 40,000 members costs neither 40,000 round trips nor their memory.
        """
        if default_lang not in payloads:
            raise ValueError("the default language's message is missing")
        stamp = to_db_time(now)
        params: dict[str, Any] = {
            "org_id": org_id,
            "prefix": key + ":",
            "langs": json.dumps(sorted(payloads)),
            "next": max(stamp, _opt_db_time(not_before) or stamp),
            "now": stamp,
        }

        def body(conn: sqlite3.Connection) -> int | None:
            if not run(conn, _RECORD_REMINDER, {"key": key, "now": stamp}):
                return None
            queued = 0
            for lang, payload in sorted(payloads.items()):
                values = {**params, "lang": lang, "fallback": int(lang == default_lang)}
                queued += run(conn, _BROADCAST, {**values, "payload": payload})
            return queued

        # Off the loop: one INSERT ... SELECT writes a row per member, 40,000 of them at most.
        return await self._transact(body, off_loop=True)

    async def set_digest(self, user_id: int, enabled: bool) -> bool:
        """Turn the member's reminders (digest and events) on or off; False if not a member."""
        changed = await self._transact(
            lambda conn: run(
                conn,
                "UPDATE memberships SET digest_enabled = :enabled WHERE member_key = :member_key",
                {"member_key": self._key(user_id), "enabled": int(enabled)},
            )
        )
        return changed == 1

    async def followup_reports(self) -> list[Report]:
        """Open reports whose reporter asked to be contacted and still has a link, oldest first."""
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT {_REPORT_COLUMNS_R} FROM reports r"
                " JOIN report_links l ON l.report_id = r.id"
                " WHERE r.state != 'closed' AND r.contact_me = 1 ORDER BY r.created_at, r.id",
                {},
            )
        )
        return [_report(row) for row in rows]

    # --- acknowledgement workflow ------------------------------------------------------------

    async def unacknowledged(self, created_before: datetime) -> list[Report]:
        """NEW reports created before `created_before`, oldest first (for reminders)."""
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE state = 'new' AND COALESCE(ack_from, created_at) < :before"
                " ORDER BY COALESCE(ack_from, created_at), id",
                {"before": to_db_time(created_before)},
            )
        )
        return [_report(row) for row in rows]

    async def mark_reminded(self, report_id: int, now: datetime) -> None:
        await self._transact(
            lambda conn: run(
                conn,
                "UPDATE reports SET reminded_at = :now WHERE id = :id",
                {"id": report_id, "now": to_db_day(now)},
            )
        )

    async def mark_escalated(self, report_id: int, now: datetime) -> None:
        await self._transact(
            lambda conn: run(
                conn,
                "UPDATE reports SET escalated_at = :now WHERE id = :id",
                {"id": report_id, "now": to_db_day(now)},
            )
        )

    async def reminder_counts(self) -> dict[str, int]:
        """Reminders recorded as sent, per kind (the key's first part: digest, ack, gap...)."""
        rows = await self._query(
            lambda conn: every(
                conn,
                "SELECT substr(key, 1, instr(key, ':') - 1) AS kind, COUNT(*) AS n "
                "FROM reminders_sent GROUP BY kind",
                {},
            )
        )
        return {str(r["kind"]): int(r["n"]) for r in rows}
