"""The database when writing fails: a failed COMMIT, a full disk, another process's lock.

Each failure is an exception the error handler answers politely; none may leave the one
connection stuck in a transaction, and what was stored before stays as it was.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage import Database, Role

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


async def test_a_commit_that_fails_leaves_no_transaction_open(tmp_path: Path) -> None:
    """A deferred constraint fails at COMMIT and SQLite keeps the transaction open; the next
    write must still work, and the failed one must not come back with it."""
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        await db.join(1, "solvik", Role.MEMBER, None, NOW)
        with pytest.raises(sqlite3.IntegrityError):
            async with db._write() as conn:
                await conn.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
                await conn.execute(
                    "CREATE TEMP TABLE child (parent INTEGER REFERENCES parent (id)"
                    " DEFERRABLE INITIALLY DEFERRED)"
                )
                await conn.execute("INSERT INTO child VALUES (42)")  # fails only at COMMIT
                await conn.execute("UPDATE memberships SET org_id = 'region-norrmark'")
        # The next write works, and the failed transaction's change is gone for good.
        await db.set_language(1, "en", True, NOW)
        membership = await db.get_membership(1)
        assert membership is not None and membership.org_id == "solvik"
        user = await db.get_user(1)
        assert user is not None and user.lang == "en"


async def test_a_write_blocked_by_another_process_fails_and_the_next_one_works(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.storage.core.BUSY_TIMEOUT_MS", 200)
    path = tmp_path / "t.sqlite3"
    async with await Database.open(path) as db:
        await db.join(1, "solvik", Role.MEMBER, None, NOW)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN EXCLUSIVE")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await db.set_language(1, "en", True, NOW)
            # Reading still works under another process's write lock (write-ahead log).
            assert (await db.get_membership(1)) is not None
            other.execute("ROLLBACK")
        finally:
            other.close()
        await db.set_language(1, "en", True, NOW)
        user = await db.get_user(1)
        assert user is not None and user.lang == "en"
