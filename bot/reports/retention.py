"""Retention: reports older than their organisation's `retention` are deleted, from the file too.

Each routine file says how long its reports are kept (`retention: 24mo`, the default). `purge`
deletes, per loaded organisation, the reports created before `now - retention` (calendar months
in the organisation's timezone), with their links, pending inputs and queued messages
(ON DELETE CASCADE). It also drops drafts nobody touched for `DRAFT_MAX_AGE` and the sent or
given-up rows of the outbox older than `OUTBOX_KEEP` (their payloads were emptied when they were
sent; the rows only keep dedupe keys and timestamps), then checkpoints the write-ahead log.

Deleted means gone from the database file: the connection runs with `secure_delete`, so SQLite
overwrites freed content with zeros, and the TRUNCATE checkpoint copies those pages into the main
file and empties the -wal, where older page images would otherwise linger.

Organisations that have reports but whose routine is not loaded (the file was removed, renamed,
or is broken at the start of `trygg purge`) are **not** purged: their retention is unknown, and
guessing one could delete what must be kept or keep what must go. They are listed in the result
(and by `trygg purge` and the log) so the operator can act.

Two ways run it: the daily job (`daily_purge`, which app.py schedules at `DAILY_AT`, 03:30
Europe/Stockholm, and once `STARTUP_DELAY` after start) and `trygg purge [--org ID] [--dry-run]`.

A daily time rather than "every 24 hours from the start": the purge deletes and checkpoints,
which holds the database's write lock for a moment, best done when nobody is reporting, and at
a time an operator can name and find in the log; with "24 hours from the start" every restart
would move it, into office hours too. The catch-up run after a start covers the nights the bot
was down at 03:30 (a host rebooted every night at that hour would otherwise never purge):
keeping reports past their retention breaks a promise made to the people who reported.
Purging twice is harmless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from bot.routines.models import DEFAULT_TIMEZONE, Duration, add_months
from bot.routines.registry import RoutineRegistry
from bot.storage import Database

__all__ = [
    "DAILY_AT",
    "DRAFT_MAX_AGE",
    "JOB_NAME",
    "OUTBOX_KEEP",
    "STARTUP_DELAY",
    "OrgPurge",
    "PurgeResult",
    "cutoff",
    "daily_purge",
    "purge",
    "render",
]

log = logging.getLogger(__name__)

DRAFT_MAX_AGE = timedelta(days=30)
"""A report left half-filled this long is dropped: it is tied to its writer (their member key)."""
OUTBOX_KEEP = timedelta(days=7)
"""Sent and given-up messages are kept this long (their dedupe keys stop repeats), then deleted."""

JOB_NAME = "retention"
DAILY_AT = time(3, 30, tzinfo=ZoneInfo("Europe/Stockholm"))
"""When the daily job runs: a quiet hour, in Swedish time whatever the server's zone."""
STARTUP_DELAY = timedelta(minutes=2)
"""The catch-up run after a start, so a night the bot was down does not skip a purge."""


@dataclass(frozen=True)
class OrgPurge:
    """One loaded organisation: its retention, the moment before which reports go, and how many."""

    org_id: str
    retention: Duration
    cutoff: datetime
    reports: int


@dataclass(frozen=True)
class PurgeResult:
    """What one purge did (or, with `dry_run`, would do)."""

    dry_run: bool
    organisations: tuple[OrgPurge, ...]
    unloaded: tuple[tuple[str, int], ...]
    """Organisations with reports but no loaded routine: (id, reports kept), untouched."""
    drafts: int
    outbox: int
    checkpointed: bool
    """False if another connection kept part of the log busy (see `Database.checkpoint`)."""
    only: str | None = None
    """The organisation the purge was limited to (drafts and the outbox were then left alone)."""

    @property
    def reports(self) -> int:
        return sum(org.reports for org in self.organisations)


def cutoff(retention: Duration, now: datetime, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """`now - retention`: reports created before this moment are older than `retention`.

    Months are calendar months on the organisation's wall clock, as `Duration.add_to` counts
    them forward: 24 months before 10:00 on 24 November 2026 is 10:00 on 24 November 2024, and
    one month before 31 March is the last day of February.
    """
    if retention.unit == "mo":
        local = now.astimezone(ZoneInfo(timezone))
        return add_months(local, -retention.amount).astimezone(now.tzinfo)
    return now - retention.as_timedelta()


async def purge(
    db: Database,
    registry: RoutineRegistry,
    now: datetime,
    *,
    org_id: str | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete reports older than their organisation's retention, stale drafts and old outbox rows.

    With `org_id`, only that organisation's reports (drafts and the outbox are left to a full
    run). With `dry_run`, nothing changes and the counts say what would be deleted.
    """
    routines = registry.organisations()
    if org_id is not None:
        routines = [r for r in routines if r.id == org_id]
    loaded = {r.id for r in registry.organisations()}
    done: list[OrgPurge] = []
    for routine in routines:
        before = cutoff(routine.retention, now, routine.organisation.timezone)
        if dry_run:
            count = await db.count_reports_before(routine.id, before)
        else:
            count = await db.purge_reports(routine.id, before)
        done.append(OrgPurge(routine.id, routine.retention, before, count))
    unloaded = tuple(
        (org, count)
        for org, count in (await db.report_orgs()).items()
        if org not in loaded and (org_id is None or org == org_id)
    )
    drafts = outbox = 0
    if org_id is None:
        drafts_before, outbox_before = now - DRAFT_MAX_AGE, now - OUTBOX_KEEP
        if dry_run:
            drafts = await db.count_drafts_before(drafts_before)
            outbox = await db.count_prunable_outbox(outbox_before)
        else:
            drafts = await db.purge_drafts(drafts_before)
            outbox = await db.prune_outbox(outbox_before)
    checkpointed = True if dry_run else await db.checkpoint()
    result = PurgeResult(dry_run, tuple(done), unloaded, drafts, outbox, checkpointed, org_id)
    _log(result)
    return result


def _log(result: PurgeResult) -> None:
    """Counts and organisation ids only: nothing in a purge is about a person."""
    verb = "would delete" if result.dry_run else "deleted"
    log.info(
        "retention: %s %d report(s) (%s), %d draft(s), %d outbox row(s)",
        verb,
        result.reports,
        ", ".join(f"{o.org_id} {o.reports}" for o in result.organisations) or "no organisation",
        result.drafts,
        result.outbox,
    )
    for org, count in result.unloaded:
        log.warning(
            "retention: %d report(s) of %s kept: its routine is not loaded, so its retention is"
            " unknown",
            count,
            org,
        )


def render(result: PurgeResult) -> str:
    """What `trygg purge` prints: one line per organisation, then drafts and the outbox."""
    verb = "would be deleted" if result.dry_run else "deleted"
    lines = [
        f"{org.org_id}: {org.reports} report(s) older than {org.retention}"
        f" (created before {org.cutoff:%Y-%m-%d %H:%M} UTC) {verb}"
        for org in result.organisations
    ]
    lines += [
        f"{org}: {count} report(s) kept: its routine is not loaded, so its retention is unknown"
        for org, count in result.unloaded
    ]
    if not result.organisations and not result.unloaded:
        lines.append("no organisation to purge: none is loaded and no report is stored")
    if result.only is None:
        days = DRAFT_MAX_AGE.days
        lines.append(f"drafts untouched for {days} days: {result.drafts} {verb}")
        days = OUTBOX_KEEP.days
        lines.append(f"sent or given-up messages older than {days} days: {result.outbox} {verb}")
    if not result.checkpointed:
        lines.append(
            "note: another process was reading the database, so old copies of deleted pages may"
            " stay in the -wal file until its next checkpoint (run `trygg purge` again later)"
        )
    return "\n".join(lines)


# --- the daily job -------------------------------------------------------------------------


async def daily_purge(db: Database, registry: RoutineRegistry, now: datetime) -> None:
    """The scheduled purge: like `purge`, but a failure is logged and left to the next run, so
    it never takes the job queue down."""
    try:
        await purge(db, registry, now)
    except Exception as error:  # the next run tries again
        log.error("retention: the purge failed (%s); it runs again tomorrow", type(error).__name__)
