"""The statistics query: counts from the database, made into a suppressed view.

One function per audience, shared by /statistik, `trygg stats`, `trygg export` and the
benchmark, so they all show the same numbers with the same suppression.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from bot.stats.aggregate import Window, counts_by_org, counts_from_rows
from bot.stats.tables import StatsView, build_view
from bot.storage import Database


def _span(windows: Sequence[Window]) -> tuple[str, str]:
    return min(w.first for w in windows), max(w.last for w in windows)


async def organisation_view(
    db: Database, org_id: str, name: str, windows: Sequence[Window], threshold: int
) -> StatsView:
    """One organisation's statistics over `windows`, suppressed."""
    first, last = _span(windows)
    counts = counts_from_rows(await db.report_counts(org_id, first, last))
    return build_view(name, org_id, counts, windows, threshold)


async def national_view(
    db: Database,
    name: str,
    windows: Sequence[Window],
    threshold: int,
    names: Mapping[str, str] | None = None,
    organisations: Sequence[str] = (),
) -> StatsView:
    """Every organisation together, and per organisation its reports and those reported to
    the police, suppressed as one table. `organisations` are listed even without reports."""
    first, last = _span(windows)
    totals, rows = await db.national_counts(first, last)
    by_org = counts_by_org(rows)
    for org_id in organisations:
        by_org.setdefault(org_id, counts_from_rows(()))
    # A few hundred organisations take some 100 ms to suppress: off the event loop.
    return await asyncio.to_thread(
        build_view, name, None, counts_from_rows(totals), windows, threshold, by_org, names
    )
