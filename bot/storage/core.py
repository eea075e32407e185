"""The core of storage: the two connections, opening and migrating, transactions, keys.

Every query module (`members`, `reports`, `outbox`, `reminders`, `inbox`, `stats`) is a mixin
on `_Core`: it writes each query as a sync body over a `sqlite3.Connection` and runs it with
`_query` (a read) or `_transact` (one write transaction), inline on the loop's own connection
or in one hop to aiosqlite's thread (docs/architecture.md, "Storage: two connections"); rare
long reads still use aiosqlite's connection through `_read`/`_write`. Members are found by
`_key`. `bot.storage.db.Database` puts them together.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import aiosqlite

from bot.crypto import KEY_SIZE, Sealer, SealError
from bot.storage.inline import Body, finish, is_busy, open_inline, transaction
from bot.storage.migrations import migrate, rollback
from bot.storage.records import StorageError

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a statement on aiosqlite's thread waits for another process's write lock (a CLI
command, a backup)."""

INBOX_BUSY_MS = 200
"""The longest an update waits to be stored in the inbox while another process holds the lock."""

INLINE_COMMITS_PER_CHECKPOINT = 256
"""Commits on the inline connection (which never checkpoints itself) between two PASSIVE
checkpoints on aiosqlite's thread: a few pages each, about SQLite's default of 1,000 pages."""

DB_FILE_MODE = 0o600
"""Owner-only: the file names who is a member of which organisation."""

_SIDE_FILES = ("-wal", "-shm", "-journal")

Params = Mapping[str, Any]

T = TypeVar("T")


def to_db_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order in SQL is time order.

    A naive datetime is refused: guessing its zone is how an invite ends up expiring an hour
    early or late twice a year.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_db_day(moment: datetime) -> str:
    """The day of `moment` (UTC) in the format of `to_db_time`: midnight of that day.

    For what must not be dated finer than a day (a report, a link, a draft's last change).
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return day.isoformat(timespec="microseconds")


def to_db_month(moment: datetime) -> str:
    """The first of the month of `moment` (UTC) in the format of `to_db_time`.

    For when someone became a user or a member: a month cannot date a report.
    """
    day = datetime.fromisoformat(to_db_day(moment))
    return day.replace(day=1).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """The aware datetime stored by `to_db_time`."""
    return datetime.fromisoformat(text)


_MEMBERSHIP_COLUMNS = "member_key, org_id, role, contact_id, joined_at, digest_enabled"

COORDINATOR_PENDING_PREFIX = "c:"
"""`pending_inputs` keys of a coordinator are this prefix and their user id (coordinators act in
their own name); storage keeps the prefix and the member key instead of the id. A reporter's
key holds only their owner tag, see `forget_owner`."""

_COORDINATOR_PENDING = re.compile(re.escape(COORDINATOR_PENDING_PREFIX) + r"(-?\d+)")


def _opt_time(text: str | None) -> datetime | None:
    return None if text is None else from_db_time(text)


def _opt_db_time(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_time(moment)


def _opt_db_day(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_day(moment)


async def _one(conn: aiosqlite.Connection, sql: str, params: Params) -> aiosqlite.Row | None:
    """First row of `sql`, read whole in one round trip to the database thread.

    Reading every row also completes a RETURNING statement, so it never blocks COMMIT.
    """
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def _all(conn: aiosqlite.Connection, sql: str, params: Params) -> list[aiosqlite.Row]:
    return list(await conn.execute_fetchall(sql, params))


async def _run(conn: aiosqlite.Connection, sql: str, params: Params | None = None) -> int:
    """Run a statement for its effect; return the number of rows it changed."""
    async with conn.execute(sql, params or {}) as cursor:
        return cursor.rowcount


async def _pragma(conn: aiosqlite.Connection, sql: str) -> Any:
    row = await _one(conn, sql, {})
    return None if row is None else row[0]


async def _in_worker(conn: aiosqlite.Connection, fn: Callable[..., T], *args: Any) -> T:
    """`fn(sqlite3 connection, *args)` on aiosqlite's thread, in ONE hop.

    The one place that uses aiosqlite's private API: it offers no public way to run a function
    on its thread (`Connection._execute`) nor to reach the sqlite3 connection there (`_conn`).
    pyproject.toml pins aiosqlite below the next minor version, and tests/test_storage_inline.py
    fails if either disappears.
    """
    raw: sqlite3.Connection = conn._conn
    result: T = await conn._execute(fn, raw, *args)  # type: ignore[no-untyped-call]
    return result


def _passive_checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _prepare_file(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it, and tighten an existing one.

    SQLite creates its -wal and -shm files with the mode of the main file, so getting the main
    file right covers them; side files left by an older, looser setup are tightened too.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, DB_FILE_MODE)
    os.close(fd)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in _SIDE_FILES)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & ~DB_FILE_MODE:
            candidate.chmod(DB_FILE_MODE)
            log.warning(
                "tightened permissions of %s from %03o to %03o", candidate, mode, DB_FILE_MODE
            )


async def _configure(conn: aiosqlite.Connection) -> None:
    """Connection settings, each checked: SQLite ignores some pragmas silently."""
    await _run(conn, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    journal_mode = await _pragma(conn, "PRAGMA journal_mode = WAL")
    if str(journal_mode).lower() != "wal":
        raise StorageError(
            f"SQLite refused write-ahead logging (journal_mode is {journal_mode!r}); "
            "put the data directory on a local file system"
        )
    await _run(conn, "PRAGMA foreign_keys = ON")
    await _run(conn, "PRAGMA secure_delete = ON")
    if await _pragma(conn, "PRAGMA foreign_keys") != 1:
        raise StorageError("SQLite did not enable foreign keys")
    if await _pragma(conn, "PRAGMA secure_delete") != 1:
        raise StorageError("SQLite did not enable secure_delete")


_PROCESS_SEALER: list[Sealer] = []


def _process_sealer() -> Sealer:
    """A key that lives as long as this process: for a `Database` opened without the real one."""
    if not _PROCESS_SEALER:
        _PROCESS_SEALER.append(Sealer(os.urandom(KEY_SIZE)))
    return _PROCESS_SEALER[0]


# Children first: legacy_memberships refers to legacy_users.
_LEGACY_TABLES = (
    "legacy_memberships",
    "legacy_users",
    "legacy_drafts",
    "legacy_outbox",
    "legacy_blocked_chats",
)


async def _convert_legacy(conn: aiosqlite.Connection, sealer: Sealer | None) -> bool:
    """Finish migration 5 (schema v5): move the rows of the `legacy_*` tables, which hold
    Telegram ids in clear, into the keyed tables, then empty and drop them, in ONE transaction.

    Without the secret key the rows cannot be converted: they are left for the bot (which opens
    with the key) and False is returned; tables without rows are dropped either way. True if
    anything was converted or dropped (the caller then rebuilds and checkpoints the file).
    """
    names = {
        row[0]
        for row in await _all(
            conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'legacy%'", {}
        )
    }
    present = [name for name in _LEGACY_TABLES if name in names]
    if not present:
        return False
    await _run(conn, "BEGIN IMMEDIATE")
    try:
        counts = [await _one(conn, f"SELECT COUNT(*) FROM {name}", {}) for name in present]
        if any(row is not None and row[0] for row in counts) and sealer is None:
            await rollback(conn)
            log.warning("the database holds user ids of an older version: start the bot to convert")
            return False
        if sealer is not None:
            await _convert_legacy_rows(conn, sealer, present)
        for name in present:
            await _run(conn, f"DELETE FROM {name}")
            await _run(conn, f"DROP TABLE {name}")
        await _run(conn, "COMMIT")
    except BaseException:
        await rollback(conn)
        raise
    # The old pages held ids in clear: rebuild the file so no free page keeps them.
    await _run(conn, "VACUUM")
    return True


async def _convert_legacy_rows(
    conn: aiosqlite.Connection, sealer: Sealer, present: Sequence[str]
) -> None:
    """Inside the transaction of `_convert_legacy`: every user, membership, draft, queued message
    to a member, blocked flag and coordinator's pending input, under keys instead of ids."""
    if "legacy_users" in present:
        for row in await _all(conn, "SELECT * FROM legacy_users", {}):
            user_id = int(row["user_id"])
            await _run(
                conn,
                "INSERT INTO users (member_key, chat_sealed, lang, lang_chosen, created_at)"
                " VALUES (:member_key, :chat_sealed, :lang, :chosen, :month)",
                {
                    "member_key": sealer.member_key(user_id),
                    "chat_sealed": sealer.seal_chat(user_id),
                    "lang": row["lang"],
                    "chosen": row["lang_chosen"],
                    "month": to_db_month(from_db_time(row["created_at"])),
                },
            )
    if "legacy_memberships" in present:
        for row in await _all(conn, "SELECT * FROM legacy_memberships", {}):
            await _run(
                conn,
                f"INSERT INTO memberships ({_MEMBERSHIP_COLUMNS})"
                " VALUES (:member_key, :org_id, :role, :contact_id, :month, :digest)",
                {
                    "member_key": sealer.member_key(int(row["user_id"])),
                    "org_id": row["org_id"],
                    "role": row["role"],
                    "contact_id": row["contact_id"],
                    "month": to_db_month(from_db_time(row["joined_at"])),
                    "digest": row["digest_enabled"],
                },
            )
    if "legacy_drafts" in present:
        for row in await _all(conn, "SELECT * FROM legacy_drafts", {}):
            await _run(
                conn,
                "INSERT INTO drafts (member_key, org_id, step, data, updated_at)"
                " VALUES (:member_key, :org_id, :step, :data, :day)",
                {
                    "member_key": sealer.member_key(int(row["user_id"])),
                    "org_id": row["org_id"],
                    "step": row["step"],
                    "data": row["data"],
                    "day": to_db_day(from_db_time(row["updated_at"])),
                },
            )
    if "legacy_blocked_chats" in present:
        for row in await _all(conn, "SELECT * FROM legacy_blocked_chats", {}):
            await _run(
                conn,
                "UPDATE users SET blocked_on = :day WHERE member_key = :member_key",
                {
                    "member_key": sealer.member_key(int(row["chat_id"])),
                    "day": to_db_day(from_db_time(row["since"])),
                },
            )
    if "legacy_outbox" in present:
        # Messages to reporters moved in SQL already; these are to members' chats.
        for row in await _all(conn, "SELECT * FROM legacy_outbox", {}):
            chat_id = int(row["chat_id"])
            key = sealer.member_key(chat_id)
            plain = str(chat_id)
            await _run(
                conn,
                "INSERT INTO outbox (id, dedupe, member_key, chat_sealed, report_id, payload,"
                " urgent, attempts, next_attempt_at, created_at, sent_at, dead_reason)"
                " VALUES (:id, :dedupe, :member_key, :chat_sealed, :report_id, :payload, :urgent,"
                " :attempts, :next_attempt_at, :created_at, :sent_at, :dead_reason)",
                {
                    "id": row["id"],
                    "dedupe": ":".join(key if p == plain else p for p in row["dedupe"].split(":")),
                    "member_key": key,
                    "chat_sealed": sealer.seal_chat(chat_id),
                    "report_id": row["report_id"],
                    "payload": row["payload"],
                    "urgent": row["urgent"],
                    "attempts": row["attempts"],
                    "next_attempt_at": row["next_attempt_at"],
                    "created_at": row["created_at"],
                    "sent_at": row["sent_at"],
                    "dead_reason": row["dead_reason"],
                },
            )
    for row in await _all(conn, "SELECT key FROM pending_inputs", {}):
        match = _COORDINATOR_PENDING.fullmatch(row["key"])
        if match is not None:
            await _run(
                conn,
                "UPDATE pending_inputs SET key = :new WHERE key = :old",
                {
                    "old": row["key"],
                    "new": COORDINATOR_PENDING_PREFIX + sealer.member_key(int(match.group(1))),
                },
            )


async def _check_key(conn: aiosqlite.Connection, sealer: Sealer) -> None:
    """Refuse a key that did not seal what is stored: every member would be lost to it."""
    row = await _one(conn, "SELECT chat_sealed FROM users LIMIT 1", {})
    if row is None:
        return
    try:
        sealer.unseal_chat(bytes(row["chat_sealed"]))
    except SealError:
        raise StorageError(
            "the database was written with another secret key: its members cannot be found "
            "with this one; restore the key that belongs to this database"
        ) from None


class _Core:
    """The connection and what every group of queries shares. Create a `Database` with
    `await Database.open(path)`; this class alone has no queries."""

    def __init__(
        self, conn: aiosqlite.Connection, inline: sqlite3.Connection, path: Path, sealer: Sealer
    ) -> None:
        self._conn = conn
        self._inline = inline
        self.path = path
        self._sealer = sealer
        # Held by a coroutine while it uses aiosqlite's connection; while it is free nothing is
        # under way there, so a body can run inline (see `_query`, `_transact`).
        self._lock = asyncio.Lock()
        self._inline_commits = 0
        self._closed = False

    @classmethod
    async def open(cls, path: Path, sealer: Sealer | None = None) -> Self:
        """Open (creating if needed) and migrate the database at `path`.

        `sealer` holds the data directory's secret key: users are stored under keyed hashes of
        their ids and their chats sealed with it. Without one (tests, tools that never touch
        users) a key made for this process is used, and ids stored under it are not found
        again by another process; tables of an older schema that still hold ids are then left
        for the bot to convert with the real key.
        """
        path = Path(path)
        _prepare_file(path)
        # isolation_level=None: no implicit transactions; every one here is explicit.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await _configure(conn)
            await migrate(conn)
            converted = await _convert_legacy(conn, sealer)
            if sealer is not None:
                await _check_key(conn, sealer)
            inline = open_inline(path)
        except BaseException:
            await conn.close()
            raise
        db = cls(conn, inline, path, sealer or _process_sealer())
        if converted:
            await db.checkpoint()
        return db

    async def close(self) -> None:
        """Close the connection; closing twice is harmless so shutdown paths need not track it."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            self._inline.close()
            await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing ----------------------------------------------------------------------------

    async def _query(self, body: Body[T]) -> T:
        """Run the read `body` and return what it returns.

        Inline, on the loop's own connection, when no other coroutine is using aiosqlite's (so
        none is halfway through a transaction this one should wait for): no await, so nothing
        can come in between. A read sees the file as it is, including what another process
        (`trygg revoke`) committed a moment ago: there is no cache to go stale. Otherwise, or
        if another connection's lock stops it at once, in one hop to aiosqlite's thread.
        A body must only read: after a busy error it runs again from the start.
        """
        if not self._lock.locked():
            try:
                return body(self._inline)
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
        async with self._lock:
            return await _in_worker(self._conn, body)

    async def _transact(
        self, body: Body[T], *, off_loop: bool = False, busy_ms: int | None = None
    ) -> T:
        """Run `body` in ONE write transaction and return what it returns; on any exception it
        is rolled back and nothing of it is written.

        Inline when no other coroutine is using aiosqlite's connection and `BEGIN IMMEDIATE`
        gets the write lock at once: the whole transaction then runs without an await, so no
        other coroutine can interleave. If another process holds the lock, the transaction
        goes to aiosqlite's thread, in one hop, and waits there (`BUSY_TIMEOUT_MS`, or
        `busy_ms`) without stopping the loop. `off_loop` sends it there always: for a commit
        that must be synced to disk before this returns (aiosqlite's connection syncs every
        commit, the inline one does not, see `inline.open_inline`), or a statement big enough
        to hold up every other update.
        """
        if not off_loop and not self._lock.locked():
            try:
                self._inline.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if not is_busy(error):
                    raise
            else:
                result = finish(self._inline, body)
                await self._after_inline_commit()
                return result
        wait = None if busy_ms is None else (busy_ms, BUSY_TIMEOUT_MS)
        async with self._lock:
            return await _in_worker(self._conn, transaction, body, wait)

    async def _after_inline_commit(self) -> None:
        """Checkpoint now and then on aiosqlite's thread, since the inline connection never does
        (a checkpoint copies pages into the file and syncs it: too long for the loop)."""
        self._inline_commits += 1
        if self._inline_commits < INLINE_COMMITS_PER_CHECKPOINT:
            return
        self._inline_commits = 0
        async with self._lock:
            try:
                await _in_worker(self._conn, _passive_checkpoint)
            except sqlite3.Error as error:
                # The caller's transaction is committed: it must not look failed (and be done
                # again) because the tidying after it was. The next one tries again.
                log.warning(
                    "passive WAL checkpoint of %s failed: %s", self.path, type(error).__name__
                )

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, while no transaction of another coroutine is open on it."""
        async with self._lock:
            yield self._conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; IMMEDIATE takes the write lock up front, so it cannot deadlock
        against another process halfway through."""
        async with self._lock:
            try:
                await _run(self._conn, "BEGIN IMMEDIATE")
                yield self._conn
                # Inside the try: a COMMIT that fails (a full disk, a deferred constraint) can
                # leave the transaction open, and every later BEGIN would then fail.
                await _run(self._conn, "COMMIT")
            except BaseException:
                await rollback(self._conn)
                raise

    async def schema_version(self) -> int:
        """`PRAGMA user_version`: the number of migrations applied."""
        async with self._read() as conn:
            return int(await _pragma(conn, "PRAGMA user_version"))

    async def key_check(self, value: str) -> str:
        """The stored check value of the secret key; `value` is stored first if there is none."""
        async with self._write() as conn:
            await _run(
                conn, "INSERT OR IGNORE INTO key_check (id, value) VALUES (1, :v)", {"v": value}
            )
            row = await _one(conn, "SELECT value FROM key_check WHERE id = 1", {})
        return str(row[0]) if row is not None else value

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the main file and truncate it.

        Returns False if another connection's reader kept part of the log in use, in which case
        old page images may remain in the -wal file until the next checkpoint.
        """
        async with self._read() as conn:
            return await self._checkpoint(conn)

    async def _checkpoint(self, conn: aiosqlite.Connection) -> bool:
        row = await _one(conn, "PRAGMA wal_checkpoint(TRUNCATE)", {})
        complete = row is not None and row[0] == 0
        if not complete:
            log.warning("WAL checkpoint of %s was incomplete: another reader is active", self.path)
        return complete

    def _key(self, user_id: int) -> str:
        return self._sealer.member_key(user_id)

    def _pending_key(self, key: str) -> str:
        """A coordinator's pending-input key with their member key instead of their id."""
        match = _COORDINATOR_PENDING.fullmatch(key)
        if match is None:
            return key
        return COORDINATOR_PENDING_PREFIX + self._key(int(match.group(1)))

    def _chat_of(self, row: aiosqlite.Row) -> int:
        return self._sealer.unseal_chat(bytes(row["chat_sealed"]))

    async def vacuum(self) -> None:
        """Rebuild the database file from its live content, then checkpoint the log."""
        async with self._read() as conn:
            await _run(conn, "VACUUM")
            await self._checkpoint(conn)
