"""stats_1m: the statistics query over one million reports of 311 organisations.

A temporary database gets 1,000,000 reports of 311 organisations (290 kommuner, 21 regioner),
spread over the 24 months up to November 2026 (the longest retention), written with
`executemany` in one transaction at the schema before the statistics migration; `Database.open`
then migrates it, and the migration counts them (`report_counts`) as it would for an existing
installation. From then on triggers keep the counts, in the bot's own transactions. Organisation
sizes are uneven, as they are in Sweden: a few large ones, many small ones (weights
1/rank^0.8).

Timed, best of `RUNS` after one warm-up:

- **value**: `organisation_view` for the largest organisation, what /statistik and `trygg
  stats --org` do: read its counts for the last 12 months and the year so far, sum them, build
  the table and suppress it. Goal: under 200 ms.
- `median_org_ms`: the same for the organisation of median size.
- `national_ms`: `national_view`, what the national role gets: every organisation summed, and
  per organisation its reports and those reported to the police, suppressed as one table.

The counts must equal a GROUP BY over the reports of the largest organisation, or the
benchmark fails.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.measure import rounded, summary
from bot.reports import model
from bot.stats.aggregate import add_months, standard_windows
from bot.stats.service import national_view, organisation_view
from bot.stats.suppress import DEFAULT_THRESHOLD
from bot.storage import MIGRATIONS, Database, split_statements

NAME = "stats_1m"
REPORTS = 1_000_000
KOMMUNER = 290
REGIONER = 21
MONTHS = 24
TODAY = date(2026, 11, 24)
SEED = 20261124
RUNS = 7
GOAL_MS = 200.0
BATCH = 50_000
CACHE_KIB = 512 * 1024

_INSERT = (
    "INSERT INTO reports (ref, org_id, type, channel, month, repeated, perpetrator, police,"
    " impacts, gender, description, contact_me, state, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, 'closed', ?)"
)
_IMPACT_CHOICES = ("", "avstod", "rutiner", "avstod,overvagt", "avstod,rutiner", "ingen")


def organisations() -> list[str]:
    return [f"kommun-{i:03d}" for i in range(KOMMUNER)] + [
        f"region-{i:02d}" for i in range(REGIONER)
    ]


def _rows(rng: random.Random, orgs: list[str], weights: list[float]) -> Any:
    months = [add_months(f"{TODAY.year:04d}-{TODAY.month:02d}", -n) for n in range(MONTHS)]
    chosen = rng.choices(orgs, weights=weights, k=REPORTS)
    for number, org_id in enumerate(chosen):
        month = rng.choice(months)
        yield (
            f"R-{number:07d}",
            org_id,
            rng.choice(model.TYPES),
            rng.choice(model.CHANNELS),
            month,
            rng.randint(0, 1),
            rng.choice(model.PERPETRATORS),
            rng.choices(model.POLICE, weights=(1, 1, 4))[0],
            rng.choice(_IMPACT_CHOICES),
            rng.choice((*model.GENDERS, None)),
            f"{month}-15T12:00:00.000000+00:00",
        )


def seed(path: Path) -> tuple[list[str], float]:
    """Write the reports into a database at the schema before the statistics migration, then
    open it with `Database.open`, whose migration counts them (the backfill every existing
    installation runs); return the organisations by size (largest first) and the seconds it
    took. Inserting with the triggers would count the same, a report at a time, 3x slower."""
    before = _statistics_migration()
    rng = random.Random(SEED)
    orgs = organisations()
    weights = [1 / (rank + 1) ** 0.8 for rank in range(len(orgs))]
    start = time.perf_counter()
    path.touch(mode=0o600)  # as Database.open would make it
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        # A scratch file: neither durability nor the journal is measured, only the query.
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute(f"PRAGMA cache_size = {-CACHE_KIB:d}")
        conn.execute("BEGIN")
        for script in MIGRATIONS[:before]:
            for statement in split_statements(script):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {before:d}")
        batch: list[tuple[Any, ...]] = []
        for row in _rows(rng, orgs, weights):
            batch.append(row)
            if len(batch) == BATCH:
                conn.executemany(_INSERT, batch)
                batch.clear()
        conn.executemany(_INSERT, batch)
        conn.execute("COMMIT")
        sizes = dict(conn.execute("SELECT org_id, COUNT(*) FROM reports GROUP BY org_id"))
    finally:
        conn.close()
    asyncio.run(_migrate(path))
    conn = sqlite3.connect(path)
    try:
        conn.execute("ANALYZE")
    finally:
        conn.close()
    return sorted(orgs, key=lambda o: -sizes.get(o, 0)), time.perf_counter() - start


def _statistics_migration() -> int:
    """The index of the migration that adds `report_counts`."""
    return next(i for i, m in enumerate(MIGRATIONS) if "CREATE TABLE report_counts" in m)


async def _migrate(path: Path) -> None:
    async with await Database.open(path):
        pass


def verify(path: Path, org_id: str, counted: dict[tuple[str, str, str], int]) -> None:
    """The counts the triggers kept equal a GROUP BY over the reports themselves."""
    windows = standard_windows(TODAY)
    first = min(w.first for w in windows)
    conn = sqlite3.connect(path)
    try:
        expected: dict[tuple[str, str, str], int] = {}
        for dim in ("type", "channel", "police"):
            for month, code, n in conn.execute(
                f"SELECT month, {dim}, COUNT(*) FROM reports WHERE org_id = ? AND month >= ?"
                " GROUP BY 1, 2",
                (org_id, first),
            ):
                expected[(month, dim, code)] = n
        for month, n in conn.execute(
            "SELECT month, COUNT(*) FROM reports WHERE org_id = ? AND month >= ? GROUP BY 1",
            (org_id, first),
        ):
            expected[(month, "all", "")] = n
    finally:
        conn.close()
    got = {k: v for k, v in counted.items() if k[1] != "impact"}
    if got != expected:
        raise RuntimeError("the stored counts differ from the reports")


async def _measure(path: Path, largest: str, median: str) -> dict[str, Any]:
    windows = standard_windows(TODAY)
    async with await Database.open(path) as db:
        times: dict[str, list[float]] = {"largest": [], "median": [], "national": []}
        view = None
        for run in range(RUNS + 1):  # the first is a warm-up
            start = time.perf_counter()
            view = await organisation_view(db, largest, largest, windows, DEFAULT_THRESHOLD)
            largest_s = time.perf_counter() - start
            start = time.perf_counter()
            await organisation_view(db, median, median, windows, DEFAULT_THRESHOLD)
            median_s = time.perf_counter() - start
            start = time.perf_counter()
            national = await national_view(db, "Sverige", windows, DEFAULT_THRESHOLD)
            national_s = time.perf_counter() - start
            if run:
                times["largest"].append(largest_s)
                times["median"].append(median_s)
                times["national"].append(national_s)
        first = min(w.first for w in windows)
        rows = await db.report_counts(largest, first, windows[0].last)
    assert view is not None
    if len(national.organisations) != KOMMUNER + REGIONER:
        raise RuntimeError(f"the national view has {len(national.organisations)} organisations")
    counted = {(r.month, r.dim, r.code): r.n for r in rows}
    return {
        "times": times,
        "counted": counted,
        "reports_largest": view.total(windows[0]).value,
        "suppressed_national": national.suppressed(),
    }


def run() -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trygg-bench-stats-") as tmp:
        path = Path(tmp) / "trygg.sqlite3"
        by_size, seed_s = seed(path)
        largest, median = by_size[0], by_size[len(by_size) // 2]
        measured = asyncio.run(_measure(path, largest, median))
        verify(path, largest, measured["counted"])
        size_mib = path.stat().st_size / (1024 * 1024)
    times = measured["times"]
    best_ms = summary(times["largest"])["best"] * 1000
    return {
        "name": NAME,
        "value": rounded(best_ms),
        "unit": "ms",
        "goal": GOAL_MS,
        "median_ms": rounded(summary(times["largest"])["median"] * 1000),
        "median_org_ms": rounded(summary(times["median"])["best"] * 1000),
        "national_ms": rounded(summary(times["national"])["best"] * 1000),
        "reports": REPORTS,
        "organisations": KOMMUNER + REGIONER,
        "reports_largest_12m": measured["reports_largest"],
        "seed_s": rounded(seed_s, 3),
        "db_mib": rounded(size_mib, 3),
    }


if __name__ == "__main__":
    print(run())
