"""All SQL of trygg: one aiosqlite connection and typed queries that return frozen dataclasses.

The rest of the bot never sees a row or a cursor. Keeping every statement in this module means a
reviewer can check in one place what is stored about people who are being threatened, and that
deleting it really deletes it.

Three rules hold throughout:
- Time comes in as an argument (`now`), never from the clock here, so tests and the scheduler
  decide what "now" is. Stored times are fixed-width ISO-8601 UTC strings, which compare in SQL
  in the same order as the moments they stand for.
- Every public method is one unit of work: it holds a lock over the single connection, so two
  coroutines never interleave statements inside each other's transaction.
- Deleted means gone from the file: `secure_delete` zeroes freed content, and `forget_user`
  checkpoints the write-ahead log so older copies of the pages do not linger there either.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import os
import stat
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.storage.migrations import migrate, rollback

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another process's write lock (a CLI command, a backup)."""

DB_FILE_MODE = 0o600
"""Owner-only: the file names who is a member of which organisation."""

_SIDE_FILES = ("-wal", "-shm", "-journal")

Params = Mapping[str, Any]


class StorageError(RuntimeError):
    """The database cannot be used as this module requires (a setting did not take effect)."""


class Role(enum.StrEnum):
    """What a membership allows; the values are stored, so they never change."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    NATIONAL = "national"


class InviteFailure(enum.Enum):
    """Why an invite code cannot be used, in the order they are checked.

    The order matters for what the user is told: a code that has both expired and run out of
    uses is reported as expired, which is the reason the person who invited them can act on
    (send a fresh link).
    """

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


@dataclass(frozen=True)
class User:
    """A person who has talked to the bot; the id is kept to send them reminders later."""

    user_id: int
    lang: str | None
    lang_chosen: bool
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    """A user's one organisation and role; `contact_id` ties a coordinator to a routine contact."""

    user_id: int
    org_id: str
    role: Role
    contact_id: str | None
    joined_at: datetime
    digest_enabled: bool


@dataclass(frozen=True)
class InviteRow:
    """A stored invite. Only the HMAC of the code is kept, never the code itself."""

    code_hash: str
    org_id: str
    role: Role
    contact_id: str | None
    uses_left: int | None
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Redemption:
    """A used invite and, if a user was given, the membership it created and the one it ended."""

    invite: InviteRow
    membership: Membership | None
    replaced: Membership | None


def to_db_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order in SQL is time order.

    A naive datetime is refused: guessing its zone is how an invite ends up expiring an hour
    early or late twice a year.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """The aware datetime stored by `to_db_time`."""
    return datetime.fromisoformat(text)


def invite_refusal(invite: InviteRow | None, now: datetime) -> InviteFailure | None:
    """Why `invite` cannot be used at `now`, or None if it can.

    Mirrors the WHERE clause of the redeeming UPDATE; both treat `expires_at == now` as expired.
    """
    if invite is None:
        return InviteFailure.UNKNOWN
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteFailure.EXPIRED
    if invite.uses_left is not None and invite.uses_left <= 0:
        return InviteFailure.USED_UP
    return None


# --- statements ------------------------------------------------------------------------------

_USER_COLUMNS = "user_id, lang, lang_chosen, created_at"
_MEMBERSHIP_COLUMNS = "user_id, org_id, role, contact_id, joined_at, digest_enabled"
_INVITE_COLUMNS = "code_hash, org_id, role, contact_id, uses_left, expires_at, created_at"

_ENSURE_USER = """
INSERT INTO users (user_id, lang, lang_chosen, created_at) VALUES (:user_id, NULL, 0, :now)
ON CONFLICT (user_id) DO NOTHING
"""

# A guessed language (from Telegram's language_code) never overrides one the user chose.
_SET_LANGUAGE = """
INSERT INTO users (user_id, lang, lang_chosen, created_at)
VALUES (:user_id, :lang, :chosen, :now)
ON CONFLICT (user_id) DO UPDATE SET lang = excluded.lang, lang_chosen = excluded.lang_chosen
WHERE excluded.lang_chosen = 1 OR users.lang_chosen = 0
"""

# An upsert rather than INSERT OR REPLACE: REPLACE deletes the old row first, which would fire
# ON DELETE CASCADE in tables that later reference memberships. The digest preference survives
# a new role in the same organisation; a new organisation starts with the default.
_JOIN = f"""
INSERT INTO memberships (user_id, org_id, role, contact_id, joined_at, digest_enabled)
VALUES (:user_id, :org_id, :role, :contact_id, :now, 1)
ON CONFLICT (user_id) DO UPDATE SET
    digest_enabled = CASE WHEN memberships.org_id = excluded.org_id
                          THEN memberships.digest_enabled ELSE 1 END,
    org_id = excluded.org_id,
    role = excluded.role,
    contact_id = excluded.contact_id,
    joined_at = excluded.joined_at
RETURNING {_MEMBERSHIP_COLUMNS}
"""

# One statement decides and consumes, so two people racing for the last use cannot both win,
# not even from two processes. NULL - 1 is NULL: unlimited stays unlimited.
_REDEEM_INVITE = f"""
UPDATE invites SET uses_left = uses_left - 1
WHERE code_hash = :code_hash
  AND (uses_left IS NULL OR uses_left > 0)
  AND (expires_at IS NULL OR expires_at > :now)
RETURNING {_INVITE_COLUMNS}
"""

_FORGET_USER: tuple[str, ...] = (
    # Every table that stores anything about a user is listed here, and only here. Children
    # first, so that the result does not depend on ON DELETE CASCADE being declared everywhere.
    # tests/test_storage.py fails if a table with a user_id column is missing from this list.
    "DELETE FROM memberships WHERE user_id = :user_id",
    "DELETE FROM users WHERE user_id = :user_id",
)


def _user(row: aiosqlite.Row) -> User:
    return User(
        user_id=int(row["user_id"]),
        lang=row["lang"],
        lang_chosen=bool(row["lang_chosen"]),
        created_at=from_db_time(row["created_at"]),
    )


def _membership(row: aiosqlite.Row) -> Membership:
    return Membership(
        user_id=int(row["user_id"]),
        org_id=row["org_id"],
        role=Role(row["role"]),
        contact_id=row["contact_id"],
        joined_at=from_db_time(row["joined_at"]),
        digest_enabled=bool(row["digest_enabled"]),
    )


def _invite(row: aiosqlite.Row) -> InviteRow:
    expires_at = row["expires_at"]
    return InviteRow(
        code_hash=row["code_hash"],
        org_id=row["org_id"],
        role=Role(row["role"]),
        contact_id=row["contact_id"],
        uses_left=row["uses_left"],
        expires_at=None if expires_at is None else from_db_time(expires_at),
        created_at=from_db_time(row["created_at"]),
    )


async def _one(conn: aiosqlite.Connection, sql: str, params: Params) -> aiosqlite.Row | None:
    """First row of `sql`; the cursor is closed so a RETURNING statement never blocks COMMIT."""
    async with conn.execute(sql, params) as cursor:
        return await cursor.fetchone()


async def _all(conn: aiosqlite.Connection, sql: str, params: Params) -> list[aiosqlite.Row]:
    async with conn.execute(sql, params) as cursor:
        return list(await cursor.fetchall())


async def _run(conn: aiosqlite.Connection, sql: str, params: Params | None = None) -> int:
    """Run a statement for its effect; return the number of rows it changed."""
    async with conn.execute(sql, params or {}) as cursor:
        return cursor.rowcount


async def _pragma(conn: aiosqlite.Connection, sql: str) -> Any:
    row = await _one(conn, sql, {})
    return None if row is None else row[0]


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


class Database:
    """The bot's one connection to its SQLite file. Create it with `await Database.open(path)`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path) -> None:
        self._conn = conn
        self.path = path
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path) -> Database:
        """Open (creating if needed) and migrate the database at `path`."""
        path = Path(path)
        _prepare_file(path)
        # isolation_level=None: no implicit transactions; every one here is explicit.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await _configure(conn)
            await migrate(conn)
        except BaseException:
            await conn.close()
            raise
        return cls(conn, path)

    async def close(self) -> None:
        """Close the connection; closing twice is harmless so shutdown paths need not track it."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
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
            except BaseException:
                await rollback(self._conn)
                raise
            await _run(self._conn, "COMMIT")

    async def schema_version(self) -> int:
        """`PRAGMA user_version`: the number of migrations applied."""
        async with self._read() as conn:
            return int(await _pragma(conn, "PRAGMA user_version"))

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

    # --- users -------------------------------------------------------------------------------

    async def get_user(self, user_id: int) -> User | None:
        """The user, or None if they never talked to the bot or were forgotten."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = :user_id",
                {"user_id": user_id},
            )
        return None if row is None else _user(row)

    async def set_language(self, user_id: int, lang: str, chosen: bool, now: datetime) -> User:
        """Record the user's language, creating the user if needed; return the stored user.

        `chosen=False` is a guess (Telegram's language_code) and never overrides a language the
        user picked themselves; `now` is only used as `created_at` of a new user.
        """
        params = {"user_id": user_id, "lang": lang, "chosen": int(chosen), "now": to_db_time(now)}
        async with self._write() as conn:
            await _run(conn, _SET_LANGUAGE, params)
            row = await _one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE user_id = :user_id",
                {"user_id": user_id},
            )
        assert row is not None  # just inserted or updated in this transaction
        return _user(row)

    async def forget_user(self, user_id: int) -> bool:
        """Delete the user and everything stored about them; return whether there was anything.

        Afterwards the write-ahead log is checkpointed, so with `secure_delete` the deleted
        content is overwritten in the file rather than only unlinked from the tree.
        """
        params = {"user_id": user_id}
        async with self._write() as conn:
            changed = 0
            for statement in _FORGET_USER:
                changed += await _run(conn, statement, params)
        async with self._read() as conn:
            await self._checkpoint(conn)
        return changed > 0

    # --- memberships -------------------------------------------------------------------------

    async def get_membership(self, user_id: int) -> Membership | None:
        """The user's organisation and role, or None if they have joined none."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE user_id = :user_id",
                {"user_id": user_id},
            )
        return None if row is None else _membership(row)

    async def join(
        self,
        user_id: int,
        org_id: str,
        role: Role,
        contact_id: str | None,
        now: datetime,
    ) -> Membership:
        """Make the user a member of `org_id`, replacing any earlier membership (one per user)."""
        async with self._write() as conn:
            membership, _ = await self._join(conn, user_id, org_id, role, contact_id, now)
        return membership

    async def _join(
        self,
        conn: aiosqlite.Connection,
        user_id: int,
        org_id: str,
        role: Role,
        contact_id: str | None,
        now: datetime,
    ) -> tuple[Membership, Membership | None]:
        """Inside a write transaction: upsert the user and membership; return (new, replaced)."""
        stamp = to_db_time(now)
        await _run(conn, _ENSURE_USER, {"user_id": user_id, "now": stamp})
        before = await _one(
            conn,
            f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE user_id = :user_id",
            {"user_id": user_id},
        )
        row = await _one(
            conn,
            _JOIN,
            {
                "user_id": user_id,
                "org_id": org_id,
                "role": Role(role).value,
                "contact_id": contact_id,
                "now": stamp,
            },
        )
        assert row is not None  # an upsert with RETURNING always returns its row
        return _membership(row), None if before is None else _membership(before)

    async def members_of(self, org_id: str, role: Role | None = None) -> list[Membership]:
        """Everyone in `org_id` (or only those with `role`), earliest joined first."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships"
                " WHERE org_id = :org_id AND (:role IS NULL OR role = :role)"
                " ORDER BY joined_at, user_id",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
        return [_membership(row) for row in rows]

    async def coordinators_for_contact(self, org_id: str, contact_id: str) -> list[Membership]:
        """The coordinators who answer for routine contact `contact_id` of `org_id`."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships"
                " WHERE org_id = :org_id AND role = :role AND contact_id = :contact_id"
                " ORDER BY joined_at, user_id",
                {"org_id": org_id, "role": Role.COORDINATOR.value, "contact_id": contact_id},
            )
        return [_membership(row) for row in rows]

    async def count_members(self, org_id: str, role: Role | None = None) -> int:
        """How many users belong to `org_id` (or have `role` there)."""
        async with self._read() as conn:
            count = await _one(
                conn,
                "SELECT COUNT(*) FROM memberships"
                " WHERE org_id = :org_id AND (:role IS NULL OR role = :role)",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
        assert count is not None
        return int(count[0])

    # --- invites -----------------------------------------------------------------------------

    async def add_invite(
        self,
        code_hash: str,
        org_id: str,
        role: Role,
        contact_id: str | None,
        uses_left: int | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> InviteRow:
        """Store an invite under the hash of its code; `uses_left=None` means unlimited."""
        async with self._write() as conn:
            row = await _one(
                conn,
                f"INSERT INTO invites ({_INVITE_COLUMNS})"
                " VALUES (:code_hash, :org_id, :role, :contact_id, :uses_left, :expires_at, :now)"
                f" RETURNING {_INVITE_COLUMNS}",
                {
                    "code_hash": code_hash,
                    "org_id": org_id,
                    "role": Role(role).value,
                    "contact_id": contact_id,
                    "uses_left": uses_left,
                    "expires_at": None if expires_at is None else to_db_time(expires_at),
                    "now": to_db_time(now),
                },
            )
        assert row is not None
        return _invite(row)

    async def peek_invite(self, code_hash: str) -> InviteRow | None:
        """The invite as stored, without using it (to ask before switching organisation)."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = :code_hash",
                {"code_hash": code_hash},
            )
        return None if row is None else _invite(row)

    async def redeem_invite(
        self, code_hash: str, now: datetime, user_id: int | None = None
    ) -> Redemption | InviteFailure:
        """Take one use of the invite and, given `user_id`, make them a member, atomically.

        The decrement is a single conditional UPDATE, so concurrent redemptions of the last use
        give exactly one winner, even across processes. With `user_id` the membership is written
        in the same transaction, so a use is never spent without a membership to show for it
        (without it, the caller joins afterwards and a crash in between wastes a use). On failure
        nothing changes, and the invite is read again to say why: unknown, expired or used up.
        """
        stamp = to_db_time(now)
        async with self._write() as conn:
            row = await _one(conn, _REDEEM_INVITE, {"code_hash": code_hash, "now": stamp})
            if row is None:
                current = await _one(
                    conn,
                    f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = :code_hash",
                    {"code_hash": code_hash},
                )
                refusal = invite_refusal(None if current is None else _invite(current), now)
                if refusal is None:  # the UPDATE and invite_refusal disagree: a bug, say so
                    raise StorageError(f"invite {code_hash[:8]}… is valid but was not redeemed")
                return refusal
            invite = _invite(row)
            if user_id is None:
                return Redemption(invite=invite, membership=None, replaced=None)
            membership, replaced = await self._join(
                conn, user_id, invite.org_id, invite.role, invite.contact_id, now
            )
        return Redemption(invite=invite, membership=membership, replaced=replaced)
