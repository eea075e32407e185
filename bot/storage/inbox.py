"""The inbox: updates fetched from Telegram and not yet handled (bot/inbox.py), and the
receipts of reports sent by an update still in it."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from bot.storage.core import INBOX_BUSY_MS, _Core, to_db_time
from bot.storage.inline import every, one, run


class InboxQueries(_Core):
    async def inbox_store(self, update_id: int, payload: bytes, now: datetime) -> bool:
        """Keep a fetched update (sealed) until it is handled; False if it was seen before.

        Telegram's update ids grow, so one above the highest ever stored is new; any other was
        stored (and perhaps handled and deleted) before a crash and is sent again only because
        its confirmation did not reach Telegram. Waits briefly for another process's lock
        (`INBOX_BUSY_MS`), and is synced to disk (`off_loop`) before Telegram is told it arrived.
        """
        params = {"id": update_id, "payload": bytes(payload), "now": to_db_time(now)}

        def body(conn: sqlite3.Connection) -> bool:
            row = one(conn, "SELECT last_update_id FROM inbox_mark WHERE id = 1")
            if row is not None and update_id <= int(row["last_update_id"]):
                return False
            run(
                conn,
                "INSERT INTO inbox (update_id, payload, received_at) VALUES (:id, :payload, :now)"
                " ON CONFLICT (update_id) DO NOTHING",
                params,
            )
            run(
                conn,
                "INSERT INTO inbox_mark (id, last_update_id) VALUES (1, :id)"
                " ON CONFLICT (id) DO UPDATE SET last_update_id = excluded.last_update_id",
                {"id": update_id},
            )
            return True

        return await self._transact(body, off_loop=True, busy_ms=INBOX_BUSY_MS)

    async def inbox_pending(self) -> list[tuple[int, bytes]]:
        """`(update_id, sealed payload)` of every update not yet handled, oldest first."""
        rows = await self._query(
            lambda conn: every(conn, "SELECT update_id, payload FROM inbox ORDER BY update_id")
        )
        return [(int(row["update_id"]), bytes(row["payload"])) for row in rows]

    async def inbox_done(self, *update_ids: int) -> None:
        """The updates were handled: their text leaves the file (`secure_delete`), their
        receipts too. Waits briefly for another process's lock (`INBOX_BUSY_MS`)."""

        def body(conn: sqlite3.Connection) -> None:
            for update_id in update_ids:
                run(conn, "DELETE FROM inbox WHERE update_id = :id", {"id": update_id})
                run(conn, "DELETE FROM receipts WHERE update_id = :id", {"id": update_id})

        await self._transact(body, busy_ms=INBOX_BUSY_MS)

    async def inbox_tidy(self) -> int:
        """Drop receipts whose update is no longer in the inbox (one handled outside it, as in
        the terminal chat); return how many."""
        return await self._transact(
            lambda conn: run(
                conn, "DELETE FROM receipts WHERE update_id NOT IN (SELECT update_id FROM inbox)"
            )
        )

    async def receipt_of(self, update_id: int) -> bytes | None:
        """The sealed reference of the report update `update_id` sent, while it is kept."""
        row = await self._query(
            lambda conn: one(
                conn, "SELECT payload FROM receipts WHERE update_id = :id", {"id": update_id}
            )
        )
        return None if row is None else bytes(row["payload"])
