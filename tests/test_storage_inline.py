"""Storage's two connections: queries inline on the loop's own connection, and aiosqlite's thread
when another process holds the lock (docs/architecture.md, "Storage: two connections").

What a user or operator would notice if this went wrong: an update lost or unanswered while
`trygg` runs a command on the same file, a revoked member still acting, half of a transaction
in the file after a failure, or the bot stuck on an aiosqlite upgrade.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import aiosqlite
import pytest

from bot.datadir import prepare_data_dir
from bot.members import member_handle
from bot.storage import Database, Draft, OutboxItem, Role
from bot.storage.core import _in_worker
from tests.conftest import Harness, texts

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
MEMBER = 7_990_001
DRAFT = Draft(org_id="solvik", step="channel", values={"type": "hot"}, editing=False)


async def test_aiosqlite_still_offers_what_storage_runs_on_its_thread(tmp_path: Path) -> None:
    """`core._in_worker` uses aiosqlite's private `Connection._execute` and `_conn` (pyproject
    pins aiosqlite below the next minor version): this fails first if a release drops them."""
    assert callable(getattr(aiosqlite.Connection, "_execute", None))
    assert isinstance(aiosqlite.Connection.__dict__.get("_conn"), property)
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        thread, one = await _in_worker(
            db._conn, lambda conn: (threading.get_ident(), conn.execute("SELECT 1").fetchone()[0])
        )
    assert one == 1 and thread != threading.get_ident()


async def test_a_write_while_another_process_holds_the_lock_waits_off_the_loop_and_is_stored(
    tmp_path: Path,
) -> None:
    path = tmp_path / "t.sqlite3"
    async with await Database.open(path) as db:
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        other = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")
            saving = asyncio.create_task(db.save_draft(MEMBER, DRAFT, NOW))
            # The loop goes on while the write waits for the lock on aiosqlite's thread.
            await asyncio.sleep(0.3)
            assert not saving.done()
            other.execute("ROLLBACK")
            await saving
        finally:
            other.close()
        assert await db.get_draft(MEMBER) == DRAFT


async def test_an_update_while_another_process_holds_the_lock_is_answered_and_stored(
    harness: Harness,
) -> None:
    await harness.join(MEMBER, "solvik")
    other = sqlite3.connect(harness.services.db.path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        answering = asyncio.create_task(harness.send(MEMBER, "/rapportera"))
        await asyncio.sleep(0.3)
        other.execute("ROLLBACK")
        calls = await answering
    finally:
        other.close()
    assert texts(calls), "the update was not answered"
    assert await harness.services.db.get_draft(MEMBER) is not None


async def test_a_revoke_by_another_process_takes_effect_on_the_very_next_update(
    harness: Harness,
) -> None:
    await harness.join(MEMBER, "solvik")
    assert texts(await harness.send(MEMBER, "/rapportera"))  # a member: the form starts
    assert await harness.services.db.get_draft(MEMBER) is not None
    settings = harness.services.settings
    key = prepare_data_dir(settings.data_dir, settings.key_file).secret_key
    env = {
        **os.environ,
        "TRYGG_DATA_DIR": str(settings.data_dir),
        "TRYGG_ROUTINES": str(settings.routines_dir),
    }
    done = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "bot", "revoke", member_handle(key, MEMBER)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    # No cache in between: the very next update reads the file as the other process left it.
    calls = await harness.send(MEMBER, "/rapportera")
    assert "behöver du vara med" in texts(calls)[0]
    assert await harness.services.db.get_membership(MEMBER) is None


async def test_a_failed_transaction_on_the_fast_path_leaves_nothing_half_written(
    tmp_path: Path,
) -> None:
    """A reminder's keys are recorded and its messages queued in ONE transaction: an item that
    fails after the first key was written leaves neither the key nor any message."""
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        good = OutboxItem(dedupe="digest:x:1", chat_id=MEMBER, payload=b"sealed")
        bad = OutboxItem(dedupe="digest:x:2", chat_id=None, payload=b"sealed", to_reporter=True)
        assert not db._lock.locked()  # nothing else under way: the transaction runs inline
        with pytest.raises(ValueError, match="report_id"):
            await db.record_reminder(["digest:x"], [good, bad], NOW)
        assert await db.reminders_recorded(["digest:x"]) == set()
        assert await db.outbox_pending() == 0
        # The connection is not left in a transaction: the same reminder goes through now.
        assert await db.record_reminder(["digest:x"], [good], NOW)
        assert await db.outbox_pending() == 1


async def test_a_commit_that_fails_inline_rolls_back_and_the_next_write_works(
    tmp_path: Path,
) -> None:
    """A deferred constraint fails only at COMMIT, where SQLite keeps the transaction open."""
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        db._inline.execute("CREATE TEMP TABLE parent (id INTEGER PRIMARY KEY)")
        db._inline.execute(
            "CREATE TEMP TABLE child (parent INTEGER REFERENCES parent (id)"
            " DEFERRABLE INITIALLY DEFERRED)"
        )

        def body(conn: sqlite3.Connection) -> None:
            conn.execute("INSERT INTO child VALUES (42)")
            conn.execute("DELETE FROM memberships")

        with pytest.raises(sqlite3.IntegrityError):
            await db._transact(body)
        assert not db._inline.in_transaction
        assert await db.get_membership(MEMBER) is not None
        await db.save_draft(MEMBER, DRAFT, NOW)
        assert await db.get_draft(MEMBER) == DRAFT


async def test_reads_and_writes_go_to_aiosqlite_while_a_coroutine_holds_it(
    tmp_path: Path,
) -> None:
    """While a coroutine is using aiosqlite's connection (a checkpoint, a statistics query),
    another one's read or write waits for it instead of running inline beside it."""
    async with await Database.open(tmp_path / "t.sqlite3") as db:
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        order: list[str] = []
        async with db._lock:
            reading = asyncio.create_task(db.get_membership(MEMBER))
            writing = asyncio.create_task(db.save_draft(MEMBER, DRAFT, NOW))
            reading.add_done_callback(lambda _: order.append("read"))
            writing.add_done_callback(lambda _: order.append("write"))
            await asyncio.sleep(0.05)
            assert order == []
        assert await reading is not None
        await writing
        assert order == ["read", "write"]
        assert await db.get_draft(MEMBER) == DRAFT


@pytest.mark.parametrize("period", [10, 10_000])
async def test_the_write_ahead_log_stays_small_while_every_write_runs_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, period: int
) -> None:
    """The inline connection never checkpoints itself; every `INLINE_COMMITS_PER_CHECKPOINT`
    commits one runs on aiosqlite's thread, so the -wal file on disk stays bounded."""
    monkeypatch.setattr("bot.storage.core.INLINE_COMMITS_PER_CHECKPOINT", period)
    path = tmp_path / "t.sqlite3"
    async with await Database.open(path) as db:
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        for step in range(300):
            draft = Draft(org_id="solvik", step="channel", values={"n": step}, editing=False)
            await db.save_draft(MEMBER, draft, NOW)
        wal_pages = path.with_name(path.name + "-wal").stat().st_size // 4096
    if period == 10:
        assert wal_pages < 60
    else:  # without it the log holds every commit: what the checkpoint keeps from happening
        assert wal_pages > 300
