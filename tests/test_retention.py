"""Retention: each organisation's reports go after its own `retention`, from the file too; the
reports of an organisation whose routine is not loaded are kept; the daily job runs it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.crypto import Sealer
from bot.outbox import message
from bot.reports import retention
from bot.reports.model import Draft, Report, new_reference, report_from_draft
from bot.reports.retention import cutoff, purge, render
from bot.routines.models import Duration
from bot.routines.registry import RoutineRegistry
from bot.storage import Database, OutboxItem
from tests.conftest import OFFICE_HOURS, Harness

NOW = OFFICE_HOURS  # Tuesday 24 November 2026, 09:00 UTC
STOCKHOLM = ZoneInfo("Europe/Stockholm")
SEALER = Sealer(b"k" * 32)


def months_ago(n: int, now: datetime = NOW) -> datetime:
    return cutoff(Duration(n, "mo"), now)


def report(org: str, created_at: datetime, description: str | None = None) -> Report:
    draft = Draft(
        org_id=org,
        values={
            "type": "hot",
            "channel": "epost",
            "month": f"{created_at:%Y-%m}",
            "repeated": "nej",
            "perpetrator": "okand",
            "police": "nej",
            "impact": ["ingen"],
            "description": description,
            "contact_me": "nej",
        },
    )
    return report_from_draft(draft, new_reference(), created_at)


async def store(
    db: Database,
    org: str,
    created_at: datetime,
    description: str | None = None,
    items: list[OutboxItem] | None = None,
) -> Report:
    return await db.submit_report(
        report(org, created_at, description), None, items or [], 1, created_at
    )


def file_bytes(db: Database) -> bytes:
    """The database file and its side files (-wal, -shm), as someone who copies them reads them."""
    return b"".join(
        p.read_bytes() for p in db.path.parent.iterdir() if p.name.startswith(db.path.name)
    )


@pytest.fixture
def registry(routines_dir: Path) -> RoutineRegistry:
    loaded = RoutineRegistry(routines_dir)
    loaded.reload()
    assert [r.id for r in loaded.organisations()] == ["region-norrmark", "solvik"]
    return loaded


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "trygg.sqlite3") as opened:
        yield opened


# --- cutoff ----------------------------------------------------------------------------------


def test_months_are_calendar_months_on_the_organisations_clock() -> None:
    assert cutoff(Duration(24, "mo"), NOW) == datetime(2024, 11, 24, 9, 0, tzinfo=UTC)
    # The last day of a shorter month: 12:00 summer time on 31 March is 12:00 winter time on
    # 28 February.
    end_of_march = datetime(2026, 3, 31, 10, 0, tzinfo=UTC)
    assert cutoff(Duration(1, "mo"), end_of_march) == datetime(2026, 2, 28, 11, 0, tzinfo=UTC)
    # 12:00 summer time on 1 July is 12:00 winter time on 1 January: 11:00 UTC, not 10:00.
    summer = datetime(2026, 7, 1, 10, 0, tzinfo=UTC)
    assert cutoff(Duration(6, "mo"), summer) == datetime(2026, 1, 1, 11, 0, tzinfo=UTC)
    # Across a year boundary, backwards, into summer time: 10:00 in Stockholm both times.
    assert cutoff(Duration(13, "mo"), NOW) == datetime(2025, 10, 24, 8, 0, tzinfo=UTC)


def test_other_units_are_exact_lengths() -> None:
    assert cutoff(Duration(48, "h"), NOW) == NOW - timedelta(hours=48)
    assert cutoff(Duration(2, "w"), NOW) == NOW - timedelta(days=14)


# --- purge -----------------------------------------------------------------------------------


async def test_each_organisation_keeps_reports_for_its_own_retention(
    db: Database, registry: RoutineRegistry
) -> None:
    # solvik keeps 24 months, region-norrmark 36 (routines/*.yaml).
    assert registry.get("solvik").retention == Duration(24, "mo")  # type: ignore[union-attr]
    assert registry.get("region-norrmark").retention == Duration(36, "mo")  # type: ignore[union-attr]
    solvik_old = await store(db, "solvik", months_ago(30), "solvik old")
    solvik_edge = await store(db, "solvik", months_ago(24) + timedelta(seconds=1), "edge")
    solvik_new = await store(db, "solvik", months_ago(1), "solvik new")
    norrmark_30 = await store(db, "region-norrmark", months_ago(30), "norrmark 30")
    norrmark_40 = await store(db, "region-norrmark", months_ago(40), "norrmark 40")

    result = await purge(db, registry, NOW)

    assert [(o.org_id, o.reports) for o in result.organisations] == [
        ("region-norrmark", 1),
        ("solvik", 1),
    ]
    assert result.reports == 2 and result.unloaded == () and result.checkpointed
    for gone in (solvik_old, norrmark_40):
        assert await db.get_report(gone.ref) is None
    for kept in (solvik_edge, solvik_new, norrmark_30):
        assert await db.get_report(kept.ref) is not None
    # Purging again deletes nothing more.
    assert (await purge(db, registry, NOW)).reports == 0


async def test_deleted_reports_are_gone_from_the_file_bytes(
    db: Database, registry: RoutineRegistry
) -> None:
    gone = "Beskrivningen som ska bort ur filen XQZ-1"
    kept = "Beskrivningen som ska vara kvar XQZ-2"
    await store(db, "solvik", months_ago(25), gone)
    await store(db, "solvik", months_ago(2), kept)
    await db.checkpoint()
    assert gone.encode() in file_bytes(db)
    await purge(db, registry, NOW)
    data = file_bytes(db)
    assert gone.encode() not in data
    assert kept.encode() in data


async def test_reports_of_an_organisation_that_is_not_loaded_are_kept(
    db: Database, registry: RoutineRegistry
) -> None:
    ancient = await store(db, "gamla-kommunen", months_ago(120), "gammal")
    await store(db, "gamla-kommunen", months_ago(1))
    result = await purge(db, registry, NOW)
    assert result.unloaded == (("gamla-kommunen", 2),)
    assert await db.get_report(ancient.ref) is not None
    assert "gamla-kommunen: 2 report(s) kept: its routine is not loaded" in render(result)


async def test_a_dry_run_counts_and_deletes_nothing(
    db: Database, registry: RoutineRegistry
) -> None:
    old = await store(db, "solvik", months_ago(30))
    await db.save_draft(2, Draft(org_id="solvik"), NOW - timedelta(days=31))
    result = await purge(db, registry, NOW, dry_run=True)
    assert (result.reports, result.drafts, result.dry_run) == (1, 1, True)
    assert await db.get_report(old.ref) is not None
    assert await db.get_draft(2) is not None
    text = render(result)
    assert "solvik: 1 report(s) older than 24mo" in text and "would be deleted" in text


async def test_one_organisation_only(db: Database, registry: RoutineRegistry) -> None:
    solvik = await store(db, "solvik", months_ago(50))
    norrmark = await store(db, "region-norrmark", months_ago(50))
    await db.save_draft(2, Draft(org_id="solvik"), NOW - timedelta(days=31))
    result = await purge(db, registry, NOW, org_id="region-norrmark")
    assert [o.org_id for o in result.organisations] == ["region-norrmark"]
    assert await db.get_report(norrmark.ref) is None
    assert await db.get_report(solvik.ref) is not None
    assert await db.get_draft(2) is not None  # drafts are left to a full run
    assert "drafts" not in render(result)


async def test_stale_drafts_and_old_sent_messages_go_too(
    db: Database, registry: RoutineRegistry
) -> None:
    await db.save_draft(2, Draft(org_id="solvik"), NOW - timedelta(days=31))
    await db.save_draft(3, Draft(org_id="solvik"), NOW - timedelta(days=29))
    fresh = await store(db, "solvik", NOW - timedelta(days=10))
    await db.enqueue(
        [
            message(SEALER, "old-sent", "a", chat_id=10, report_id=fresh.id),
            message(SEALER, "old-waiting", "b", chat_id=10, report_id=fresh.id),
        ],
        NOW - timedelta(days=8),
    )
    await db.enqueue([message(SEALER, "new-sent", "c", chat_id=10)], NOW - timedelta(days=1))
    for row in await db.due_outbox(NOW, 10):
        if row.dedupe in ("old-sent", "new-sent"):
            await db.outbox_sent(row.id, NOW)

    result = await purge(db, registry, NOW)

    assert (result.drafts, result.outbox, result.reports) == (1, 1, 0)
    assert await db.get_draft(2) is None and await db.get_draft(3) is not None
    # A message still waiting is never pruned, however old.
    assert [r.dedupe for r in await db.due_outbox(NOW, 10)] == ["old-waiting"]


async def test_a_purged_report_takes_its_queued_messages_with_it(
    db: Database, registry: RoutineRegistry
) -> None:
    item = message(SEALER, "report:R-OLD:1", "Ny rapport", chat_id=10, urgent=True)
    await store(db, "solvik", months_ago(30), items=[item])
    assert await db.outbox_pending() == 1
    await purge(db, registry, NOW)
    assert await db.outbox_pending() == 0


# --- the daily job ---------------------------------------------------------------------------


async def test_the_bot_purges_daily_at_half_past_three_in_stockholm(harness: Harness) -> None:
    queue = harness.app.job_queue
    assert queue is not None
    (daily,) = queue.get_jobs_by_name(retention.JOB_NAME)
    assert daily.next_t is not None
    local = daily.next_t.astimezone(STOCKHOLM)
    assert (local.hour, local.minute) == (3, 30)
    assert timedelta(0) < daily.next_t - datetime.now(UTC) <= timedelta(days=1)
    (startup,) = queue.get_jobs_by_name(f"{retention.JOB_NAME}-startup")
    assert startup.next_t is not None
    assert startup.next_t - datetime.now(UTC) <= retention.STARTUP_DELAY
    assert time(3, 30, tzinfo=STOCKHOLM) == retention.DAILY_AT


async def test_the_job_purges_with_the_bots_clock_and_routines(harness: Harness) -> None:
    db = harness.services.db
    old = await store(db, "solvik", months_ago(30, harness.clock()))
    new = await store(db, "solvik", months_ago(3, harness.clock()))
    queue = harness.app.job_queue
    assert queue is not None
    (daily,) = queue.get_jobs_by_name(retention.JOB_NAME)
    await daily.run(harness.app)
    assert await db.get_report(old.ref) is None
    assert await db.get_report(new.ref) is not None
