"""Statements as plain functions over a `sqlite3.Connection`, and the inline connection.

A query is written once, as a sync *body* `(conn) -> result`. `core._Core` runs it either at
once on the event loop's own connection (the fast path: a primary-key read or a small commit
takes microseconds, far less than one hop to aiosqlite's thread), or, when that connection
cannot take it without waiting, in aiosqlite's thread in one hop. See docs/architecture.md,
"Storage: two connections".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from bot.storage.records import StorageError

T = TypeVar("T")

Params = Mapping[str, Any]
Body = Callable[[sqlite3.Connection], T]


def one(conn: sqlite3.Connection, sql: str, params: Params | None = None) -> sqlite3.Row | None:
    """First row of `sql`. Every row is read, so the statement is finished (and its read
    snapshot let go) before the caller goes on: a RETURNING statement never blocks COMMIT and
    a checkpoint never waits for a half-read cursor."""
    rows = conn.execute(sql, params or {}).fetchall()
    return rows[0] if rows else None


def every(conn: sqlite3.Connection, sql: str, params: Params | None = None) -> list[sqlite3.Row]:
    return conn.execute(sql, params or {}).fetchall()


def run(conn: sqlite3.Connection, sql: str, params: Params | None = None) -> int:
    """Run a statement for its effect; return the number of rows it changed."""
    return conn.execute(sql, params or {}).rowcount


def rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction; SQLite may already have ended it after an error."""
    try:
        conn.execute("ROLLBACK")
    except sqlite3.OperationalError as error:
        if "no transaction is active" not in str(error):
            raise


def is_busy(error: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock ("database is locked", or "busy" while it recovers or
    checkpoints)."""
    text = str(error).lower()
    return "locked" in text or "busy" in text


def finish(conn: sqlite3.Connection, body: Body[T]) -> T:
    """Run `body` in the transaction just begun on `conn`, then commit; on any exception roll
    back, so nothing of it is written. COMMIT is inside the try: one that fails (a full disk)
    can leave the transaction open, and every later BEGIN would then fail."""
    try:
        result = body(conn)
        conn.execute("COMMIT")
    except BaseException:
        rollback(conn)
        raise
    return result


def transaction(
    conn: sqlite3.Connection, body: Body[T], busy_ms: tuple[int, int] | None = None
) -> T:
    """A whole write transaction, for aiosqlite's thread: `BEGIN IMMEDIATE` (waiting for another
    process's lock up to the connection's busy timeout), `body`, COMMIT. `busy_ms`, as
    `(wait, usual)`, waits `wait` instead and puts the usual timeout back afterwards."""
    if busy_ms is not None:
        conn.execute(f"PRAGMA busy_timeout = {busy_ms[0]:d}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        return finish(conn, body)
    finally:
        if busy_ms is not None:
            conn.execute(f"PRAGMA busy_timeout = {busy_ms[1]:d}")


def _pragma(conn: sqlite3.Connection, sql: str) -> Any:
    row = conn.execute(sql).fetchone()
    return None if row is None else row[0]


def open_inline(path: Path) -> sqlite3.Connection:
    """The event loop's own connection to the database at `path` (already created, migrated and
    configured for WAL by the aiosqlite connection), configured like it, except:

    - `busy_timeout = 0`: on the loop a wait would stop every other update, so a lock held by
      another process makes the caller go to aiosqlite's thread instead;
    - `synchronous = NORMAL`: a commit appends to the write-ahead log without an fsync, which
      would stop the loop for about a millisecond (tens on a slow disk). Committed data survives
      the process being killed; only a power cut can take the last commits, up to the next
      checkpoint or commit on the other connection (both sync the log). What must be on disk
      before Telegram is told (the inbox) commits on aiosqlite's thread instead;
    - `wal_autocheckpoint = 0`: a checkpoint copies pages and syncs the file, so it runs on
      aiosqlite's thread, see `_Core._after_inline_commit`.
    """
    # isolation_level=None: no implicit transactions; every one here is explicit.
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA busy_timeout = 0")
        if str(_pragma(conn, "PRAGMA journal_mode")).lower() != "wal":
            raise StorageError("the database is not in write-ahead logging mode")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        if _pragma(conn, "PRAGMA foreign_keys") != 1:
            raise StorageError("SQLite did not enable foreign keys")
        if _pragma(conn, "PRAGMA secure_delete") != 1:
            raise StorageError("SQLite did not enable secure_delete")
    except BaseException:
        conn.close()
        raise
    return conn
