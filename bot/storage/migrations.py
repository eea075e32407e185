"""Schema migrations, applied in order and counted by `PRAGMA user_version`.

`MIGRATIONS[n]` turns a database at version `n` into one at version `n + 1`. The list only grows:
a migration that has shipped is never edited, because databases in the field already ran it. Each
migration runs in one `BEGIN IMMEDIATE` transaction together with the bump of `user_version`, so a
crash or an error leaves the database at the version before, never half migrated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import aiosqlite

# Version 1: users, their single membership and invite codes (the contact feature).
# STRICT tables refuse values of the wrong type, so a bug shows up as an error, not as a text
# "1" that compares unequal to the integer 1 months later.
_V1 = """
CREATE TABLE users (
    user_id     INTEGER PRIMARY KEY,  -- the Telegram user id: needed to send reminders later
    lang        TEXT,
    lang_chosen INTEGER NOT NULL DEFAULT 0 CHECK (lang_chosen IN (0, 1)),
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    user_id        INTEGER PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('member', 'coordinator', 'national')),
    contact_id     TEXT,
    joined_at      TEXT NOT NULL,
    digest_enabled INTEGER NOT NULL DEFAULT 1 CHECK (digest_enabled IN (0, 1))
) STRICT;

CREATE INDEX memberships_by_org ON memberships (org_id, role, contact_id);

-- code_hash is an HMAC of the code: the plain code, which is a credential, is never stored.
CREATE TABLE invites (
    code_hash  TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('member', 'coordinator', 'national')),
    contact_id TEXT,
    uses_left  INTEGER CHECK (uses_left IS NULL OR uses_left >= 0),  -- NULL: unlimited
    expires_at TEXT,                                                  -- NULL: never
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"""

MIGRATIONS: tuple[str, ...] = (_V1,)
"""Ordered migration scripts; the schema version of the code is `len(MIGRATIONS)`."""


class MigrationError(RuntimeError):
    """The database cannot be brought to the schema this code expects."""


def split_statements(script: str) -> list[str]:
    """Split a script into complete statements.

    `executescript` would be simpler, but in Python 3.11 it commits any open transaction first,
    which would let a migration run outside the transaction that also bumps the version.
    `sqlite3.complete_statement` knows about strings, comments and trigger bodies, so a `;`
    inside them does not cut a statement short.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):  # skip the empty statement after the last `;`
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise MigrationError(f"unterminated string or trigger in a migration: {buffer!r}")
    return statements


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The version the database file says it is at."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None  # PRAGMA user_version always answers
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Apply the migrations the database has not run yet; return the resulting version.

    The connection must be in autocommit mode (`isolation_level=None`) so that the transactions
    here are the only ones. The version is read again after `BEGIN IMMEDIATE` has taken the write
    lock: if another process migrated in the meantime, its work is not repeated.
    """
    target = len(migrations)
    version = await schema_version(conn)
    if version > target:
        raise MigrationError(
            f"the database is at schema version {version}, but this version of the bot only "
            f"knows {target}: run a newer version of the bot, or restore a backup made by this one"
        )
    while version < target:
        try:
            await _run(conn, "BEGIN IMMEDIATE")
            version = await schema_version(conn)
            if version < target:
                for statement in split_statements(migrations[version]):
                    await _run(conn, statement)
                version += 1
                # PRAGMA takes no parameters; `version` is an int we computed, never input.
                await _run(conn, f"PRAGMA user_version = {version:d}")
        except BaseException:
            await rollback(conn)
            raise
        await _run(conn, "COMMIT")
    return version


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back whatever transaction is open, once the statements already queued have run.

    A cancelled caller stops waiting, but its statements (even its BEGIN) still run on the
    connection's thread, and some errors end the transaction inside SQLite. `in_transaction`
    cannot be trusted at that moment, so ROLLBACK is queued behind them unconditionally and
    "no transaction is active" is not an error here.
    """
    try:
        await _run(conn, "ROLLBACK")
    except sqlite3.OperationalError as error:
        if "no transaction is active" not in str(error):
            raise


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    async with conn.execute(sql):
        pass
