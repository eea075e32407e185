"""Reports in storage (schema v2): drafts, the atomic submit, the workflow, links, retention.

As in test_storage.py, the file is inspected with a separate stdlib connection or as raw bytes
where the point is what is really on disk.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot.crypto import Sealer
from bot.reports.model import Draft, Report, State
from bot.storage import MIGRATIONS, Database, DuplicateReference, OutboxItem, Role, migrate

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
KEY = bytes(range(32))
REPORTER = 555000111222
REPORTER_CHAT = 555000111222
COORDINATOR = 4711


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trygg.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(db_path) as database:
        yield database


@pytest.fixture
def sealer() -> Sealer:
    return Sealer(KEY)


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


def file_bytes(db_path: Path) -> bytes:
    """The main file and its side files, where deleted data could still linger."""
    data = db_path.read_bytes()
    for suffix in ("-wal", "-journal"):
        side = db_path.with_name(db_path.name + suffix)
        if side.exists():
            data += side.read_bytes()
    return data


def report(ref: str = "R-AAAAAA", **changes: object) -> Report:
    base = Report(
        id=0,
        ref=ref,
        org_id="solvik",
        type="hot",
        channel="epost",
        month="2026-02",
        repeated=True,
        perpetrator="okand",
        police="planerar",
        impacts=("avstod", "rutiner"),
        gender=None,
        description="Ett hotfullt mejl om [namn].",
        contact_me=True,
        state=State.NEW,
        created_at=NOW,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def to_coordinator(ref: str, chat: int = COORDINATOR, payload: bytes = b"sealed") -> OutboxItem:
    return OutboxItem(dedupe=f"report:{ref}:{chat}", payload=payload, chat_id=chat, urgent=True)


async def submit(
    db: Database, sealer: Sealer, ref: str = "R-AAAAAA", *, user: int = REPORTER, **changes: object
) -> Report:
    r = report(ref, **changes)
    link = (sealer.owner_tag(user), sealer.seal_chat(user)) if r.contact_me else None
    return await db.submit_report(r, link, [to_coordinator(ref)], user, NOW)


# --- migration --------------------------------------------------------------------------------


async def test_a_v1_database_is_migrated_and_keeps_its_data(db_path: Path) -> None:
    async with aiosqlite.connect(db_path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:1]) == 1
        await conn.execute("INSERT INTO users VALUES (1, 'sv', 1, '2025-01-01T00:00:00+00:00')")
        await conn.execute(
            "INSERT INTO memberships VALUES (1, 'solvik', 'coordinator', 'sak',"
            " '2025-01-01T00:00:00+00:00', 1)"
        )
    async with await Database.open(db_path, Sealer(KEY)) as db:  # the key turns ids into keys
        assert await db.schema_version() == len(MIGRATIONS) >= 2
        membership = await db.get_membership(1)
        assert membership is not None
        assert (membership.org_id, membership.role, membership.contact_id) == (
            "solvik",
            Role.COORDINATOR,
            "sak",
        )
        assert await db.get_report("R-NOPE22") is None
    with raw(db_path) as conn:
        tables = {
            name: sql
            for name, sql in conn.execute("SELECT name, sql FROM sqlite_master WHERE type='table'")
        }
    assert "blocked_chats" not in tables  # blocked is a state of the member now
    for table in ("users", "memberships", "drafts", "reports", "report_links", "pending_inputs",
                  "outbox"):  # fmt: skip
        assert table in tables
        assert tables[table].rstrip().endswith("STRICT"), table


async def test_tables_are_strict(db: Database, db_path: Path) -> None:
    with raw(db_path) as conn, pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO users VALUES ('k', x'00', NULL, 'not a number', 'x', NULL)")


async def test_the_report_table_has_no_user_column(db: Database, db_path: Path) -> None:
    with raw(db_path) as conn:
        for table in ("reports", "report_links", "outbox", "pending_inputs"):
            columns = {c[1] for c in conn.execute(f"PRAGMA table_info({table})")}
            assert not columns & {"user_id", "username", "name", "first_name"}, table


# --- drafts -----------------------------------------------------------------------------------


async def test_a_draft_round_trips_and_survives_a_reopen(db_path: Path) -> None:
    draft = Draft(
        org_id="solvik",
        step="impact",
        values={"type": "hot", "month": "2026-02", "impact": ["avstod"], "description": "Åäö […]"},
        editing=True,
    )
    async with await Database.open(db_path) as db:
        assert await db.get_draft(REPORTER) is None
        await db.save_draft(REPORTER, draft, NOW)
    async with await Database.open(db_path) as db:  # a restart: the user goes on at the step
        assert await db.get_draft(REPORTER) == draft
        draft.step = "gender"
        draft.values["impact"] = ["avstod", "overvagt"]
        await db.save_draft(REPORTER, draft, NOW + timedelta(minutes=1))
        assert await db.get_draft(REPORTER) == draft
        await db.delete_draft(REPORTER)
        assert await db.get_draft(REPORTER) is None
        await db.delete_draft(REPORTER)  # nothing there: harmless


async def test_old_drafts_are_purged(db: Database) -> None:
    await db.save_draft(1, Draft(org_id="solvik"), NOW - timedelta(days=40))
    await db.save_draft(2, Draft(org_id="solvik"), NOW)
    assert await db.purge_drafts(NOW - timedelta(days=30)) == 1
    assert await db.get_draft(1) is None
    assert await db.get_draft(2) is not None


# --- submitting -------------------------------------------------------------------------------


async def test_submit_stores_report_link_notifications_and_drops_the_draft(
    db: Database, sealer: Sealer
) -> None:
    await db.save_draft(REPORTER, Draft(org_id="solvik", step="summary"), NOW)
    to_reporter = OutboxItem(dedupe="hello:R-AAAAAA", payload=b"p", to_reporter=True)
    stored = await db.submit_report(
        report(),
        (sealer.owner_tag(REPORTER), sealer.seal_chat(REPORTER_CHAT)),
        [to_coordinator("R-AAAAAA"), to_reporter],
        REPORTER,
        NOW,
    )
    assert stored.id > 0
    assert stored == dataclasses.replace(report(), id=stored.id)
    assert await db.get_report("R-AAAAAA") == stored
    assert await db.get_report_by_id(stored.id) == stored
    assert await db.get_draft(REPORTER) is None
    link = await db.link_of(stored.id)
    assert link is not None
    tag, chat_sealed, shared = link
    assert tag == sealer.owner_tag(REPORTER)
    assert sealer.unseal_chat(chat_sealed) == REPORTER_CHAT
    assert shared is False
    rows = await db.due_outbox(NOW, 10)
    assert [(r.chat_id, r.report_id, r.urgent) for r in rows] == [
        (COORDINATOR, stored.id, True),
        (None, stored.id, False),
    ]
    assert rows[1].to_reporter


async def test_submit_is_atomic(db: Database, db_path: Path, sealer: Sealer) -> None:
    draft = Draft(org_id="solvik", step="summary", values={"type": "hot"})
    await db.save_draft(REPORTER, draft, NOW)
    with raw(db_path) as conn:
        conn.execute(
            "CREATE TRIGGER fail_outbox BEFORE INSERT ON outbox"
            " BEGIN SELECT RAISE(ABORT, 'outbox is broken'); END"
        )
        conn.commit()
    with pytest.raises(sqlite3.IntegrityError, match="outbox is broken"):
        await submit(db, sealer)
    assert await db.get_report("R-AAAAAA") is None
    assert await db.get_draft(REPORTER) == draft
    assert await db.reports_of_owner(sealer.owner_tag(REPORTER)) == []
    with raw(db_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM reports").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM report_links").fetchone() == (0,)
        conn.execute("DROP TRIGGER fail_outbox")
        conn.commit()
    stored = await submit(db, sealer)  # pressing Send again works
    assert await db.get_draft(REPORTER) is None
    assert await db.get_report(stored.ref) == stored


async def test_a_taken_reference_is_refused_and_changes_nothing(
    db: Database, sealer: Sealer
) -> None:
    first = await submit(db, sealer, user=1)
    draft = Draft(org_id="solvik", step="summary")
    await db.save_draft(2, draft, NOW)
    with pytest.raises(DuplicateReference) as raised:
        await submit(db, sealer, user=2, type="vald")
    assert raised.value.ref == first.ref
    assert await db.get_report(first.ref) == first
    assert await db.get_draft(2) == draft
    assert await db.reports_of_owner(sealer.owner_tag(2)) == []
    assert await db.outbox_pending() == 1


async def test_no_link_is_kept_for_a_reporter_who_did_not_ask_for_contact(
    db: Database, sealer: Sealer
) -> None:
    with pytest.raises(ValueError, match="asked to be contacted"):
        await db.submit_report(
            report(contact_me=False),
            (sealer.owner_tag(REPORTER), sealer.seal_chat(REPORTER)),
            [],
            REPORTER,
            NOW,
        )
    stored = await submit(db, sealer, contact_me=False)
    assert await db.link_of(stored.id) is None


async def test_fields_round_trip(db: Database, sealer: Sealer) -> None:
    bare = await submit(
        db, sealer, "R-BBBBBB", impacts=(), gender="vill_ej", description=None, repeated=False
    )
    again = await db.get_report("R-BBBBBB")
    assert again == bare
    assert (bare.impacts, bare.gender, bare.description, bare.repeated) == (
        (),
        "vill_ej",
        None,
        False,
    )


# --- workflow ---------------------------------------------------------------------------------


async def test_acknowledge_once_then_close_once(db: Database, sealer: Sealer) -> None:
    stored = await submit(db, sealer)
    later = NOW + timedelta(minutes=5)
    assert await db.acknowledge(stored.ref, "sakerhet", later) is True
    assert await db.acknowledge(stored.ref, "tib", later + timedelta(minutes=1)) is False
    acked = await db.get_report(stored.ref)
    assert acked is not None
    day = NOW.replace(hour=0, minute=0)  # what happens to a report later is kept by the day
    assert (acked.state, acked.acknowledged_at, acked.acknowledged_by) == (
        State.ACKNOWLEDGED,
        day,
        "sakerhet",
    )
    assert await db.close_report(stored.ref, later) is True
    assert await db.close_report(stored.ref, later) is False
    assert await db.acknowledge(stored.ref, "tib", later) is False
    closed = await db.get_report(stored.ref)
    assert closed is not None
    assert (closed.state, closed.closed_at, closed.acknowledged_by) == (
        State.CLOSED,
        day,
        "sakerhet",
    )
    assert await db.acknowledge("R-NOSUCH", "x", later) is False
    assert await db.close_report("R-NOSUCH", later) is False


async def test_closing_ends_the_link_once_nothing_is_queued_to_the_reporter(
    db: Database, sealer: Sealer
) -> None:
    one = await submit(db, sealer, "R-ONE222")
    two = await submit(db, sealer, "R-TWO222")
    await db.set_pending("r:" + sealer.owner_tag(REPORTER), "answer", one.id, NOW)

    assert await db.close_report(one.ref, NOW)
    assert await db.link_of(one.id) is None  # follow-up over: the chat is no longer kept
    assert await db.get_pending("r:" + sealer.owner_tag(REPORTER)) is None

    notice = OutboxItem(dedupe=f"closed:{two.ref}", payload=b"p", to_reporter=True)
    assert await db.close_report(two.ref, NOW, [notice])
    assert await db.link_of(two.id) is not None  # kept until the closing notice is delivered
    [row] = [r for r in await db.due_outbox(NOW, 10) if r.to_reporter]
    assert await db.outbox_sent(row.id, NOW)
    assert await db.link_of(two.id) is None
    assert await db.reports_of_owner(sealer.owner_tag(REPORTER)) == []


async def test_open_reports_unacknowledged_and_reminders(db: Database, sealer: Sealer) -> None:
    old = await submit(db, sealer, "R-OLD222", created_at=NOW - timedelta(hours=3))
    new = await submit(db, sealer, "R-NEW222", created_at=NOW)
    done = await submit(db, sealer, "R-DONE22", created_at=NOW - timedelta(hours=1))
    await submit(db, sealer, "R-ELSE22", org_id="norrmark")
    await db.close_report(done.ref, NOW)
    assert [r.ref for r in await db.open_reports("solvik")] == [new.ref, old.ref]
    assert [r.ref for r in await db.unacknowledged(NOW - timedelta(hours=2))] == [old.ref]
    await db.mark_reminded(old.id, NOW)
    await db.mark_escalated(old.id, NOW + timedelta(hours=1))
    marked = await db.get_report_by_id(old.id)
    assert marked is not None
    day = NOW.replace(hour=0, minute=0)  # kept by the day: only "whether" is ever asked
    assert (marked.reminded_at, marked.escalated_at) == (day, day)
    await db.acknowledge(old.ref, "sak", NOW)
    later = await db.unacknowledged(NOW + timedelta(days=1))
    assert [r.ref for r in later] == [new.ref, "R-ELSE22"]  # every organisation, oldest first
    counts = await db.counts_for_status("solvik")
    # The closed report's notice to its coordinator went with the close: 3, not 4.
    assert counts == {"open": 2, "unacknowledged": 1, "outbox_pending": 3}


async def test_append_description_stays_within_the_limit(db: Database, sealer: Sealer) -> None:
    stored = await submit(db, sealer, description="Första.")
    assert await db.append_description(stored.ref, "  Andra.  ", 100)
    assert (await db.get_report(stored.ref)).description == "Första.\n\nAndra."  # type: ignore[union-attr]
    assert await db.append_description(stored.ref, "x" * 500, 30)
    text = (await db.get_report(stored.ref)).description  # type: ignore[union-attr]
    assert text is not None
    assert len(text) == 30 and text.endswith("…")
    assert not await db.append_description(stored.ref, "more", 30)  # no room left
    assert not await db.append_description(stored.ref, "   ", 100)
    assert not await db.append_description("R-NOSUCH", "x", 100)
    empty = await submit(db, sealer, "R-EMPTY2", description=None)
    assert await db.append_description(empty.ref, "Nu.", 100)
    assert (await db.get_report(empty.ref)).description == "Nu."  # type: ignore[union-attr]
    await db.close_report(empty.ref, NOW)
    assert not await db.append_description(empty.ref, "Sent.", 100)


# --- pending inputs ---------------------------------------------------------------------------


async def test_pending_inputs(db: Database, sealer: Sealer) -> None:
    one = await submit(db, sealer, "R-ONE222")
    two = await submit(db, sealer, "R-TWO222")
    assert await db.get_pending("c:1") is None
    await db.set_pending("c:1", "reply", one.id, NOW)
    assert await db.get_pending("c:1") == ("reply", one.id)
    await db.set_pending("c:1", "reply", two.id, NOW)  # a later choice wins
    assert await db.get_pending("c:1") == ("reply", two.id)
    await db.clear_pending("c:1")
    assert await db.get_pending("c:1") is None
    await db.set_pending("c:1", "reply", two.id, NOW)
    await db.delete_report(two.id)
    assert await db.get_pending("c:1") is None  # cascades with the report


# --- forgetting -------------------------------------------------------------------------------


async def test_forget_owner_removes_links_pending_and_queued_messages(
    db: Database, sealer: Sealer, db_path: Path
) -> None:
    mine = await submit(db, sealer, "R-MINE22", user=REPORTER)
    theirs = await submit(db, sealer, "R-THEIRS", user=7)
    tag = sealer.owner_tag(REPORTER)
    await db.set_pending("r:" + tag, "add", mine.id, NOW)
    await db.set_pending("r:" + sealer.owner_tag(7), "add", theirs.id, NOW)
    await db.enqueue(
        [
            OutboxItem(dedupe="m", payload=b"p", to_reporter=True, report_id=mine.id),
            OutboxItem(dedupe="t", payload=b"p", to_reporter=True, report_id=theirs.id),
        ],
        NOW,
    )
    assert await db.forget_owner(tag) == 2
    assert await db.link_of(mine.id) is None
    assert await db.get_pending("r:" + tag) is None
    assert await db.reports_of_owner(tag) == []
    assert [r.dedupe for r in await db.due_outbox(NOW, 10) if r.to_reporter] == ["t"]
    assert await db.get_report(mine.ref) == mine  # the anonymous report itself stays
    assert await db.link_of(theirs.id) is not None
    assert await db.get_pending("r:" + sealer.owner_tag(7)) is not None
    assert await db.forget_owner(tag) == 0
    with pytest.raises(ValueError):
        await db.forget_owner("")


async def test_forget_user_removes_draft_and_coordinator_pending(
    db: Database, sealer: Sealer
) -> None:
    stored = await submit(db, sealer)
    await db.join(COORDINATOR, "solvik", Role.COORDINATOR, "sak", NOW)
    await db.save_draft(COORDINATOR, Draft(org_id="solvik"), NOW)
    await db.set_pending(f"c:{COORDINATOR}", "reply", stored.id, NOW)
    await db.set_pending("c:1", "reply", stored.id, NOW)
    assert await db.forget_user(COORDINATOR)
    assert await db.get_draft(COORDINATOR) is None
    assert await db.get_pending(f"c:{COORDINATOR}") is None
    assert await db.get_pending("c:1") is not None


# --- deleted means gone from the file ---------------------------------------------------------

SECRET_DESCRIPTION = "Beskrivning-som-ska-raderas-ur-filen 31415"


async def test_purge_removes_reports_from_the_file(
    db: Database, sealer: Sealer, db_path: Path
) -> None:
    old = await submit(
        db, sealer, "R-OLD222", description=SECRET_DESCRIPTION, created_at=NOW - timedelta(days=400)
    )
    await db.set_pending("r:x", "add", old.id, NOW)
    kept = await submit(db, sealer, "R-KEPT22", description="Ny och kvar.")
    other = await submit(
        db, sealer, "R-OTHER2", org_id="norrmark", created_at=NOW - timedelta(days=400)
    )
    await db.checkpoint()
    assert SECRET_DESCRIPTION.encode() in file_bytes(db_path)  # the check below can fail

    assert await db.purge_reports("solvik", NOW - timedelta(days=365)) == 1

    assert await db.get_report(old.ref) is None
    assert await db.link_of(old.id) is None
    assert await db.get_pending("r:x") is None
    assert all(r.report_id != old.id for r in await db.due_outbox(NOW, 10))
    assert await db.get_report(kept.ref) == kept
    assert await db.get_report(other.ref) == other  # another organisation's retention
    assert SECRET_DESCRIPTION.encode() not in file_bytes(db_path)
    assert b"R-OLD222" not in file_bytes(db_path)

    assert await db.purge_reports(None, NOW - timedelta(days=365)) == 1
    assert await db.get_report(other.ref) is None
    await db.vacuum()
    assert await db.get_report(kept.ref) == kept


async def test_a_deleted_report_is_gone_from_the_file(
    db: Database, sealer: Sealer, db_path: Path
) -> None:
    stored = await submit(db, sealer, description=SECRET_DESCRIPTION)
    await db.checkpoint()
    assert SECRET_DESCRIPTION.encode() in file_bytes(db_path)
    await db.delete_report(stored.id)
    assert await db.get_report(stored.ref) is None
    assert await db.link_of(stored.id) is None
    assert await db.outbox_pending() == 0
    assert SECRET_DESCRIPTION.encode() not in file_bytes(db_path)


def _varint(value: int) -> bytes:
    """SQLite's variable-length integer, as rowids (INTEGER PRIMARY KEY) are stored."""
    if value > 0x00FFFFFFFFFFFFFF:
        raise ValueError("not needed here")
    groups = []
    while True:
        groups.append(value & 0x7F)
        value >>= 7
        if not value:
            break
    groups.reverse()
    return bytes([g | 0x80 for g in groups[:-1]] + [groups[-1]])


def _int_encodings(value: int) -> list[bytes]:
    """How SQLite could store an integer: as text, a 6- or 8-byte record value, a rowid key."""
    return [str(value).encode(), value.to_bytes(6, "big"), value.to_bytes(8, "big"), _varint(value)]


async def test_the_reporters_chat_id_never_reaches_the_file(
    db: Database, sealer: Sealer, db_path: Path
) -> None:
    """Neither the draft nor the report holds the id: the draft is keyed by the member key."""
    await db.save_draft(REPORTER, Draft(org_id="solvik"), NOW)
    await db.checkpoint()
    assert _varint(REPORTER) not in file_bytes(db_path)

    stored = await submit(db, sealer)
    await db.enqueue(
        [OutboxItem(dedupe="r1", payload=sealer.seal_json({"text": "hej"}), to_reporter=True,
                    report_id=stored.id)],
        NOW,
    )  # fmt: skip
    await db.set_pending("r:" + sealer.owner_tag(REPORTER), "add", stored.id, NOW)
    await db.set_shared(stored.id)
    [row] = [r for r in await db.due_outbox(NOW, 10) if r.to_reporter]
    await db.outbox_sent(row.id, NOW)
    data = file_bytes(db_path)  # no vacuum needed: submitting wipes the draft from the file
    for encoding in _int_encodings(REPORTER_CHAT):
        assert encoding not in data, encoding
    with raw(db_path) as conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for values in conn.execute(f"SELECT * FROM {table}"):
                assert REPORTER_CHAT not in values, table
                assert all(str(REPORTER_CHAT) not in str(v) for v in values), table


# --- outbox storage ---------------------------------------------------------------------------


async def test_enqueue_is_idempotent_and_due_is_urgent_first(db: Database) -> None:
    late = OutboxItem(dedupe="late", payload=b"1", chat_id=1)
    urgent = OutboxItem(dedupe="urgent", payload=b"2", chat_id=2, urgent=True)
    assert await db.enqueue([late], NOW) == 1
    assert await db.enqueue([urgent, late], NOW + timedelta(seconds=1)) == 1
    assert await db.outbox_pending() == 2
    rows = await db.due_outbox(NOW + timedelta(seconds=1), 10)
    assert [r.dedupe for r in rows] == ["urgent", "late"]
    assert await db.due_outbox(NOW, 10) == [rows[1]]  # the urgent one is not due yet
    assert len(await db.due_outbox(NOW + timedelta(seconds=1), 1)) == 1

    await db.outbox_retry(rows[1].id, 1, NOW + timedelta(minutes=1), NOW)
    assert [r.dedupe for r in await db.due_outbox(NOW + timedelta(seconds=59), 10)] == ["urgent"]
    [again] = [r for r in await db.due_outbox(NOW + timedelta(minutes=1), 10) if r.dedupe == "late"]
    assert again.attempts == 1

    assert await db.outbox_sent(rows[0].id, NOW) is True
    assert await db.outbox_sent(rows[0].id, NOW) is False
    await db.outbox_dead(rows[1].id, "bad_request", NOW)
    assert await db.outbox_pending() == 0
    assert await db.enqueue([late, urgent], NOW) == 0  # sent or dead: still never twice
    assert await db.prune_outbox(NOW + timedelta(days=1)) == 2
    assert await db.enqueue([late], NOW) == 1


async def test_sent_and_dead_payloads_are_emptied(db: Database, db_path: Path) -> None:
    await db.enqueue(
        [
            OutboxItem(dedupe="a", payload=b"relayed words", chat_id=1),
            OutboxItem(dedupe="b", payload=b"more words", chat_id=2),
        ],
        NOW,
    )
    a, b = await db.due_outbox(NOW, 10)
    await db.outbox_sent(a.id, NOW)
    await db.outbox_dead(b.id, "blocked", NOW)
    with raw(db_path) as conn:
        assert conn.execute("SELECT payload FROM outbox ORDER BY id").fetchall() == [(b"",), (b"",)]
        assert conn.execute("SELECT dead_reason FROM outbox ORDER BY id").fetchall() == [
            (None,),
            ("blocked",),
        ]


async def test_a_dead_reason_is_a_code_not_text(db: Database) -> None:
    await db.enqueue([OutboxItem(dedupe="a", payload=b"p", chat_id=1)], NOW)
    [row] = await db.due_outbox(NOW, 10)
    for reason in ("Forbidden: bot was blocked by the user", "", "x" * 40, "chat 123"):
        with pytest.raises(ValueError):
            await db.outbox_dead(row.id, reason, NOW)
    assert await db.outbox_pending() == 1


def test_an_outbox_item_is_addressed_one_way() -> None:
    with pytest.raises(ValueError):
        OutboxItem(dedupe="x", payload=b"", chat_id=1, to_reporter=True)
    with pytest.raises(ValueError):
        OutboxItem(dedupe="x", payload=b"")
    with pytest.raises(ValueError):
        OutboxItem(dedupe="", payload=b"", chat_id=1)


async def test_a_reporter_message_needs_its_report(db: Database) -> None:
    with pytest.raises(ValueError, match="report_id"):
        await db.enqueue([OutboxItem(dedupe="x", payload=b"", to_reporter=True)], NOW)


async def test_blocked_chats(db: Database) -> None:
    await db.mark_blocked(COORDINATOR, NOW)  # nobody: a chat of no member is not recorded
    assert not await db.is_blocked(COORDINATOR)
    await db.join(COORDINATOR, "solvik", Role.COORDINATOR, "sak", NOW)
    assert not await db.is_blocked(COORDINATOR)
    await db.mark_blocked(COORDINATOR, NOW)
    await db.mark_blocked(COORDINATOR, NOW)
    assert await db.is_blocked(COORDINATOR)
    await db.enqueue([to_coordinator("R-X")], NOW)
    [row] = await db.due_outbox(NOW, 1)
    await db.outbox_sent(row.id, NOW)  # the chat took a message: it is not blocked any more
    assert not await db.is_blocked(COORDINATOR)
    await db.mark_blocked(COORDINATOR, NOW)
    await db.unblock(COORDINATOR)
    assert not await db.is_blocked(COORDINATOR)
