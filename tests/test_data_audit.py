"""The data directory names no one (issue 14, points 2, 4 and 6).

- After a realistic run (joins, a report with contact-me, relay both ways, an identity shared,
  information added, acknowledgement, reminders, a blocked coordinator, a close), no file of the
  data directory (database, -wal, -shm) holds a user's id as text or as a 4-, 6- or 8-byte
  integer in either byte order, nor their names or usernames.
- A database of the schema before keyed members upgrades without losing anyone, and without
  an id left in the file.
- A join is not dated finer than its month, a report not finer than its day once nothing waits
  on it, and no log line pairs a join with a report.
- /glom, a /mina delete, a close and retention leave nothing queued, no reminder key, no link
  and no pending input of that report or person; planted markers are gone from the files.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosqlite
import pytest

from bot import activity
from bot.crypto import Sealer
from bot.handlers import callbacks
from bot.handlers.flood import installed
from bot.reminders.jobs import run_due
from bot.reports.retention import purge
from bot.storage import MIGRATIONS, Database, Role, StorageError, migrate
from tests.conftest import Harness, texts
from tests.test_report_flow import _fill, _ref_of, rep

# Real Telegram ids are up to 52 bits: some fit in 4 bytes, some need 6 or 8.
REPORTER = 6_123_456_789
MEMBER = 1_987_654_321
COORDINATOR = 5_550_123_987
SECOND_COORDINATOR = 2_012_345_678
NAMES = {
    REPORTER: ("Astrid", "Lindqvist", "astrid_fullmaktig"),
    MEMBER: ("Gunnar", "Hedlund", "gunnar_i_fullmakt"),
    COORDINATOR: ("Karin", "Wallén", "karin_sakerhet"),
    SECOND_COORDINATOR: ("Bertil", "Öhman", "bertil_beredskap"),
}


# --- the audit ---------------------------------------------------------------------------------


def id_encodings(user_id: int) -> dict[str, bytes]:
    """Every way an id can sit in a file: text, and 4-, 6- and 8-byte integers both ways."""
    found = {"text": str(user_id).encode()}
    for size in (4, 6, 8):
        if user_id < 1 << (8 * size - 1):
            for order in ("big", "little"):
                found[f"{size}-byte {order}"] = user_id.to_bytes(size, order)
    return found


def data_files(data_dir: Path) -> dict[str, bytes]:
    """The database and its side files, as they are on disk (no checkpoint first)."""
    return {
        path.name: path.read_bytes()
        for path in sorted(data_dir.iterdir())
        if path.is_file() and path.name.startswith("trygg.sqlite3")
    }


def audit(data_dir: Path, users: Mapping[int, Sequence[str]]) -> list[str]:
    """What of `users` (id, names, usernames) the files hold; empty when nothing is found."""
    files = data_files(data_dir)
    assert any(name.endswith("sqlite3") for name in files)  # the audit is about something
    findings = []
    for user_id, words in users.items():
        needles = {**id_encodings(user_id), **{word: word.encode() for word in words}}
        for name, data in files.items():
            for what, needle in needles.items():
                if needle in data:
                    findings.append(f"{user_id} {what} in {name}")
    return findings


def test_the_audit_finds_what_is_there(tmp_path: Path) -> None:
    """The audit is able to fail: an id in each form, and a name, are found."""
    (tmp_path / "trygg.sqlite3").write_bytes(
        b"x" + (REPORTER).to_bytes(8, "little") + b"Astrid" + str(MEMBER).encode()
    )
    found = audit(tmp_path, {REPORTER: ("Astrid",), MEMBER: (), COORDINATOR: ()})
    assert set(found) >= {
        f"{REPORTER} 8-byte little in trygg.sqlite3",
        f"{REPORTER} Astrid in trygg.sqlite3",
        f"{MEMBER} text in trygg.sqlite3",
    }
    assert not [line for line in found if line.startswith(str(COORDINATOR))]


@pytest.fixture(autouse=True)
def _no_flood_limit(request: pytest.FixtureRequest) -> None:
    """A whole run is many updates of one user in no time: the flood guard is not tested here."""
    if "harness" in request.fixturenames:
        harness: Harness = request.getfixturevalue("harness")
        guard = installed(harness.app)
        assert guard is not None
        guard.burst = 10_000


async def _person(h: Harness, user_id: int, text: str) -> None:
    first, last, username = NAMES[user_id]
    await h.send(user_id, text, first_name=first, last_name=last, username=username)


async def _join(h: Harness, user_id: int, role: str = "member", contact: str | None = None) -> None:
    first, last, username = NAMES[user_id]
    await h.join(
        user_id, "solvik", role, contact, first_name=first, last_name=last, username=username
    )


async def test_a_whole_run_leaves_no_id_name_or_username_in_the_data_directory(
    harness: Harness,
) -> None:
    h = harness
    await _join(h, MEMBER)
    h.clock.advance(timedelta(days=1))
    await _join(h, COORDINATOR, "coordinator", "sakerhet")
    await _join(h, SECOND_COORDINATOR, "coordinator", "sakerhet")
    await _join(h, REPORTER)
    await h.send(MEMBER, "/rapportera")  # a draft left half-filled
    await h.press(MEMBER, rep("set.type.hot"))

    await _fill(h, REPORTER)
    ref = _ref_of(await h.press(REPORTER, rep("send")))
    await h.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await _person(h, COORDINATOR, "Vill du att vi ringer upp dig?")
    await h.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await _person(h, REPORTER, "Ja, i eftermiddag går bra.")
    await h.press(REPORTER, callbacks.relay(f"send.{ref}"))
    await h.press(REPORTER, callbacks.relay(f"share.{ref}"))
    await h.press(REPORTER, callbacks.relay(f"shareyes.{ref}"))
    await h.press(REPORTER, callbacks.mine(f"add.{ref}"))
    await _person(h, REPORTER, "Han har skrivit igen i kväll.")
    h.transport.block_user(SECOND_COORDINATOR)  # blocked: a state of the member
    h.clock.advance(timedelta(hours=25))  # the acknowledgement reminder falls due (24h)
    await run_due(h.services)
    await h.services.outbox.send_due(h.app.bot)
    assert await h.services.db.is_blocked(SECOND_COORDINATOR)
    await h.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"closeok.{ref}"))
    await h.services.outbox.send_due(h.app.bot)
    assert [c for c in h.transport.sent_to(COORDINATOR) if "vill visa vem" in (c.text or "")]

    assert audit(h.services.settings.data_dir, NAMES) == []


# --- upgrading a database that stored ids in clear ---------------------------------------------

KEY = bytes(range(32))
V4_ROWS = (
    f"INSERT INTO users VALUES ({REPORTER}, 'en', 1, '2026-10-03T08:12:55.123456+00:00')",
    f"INSERT INTO users VALUES ({COORDINATOR}, NULL, 0, '2026-09-01T10:00:00.000000+00:00')",
    f"INSERT INTO memberships VALUES ({REPORTER}, 'solvik', 'member', NULL,"
    " '2026-10-03T08:12:55.123456+00:00', 0)",
    f"INSERT INTO memberships VALUES ({COORDINATOR}, 'solvik', 'coordinator', 'sakerhet',"
    " '2026-09-01T10:00:00.000000+00:00', 1)",
    f"INSERT INTO drafts VALUES ({REPORTER}, 'solvik', 'channel', '{{\"values\":{{}}}}',"
    " '2026-10-04T09:00:00.000000+00:00')",
    f"INSERT INTO blocked_chats VALUES ({COORDINATOR}, '2026-10-05T09:00:00.000000+00:00')",
    "INSERT INTO reports (ref, org_id, type, channel, month, repeated, perpetrator, police,"
    " impacts, contact_me, state, created_at) VALUES ('R-AAAAAA', 'solvik', 'hot', 'epost',"
    " '2026-10', 0, 'okand', 'nej', '', 1, 'new', '2026-10-06T11:19:07.000001+00:00')",
    f"INSERT INTO pending_inputs VALUES ('c:{COORDINATOR}', 'reply', 1,"
    " '2026-10-06T12:00:00.000000+00:00')",
    "INSERT INTO outbox (dedupe, chat_id, report_id, payload, next_attempt_at, created_at)"
    f" VALUES ('report:R-AAAAAA:{COORDINATOR}', {COORDINATOR}, 1, x'01',"
    " '2026-10-06T11:19:07.000001+00:00', '2026-10-06T11:19:07.000001+00:00')",
    "INSERT INTO outbox (dedupe, chat_id, report_id, payload, next_attempt_at, created_at)"
    " VALUES ('relay:R-AAAAAA:1', NULL, 1, x'02', '2026-10-06T11:19:07.000001+00:00',"
    " '2026-10-06T11:19:07.000001+00:00')",
    "INSERT INTO reminders_sent VALUES ('digest:solvik:2026-Q4', '2026-10-01T08:00:00+00:00')",
)


async def _v4_database(path: Path) -> None:
    async with aiosqlite.connect(path, isolation_level=None) as conn:
        assert await migrate(conn, MIGRATIONS[:4]) == 4
        for statement in V4_ROWS:
            await conn.execute(statement)


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    conn = sqlite3.connect(path)
    try:
        yield conn
    finally:
        conn.close()


async def test_an_older_database_upgrades_without_losing_anyone_and_without_ids(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "trygg.sqlite3"
    await _v4_database(path)
    assert audit(tmp_path, {REPORTER: (), COORDINATOR: ()})  # the ids were there

    # Without the key the ids cannot become keys: they wait for the bot, nothing is lost.
    async with await Database.open(path) as db:
        assert await db.schema_version() == len(MIGRATIONS)
    assert "older version" in caplog.text
    with raw(path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM legacy_users").fetchone() == (2,)

    sealer = Sealer(KEY)
    async with await Database.open(path, sealer) as db:
        reporter = await db.get_membership(REPORTER)
        coordinator = await db.get_membership(COORDINATOR)
        assert reporter is not None and coordinator is not None
        assert (reporter.org_id, reporter.digest_enabled) == ("solvik", False)
        assert (coordinator.role, coordinator.contact_id) == ("coordinator", "sakerhet")
        assert reporter.joined_at == datetime(2026, 10, 1, tzinfo=UTC)  # the month only
        user = await db.get_user(REPORTER)
        assert user is not None and (user.lang, user.lang_chosen) == ("en", True)
        assert await db.is_blocked(COORDINATOR) and not await db.is_blocked(REPORTER)
        assert await db.get_draft(REPORTER) is not None
        assert await db.get_pending(f"c:{COORDINATOR}") == ("reply", 1)
        assert [m.user_id for m in await db.coordinators_for_contact("solvik", "sakerhet")] == [
            COORDINATOR
        ]
        due = await db.due_outbox(datetime(2026, 10, 7, tzinfo=UTC), 10)
        assert {(r.chat_id, r.report_id, r.payload) for r in due} == {
            (COORDINATOR, 1, b"\x01"),
            (None, 1, b"\x02"),
        }
        report = await db.get_report("R-AAAAAA")
        assert report is not None  # unacknowledged: its reminder still counts from the moment
        assert report.created_at == datetime(2026, 10, 6, 11, 19, 7, 1, tzinfo=UTC)
    with raw(path) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        assert not {t for t in tables if t.startswith("legacy")}
        assert "blocked_chats" not in tables
        assert conn.execute("SELECT created_at FROM reports").fetchone() == (
            "2026-10-06T00:00:00.000000+00:00",
        )
    assert audit(tmp_path, {REPORTER: (), COORDINATOR: ()}) == []


async def test_a_database_refuses_a_key_that_did_not_seal_it(tmp_path: Path) -> None:
    path = tmp_path / "trygg.sqlite3"
    async with await Database.open(path, Sealer(KEY)) as db:
        await db.join(REPORTER, "solvik", Role.MEMBER, None, datetime(2026, 11, 2, tzinfo=UTC))
    with pytest.raises(StorageError, match="another secret key"):
        await Database.open(path, Sealer(bytes(32)))
    async with await Database.open(path, Sealer(KEY)) as db:  # the right key still works
        assert await db.get_membership(REPORTER) is not None


# --- no timing link ----------------------------------------------------------------------------

TIME_OF_DAY = re.compile(r"T(\d\d:\d\d:\d\d\.\d+)")


async def test_a_join_minutes_before_a_report_names_no_one(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """Members join days apart; one joins at 11:11 and reports at 11:19. Read from the database
    and the log, no member stands out as the one who joined just before the report."""
    caplog.set_level(logging.DEBUG, logger="bot")
    h = harness
    members = (MEMBER, SECOND_COORDINATOR, COORDINATOR)
    h.clock.moment = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)
    await _join(h, COORDINATOR, "coordinator", "sakerhet")
    for member in (MEMBER, SECOND_COORDINATOR):
        h.clock.advance(timedelta(days=6, hours=3))
        await _join(h, member)
    activity.take_line()  # counts of earlier tests
    h.clock.moment = datetime(2026, 11, 24, 10, 11, tzinfo=UTC)  # 11:11 in Stockholm
    caplog.clear()
    await _join(h, REPORTER)
    join_log = [r.getMessage() for r in caplog.records]
    h.clock.moment = datetime(2026, 11, 24, 10, 19, tzinfo=UTC)
    await _fill(h, REPORTER)
    caplog.clear()
    ref = _ref_of(await h.press(REPORTER, rep("send")))
    report_log = [r.getMessage() for r in caplog.records]
    await h.services.outbox.send_due(h.app.bot)
    await h.press(COORDINATOR, callbacks.case(f"ack.{ref}"))

    # The database: when each member joined or came, against when the report came.
    path = h.services.settings.db_path
    with raw(path) as conn:
        joins = [
            datetime.fromisoformat(t)
            for (t,) in conn.execute(
                "SELECT joined_at FROM memberships UNION ALL SELECT created_at FROM users"
            )
        ]
        report_times = [
            datetime.fromisoformat(t)
            for row in conn.execute("SELECT * FROM reports")
            for t in row
            if isinstance(t, str) and TIME_OF_DAY.search(t)
        ]
        linked_times = [
            t
            for table in ("report_links", "pending_inputs", "drafts")
            for row in conn.execute(f"SELECT * FROM {table}")
            for t in row
            if isinstance(t, str) and TIME_OF_DAY.search(t)
        ]
    assert len(joins) == 2 * (len(members) + 1)
    created = min(report_times)
    candidates = {j for j in joins if timedelta(0) <= created - j <= timedelta(hours=1)}
    assert candidates == set()
    # Every join reads as the first of the month, so all four are equally likely.
    assert {(j.day, j.hour, j.minute) for j in joins} == {(1, 0, 0)}
    # What stays linked to the reporter is dated by the day at most.
    assert all("T00:00:00.000000" in t for t in linked_times)
    # The acknowledged report is dated by its day; the moment it came is gone.
    with raw(path) as conn:
        (stored,) = conn.execute("SELECT created_at FROM reports WHERE ref = ?", (ref,)).fetchone()
    assert stored == "2026-11-24T00:00:00.000000+00:00"

    # The log: neither step writes a line of its own; the counts come once an interval.
    for line in join_log + report_log:
        assert "solvik" not in line and "join" not in line and "report" not in line, line
    await activity.log_activity()
    assert caplog.records[-1].getMessage() == (
        "last interval: 1 joins, 1 reports, 0 deleted reports, 0 forgotten"
    )


# --- forgetting is complete --------------------------------------------------------------------

DESCRIPTION_MARKER = "Qzxvbelysning"
RELAY_MARKER = "Wqpfjordspann"
ADDITION_MARKER = "Jkvxtrumpetlov"


def _forgotten(db_path: Path, report_id: int, ref: str) -> dict[str, int]:
    """What is left of a report in the tables that must forget it."""
    with raw(db_path) as conn:
        return {
            "outbox": conn.execute(
                "SELECT COUNT(*) FROM outbox WHERE report_id = ?", (report_id,)
            ).fetchone()[0],
            "links": conn.execute(
                "SELECT COUNT(*) FROM report_links WHERE report_id = ?", (report_id,)
            ).fetchone()[0],
            "pending": conn.execute(
                "SELECT COUNT(*) FROM pending_inputs WHERE report_id = ?", (report_id,)
            ).fetchone()[0],
            "reminders": conn.execute(
                "SELECT COUNT(*) FROM reminders_sent WHERE key LIKE ?", (f"%{ref}%",)
            ).fetchone()[0],
            "followups": conn.execute(
                "SELECT COUNT(*) FROM reminders_sent WHERE key LIKE ?", (f"followup:{ref}:%",)
            ).fetchone()[0],
        }


NOTHING = {"outbox": 0, "links": 0, "pending": 0, "reminders": 0, "followups": 0}


async def _report_with_everything_queued(h: Harness) -> tuple[str, int]:
    """A report whose reporter answered, shared who they are and added information, all still
    queued because the coordinator's chat is failing; and an acknowledgement reminder."""
    await _join(h, COORDINATOR, "coordinator", "sakerhet")
    await _join(h, REPORTER)
    await _fill(h, REPORTER)
    ref = _ref_of(await h.press(REPORTER, rep("send")))
    report = await h.services.db.get_report(ref)
    assert report is not None
    await h.services.outbox.send_due(h.app.bot)
    await h.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await _person(h, COORDINATOR, "Hur vill du att vi går vidare?")
    await h.services.outbox.send_due(h.app.bot)
    h.transport.fail_next("*", status=500, times=1000, chat_id=COORDINATOR)
    await h.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await _person(h, REPORTER, f"Ring mig, kodord {RELAY_MARKER}.")
    await h.press(REPORTER, callbacks.relay(f"send.{ref}"))
    await h.press(REPORTER, callbacks.relay(f"share.{ref}"))
    await h.press(REPORTER, callbacks.relay(f"shareyes.{ref}"))
    await h.press(REPORTER, callbacks.mine(f"add.{ref}"))
    await _person(h, REPORTER, f"Han skrev {ADDITION_MARKER} på väggen.")
    h.clock.advance(timedelta(days=2, hours=1))
    await run_due(h.services)  # acknowledgement, escalation and follow-up: queued and recorded
    await h.services.outbox.send_due(h.app.bot)
    before = _forgotten(h.services.settings.db_path, report.id, ref)
    assert before["outbox"] >= 4 and before["links"] == 1 and before["followups"] == 1
    return ref, report.id


def _seen_by_coordinator(h: Harness) -> str:
    return "\n".join(str(c.params.get("text", "")) for c in h.transport.sent_to(COORDINATOR))


async def test_glom_while_a_coordinators_chat_fails_then_it_comes_back(harness: Harness) -> None:
    h = harness
    ref, report_id = await _report_with_everything_queued(h)
    h.transport.clear()
    await h.send(REPORTER, "/glom")
    said = await h.press(REPORTER, callbacks.forget(True))
    assert "raderat" in texts(said)[0]

    h.transport.clear_faults()  # the coordinator's chat comes back
    h.clock.advance(timedelta(minutes=30))
    await h.services.outbox.send_due(h.app.bot)
    seen = _seen_by_coordinator(h)
    for secret in (RELAY_MARKER, ADDITION_MARKER, "vill visa vem", *NAMES[REPORTER]):
        assert secret not in seen, secret
    # The report stays, anonymous: only its own reminder keys (acknowledgement, escalation)
    # remain, so its coordinators are not reminded twice; nothing says its reporter wanted contact.
    left = _forgotten(h.services.settings.db_path, report_id, ref)
    assert left == {**NOTHING, "reminders": left["reminders"]}
    assert audit(h.services.settings.data_dir, {REPORTER: NAMES[REPORTER]}) == []


async def test_a_deleted_report_leaves_no_marker_in_the_files(harness: Harness) -> None:
    h = harness
    await _join(h, COORDINATOR, "coordinator", "sakerhet")
    await _join(h, REPORTER)
    await _fill(h, REPORTER)
    ref = _ref_of(await h.press(REPORTER, rep("send")))
    report = await h.services.db.get_report(ref)
    assert report is not None
    assert await h.services.db.append_description(ref, DESCRIPTION_MARKER, 4000)
    await h.services.db.checkpoint()
    files = h.services.settings.data_dir
    assert any(DESCRIPTION_MARKER.encode() in data for data in data_files(files).values())
    h.clock.advance(timedelta(hours=25))
    await run_due(h.services)

    await h.press(REPORTER, callbacks.mine(f"delyes.{ref}"))
    assert await h.services.db.get_report(ref) is None
    assert _forgotten(h.services.settings.db_path, report.id, ref) == NOTHING
    for name, data in data_files(files).items():
        assert DESCRIPTION_MARKER.encode() not in data, name
        assert ref.encode() not in data, name


async def test_a_close_ends_the_queue_and_the_reminder_keys_of_the_report(
    harness: Harness,
) -> None:
    h = harness
    ref, report_id = await _report_with_everything_queued(h)
    h.transport.clear_faults()
    await h.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"closeok.{ref}"))
    await h.services.outbox.send_due(h.app.bot)  # the reporter is told, then the link goes
    h.transport.clear()
    h.clock.advance(timedelta(minutes=30))
    await h.services.outbox.send_due(h.app.bot)
    assert RELAY_MARKER not in _seen_by_coordinator(h)
    assert _forgotten(h.services.settings.db_path, report_id, ref) == NOTHING


async def test_retention_purges_the_reminder_keys_with_the_report(harness: Harness) -> None:
    h = harness
    ref, report_id = await _report_with_everything_queued(h)
    h.clock.advance(timedelta(days=3 * 365))
    result = await purge(h.services.db, h.services.registry, h.clock())
    assert result.reports == 1 and result.checkpointed
    assert _forgotten(h.services.settings.db_path, report_id, ref) == NOTHING
