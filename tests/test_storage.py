"""Storage: migrations, connection settings, file permissions, memberships and forgetting a user.

SQLite is inspected here with a separate stdlib connection where the point is to see what is
really in the file, independent of the module under test.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.storage import (
    MIGRATIONS,
    Database,
    MigrationError,
    Role,
    migrate,
    schema_version,
    split_statements,
    to_db_time,
)
from bot.storage.members import _FORGET_USER

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
LATER = NOW + timedelta(days=1)
MONTH = datetime(2025, 3, 1, tzinfo=UTC)  # when a user came or joined is kept as the month


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trygg.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(db_path) as database:
        yield database


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain stdlib connection to look at the file as it is."""
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def umask(mask: int) -> Iterator[None]:
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def create_with_mode(path: Path, mode: int) -> None:
    path.touch()
    path.chmod(mode)


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def file_bytes(db_path: Path) -> bytes:
    """The main file and its write-ahead log, where deleted data could still linger."""
    wal = db_path.with_name(db_path.name + "-wal")
    return db_path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


def tables(conn: sqlite3.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).fetchall()
    return [name for (name,) in rows]


# --- migrations -------------------------------------------------------------------------------


async def test_migrates_an_empty_file_to_the_latest_version(db: Database, db_path: Path) -> None:
    assert await db.schema_version() == len(MIGRATIONS)
    with raw(db_path) as conn:
        assert {"users", "memberships", "invites"} <= set(tables(conn))


async def test_reopening_is_idempotent_and_keeps_data(db_path: Path) -> None:
    async with await Database.open(db_path) as db:
        await db.join(1, "vara", Role.MEMBER, None, NOW)
    async with await Database.open(db_path) as db:
        assert await db.schema_version() == len(MIGRATIONS)
        membership = await db.get_membership(1)
    assert membership is not None
    assert membership.org_id == "vara"


async def test_a_database_newer_than_the_code_is_refused(db_path: Path) -> None:
    with raw(db_path) as conn:
        conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(MigrationError, match="newer version of the bot"):
        await Database.open(db_path)


async def test_a_failing_migration_leaves_the_previous_version(db_path: Path) -> None:
    migrations = [
        "CREATE TABLE a (x INTEGER);",
        "CREATE TABLE b (y INTEGER); INSERT INTO missing VALUES (1);",
    ]
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        with pytest.raises(sqlite3.OperationalError, match="missing"):
            await migrate(conn, migrations)
        assert await schema_version(conn) == 1
        assert not conn.in_transaction
    with raw(db_path) as check:
        assert tables(check) == ["a"]


async def test_migrations_resume_where_the_file_stopped(db_path: Path) -> None:
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, ["CREATE TABLE a (x INTEGER);"]) == 1
        two = ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (y INTEGER);"]
        assert await migrate(conn, two) == 2
        assert await migrate(conn, two) == 2


def test_statements_split_on_semicolons_outside_strings_and_triggers() -> None:
    script = """
    CREATE TABLE t (x TEXT);
    INSERT INTO t VALUES ('a;b');
    CREATE TRIGGER tr AFTER INSERT ON t BEGIN
        UPDATE t SET x = 'c'; DELETE FROM t WHERE x = 'd';
    END;
    """
    statements = split_statements(script)
    assert len(statements) == 3
    assert statements[1] == "INSERT INTO t VALUES ('a;b');"
    assert statements[2].startswith("CREATE TRIGGER") and statements[2].endswith("END;")


def test_an_unterminated_trigger_is_an_error() -> None:
    with pytest.raises(MigrationError, match="unterminated"):
        split_statements("CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET x = 'c';")


# --- connection and file ----------------------------------------------------------------------


async def test_connection_settings(db: Database, db_path: Path) -> None:
    conn = db._conn
    async with conn.execute("PRAGMA journal_mode") as cursor:
        assert (await cursor.fetchone())[0] == "wal"  # type: ignore[index]
    for pragma, expected in [("foreign_keys", 1), ("secure_delete", 1), ("busy_timeout", 5000)]:
        async with conn.execute(f"PRAGMA {pragma}") as cursor:
            assert (await cursor.fetchone())[0] == expected, pragma  # type: ignore[index]
    with raw(db_path) as other:  # WAL is a property of the file, seen by every connection
        assert other.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_files_are_owner_only_whatever_the_umask(db_path: Path) -> None:
    with umask(0):
        async with await Database.open(db_path) as db:
            await db.join(1, "vara", Role.MEMBER, None, NOW)
            wal = db_path.with_name(db_path.name + "-wal")
            assert wal.exists()
            assert mode_of(db_path) == 0o600
            assert mode_of(wal) == 0o600


async def test_a_loose_existing_file_is_tightened(
    db_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    create_with_mode(db_path, 0o644)
    async with await Database.open(db_path):
        pass
    assert mode_of(db_path) == 0o600
    assert "tightened permissions" in caplog.text


async def test_closing_twice_is_harmless(db_path: Path) -> None:
    db = await Database.open(db_path)
    await db.close()
    await db.close()


async def test_naive_times_are_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="naive"):
        await db.join(1, "vara", Role.MEMBER, None, datetime(2025, 3, 1, 9, 0))


def test_stored_times_sort_like_the_moments() -> None:
    stockholm_noon = datetime.fromisoformat("2025-03-01T12:00:00+01:00")
    utc_half_past_eleven = datetime(2025, 3, 1, 11, 30, tzinfo=UTC)
    assert stockholm_noon < utc_half_past_eleven
    assert to_db_time(stockholm_noon) < to_db_time(utc_half_past_eleven)


# --- users and memberships --------------------------------------------------------------------


async def test_a_guessed_language_never_overrides_a_chosen_one(db: Database) -> None:
    guessed = await db.set_language(7, "en", chosen=False, now=NOW)
    assert (guessed.lang, guessed.lang_chosen, guessed.created_at) == ("en", False, MONTH)
    chosen = await db.set_language(7, "sv", chosen=True, now=LATER)
    assert (chosen.lang, chosen.lang_chosen, chosen.created_at) == ("sv", True, MONTH)
    again = await db.set_language(7, "en", chosen=False, now=LATER)
    assert (again.lang, again.lang_chosen) == ("sv", True)
    assert await db.get_user(7) == again
    assert await db.get_user(8) is None


async def test_join_creates_the_user(db: Database) -> None:
    membership = await db.join(5, "vara", Role.COORDINATOR, "samordnare", NOW)
    assert membership.org_id == "vara"
    assert membership.role is Role.COORDINATOR
    assert membership.contact_id == "samordnare"
    assert membership.joined_at == MONTH
    assert membership.digest_enabled
    user = await db.get_user(5)
    assert user is not None
    assert user.lang is None
    assert await db.get_membership(5) == membership


async def test_join_replaces_the_earlier_membership(db: Database) -> None:
    await db.join(5, "vara", Role.MEMBER, None, NOW)
    await db.join(5, "lund", Role.COORDINATOR, "tib", LATER)
    membership = await db.get_membership(5)
    assert membership is not None
    assert (membership.org_id, membership.role, membership.contact_id) == (
        "lund",
        Role.COORDINATOR,
        "tib",
    )
    assert membership.joined_at == MONTH
    assert await db.members_of("vara") == []
    assert await db.count_members("lund") == 1


async def test_digest_choice_survives_a_new_role_but_not_a_new_organisation(
    db: Database, db_path: Path
) -> None:
    await db.join(5, "vara", Role.MEMBER, None, NOW)
    with raw(db_path) as conn, conn:
        conn.execute("UPDATE memberships SET digest_enabled = 0")
    same_org = await db.join(5, "vara", Role.COORDINATOR, "samordnare", LATER)
    assert not same_org.digest_enabled
    other_org = await db.join(5, "lund", Role.MEMBER, None, LATER)
    assert other_org.digest_enabled


async def test_members_coordinators_and_counts(db: Database) -> None:
    await db.join(1, "vara", Role.MEMBER, None, NOW)
    await db.join(2, "vara", Role.COORDINATOR, "samordnare", NOW + timedelta(minutes=1))
    await db.join(3, "vara", Role.COORDINATOR, "tib", NOW + timedelta(minutes=2))
    await db.join(4, "vara", Role.COORDINATOR, "samordnare", NOW + timedelta(minutes=3))
    await db.join(5, "lund", Role.COORDINATOR, "samordnare", NOW)

    # Joined the same month: their order says nothing about who came first.
    assert sorted(m.user_id for m in await db.members_of("vara")) == [1, 2, 3, 4]
    assert [m.user_id for m in await db.members_of("vara", Role.MEMBER)] == [1]
    coordinators = await db.coordinators_for_contact("vara", "samordnare")
    assert sorted(m.user_id for m in coordinators) == [2, 4]
    assert await db.count_members("vara") == 4
    assert await db.count_members("vara", Role.COORDINATOR) == 3
    assert await db.count_members("nowhere") == 0


# --- forgetting -------------------------------------------------------------------------------

FORGOTTEN = 987654321012
KEPT = 123456789098
MARKER_ORG = "org-only-the-forgotten-one-uses"


async def test_forget_user_removes_every_trace(db: Database, db_path: Path) -> None:
    await db.set_language(FORGOTTEN, "sv", chosen=True, now=NOW)
    await db.join(FORGOTTEN, MARKER_ORG, Role.COORDINATOR, "contact-of-the-forgotten", NOW)
    await db.join(KEPT, "vara", Role.MEMBER, None, NOW)
    await db.checkpoint()
    before = file_bytes(db_path)
    assert MARKER_ORG.encode() in before  # the check below can fail: the data was in the file

    assert await db.forget_user(FORGOTTEN) is True

    assert await db.get_user(FORGOTTEN) is None
    assert await db.get_membership(FORGOTTEN) is None
    assert await db.get_membership(KEPT) is not None
    with raw(db_path) as conn:
        for table in tables(conn):
            for row in conn.execute(f"SELECT * FROM {table}"):
                for value in row:
                    assert value != FORGOTTEN, (table, row)
                    assert str(FORGOTTEN) not in str(value), (table, row)
    await db.checkpoint()
    after = file_bytes(db_path)
    for trace in (str(FORGOTTEN), MARKER_ORG, "contact-of-the-forgotten"):
        assert trace.encode() not in after, trace


async def test_forgetting_an_unknown_user_reports_nothing_was_there(db: Database) -> None:
    assert await db.forget_user(42) is False


async def test_every_table_with_a_member_key_is_forgotten(db: Database, db_path: Path) -> None:
    """Guards later migrations: a new table about users must be added to `_FORGET_USER`."""
    with raw(db_path) as conn:
        holding_users = [
            table
            for table in tables(conn)
            if any(
                column[1] in ("member_key", "user_id", "chat_id")
                for column in conn.execute(f"PRAGMA table_info({table})")
            )
        ]
    assert holding_users  # the check is about something
    for table in holding_users:
        assert any(f"DELETE FROM {table} " in statement for statement in _FORGET_USER), table


async def test_a_cancelled_call_leaves_the_connection_usable(db: Database) -> None:
    """A handler cancelled mid-transaction (shutdown, a timeout) must not wedge the next write."""
    for user_id in range(1, 6):
        task = asyncio.create_task(db.join(user_id, "vara", Role.MEMBER, None, NOW))
        await asyncio.sleep(0)  # no waiting: lets the task begin its transaction
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await db.join(100 + user_id, "vara", Role.MEMBER, None, NOW)
        assert await db.get_membership(100 + user_id) is not None
