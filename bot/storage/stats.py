"""Statistics: the counts kept by triggers, the status figures, reports for export."""

from __future__ import annotations

from bot.storage.core import (
    _all,
    _Core,
    _one,
    _run,
)
from bot.storage.migrations import rollback
from bot.storage.records import (
    CountRow,
    Report,
)
from bot.storage.reports import _REPORT_COLUMNS, _report

_ORG_COUNTS = """
SELECT month, dim, code, n FROM report_counts
WHERE org_id = :org_id AND month BETWEEN :first AND :last
"""

# Summed in the order of report_counts_by_month, so SQLite groups while it reads the index.
_NATIONAL_COUNTS = """
SELECT month, dim, code, SUM(n) FROM report_counts
WHERE month BETWEEN :first AND :last
GROUP BY month, dim, code
"""

_COUNTS_BY_ORG = """
SELECT org_id, month, dim, code, n FROM report_counts
WHERE month BETWEEN :first AND :last AND (dim = 'all' OR (dim = 'police' AND code = 'ja'))
"""


class StatsQueries(_Core):
    """Read-only figures for /status and the statistics."""

    # --- status ------------------------------------------------------------------------------

    async def counts_for_status(self, org_id: str) -> dict[str, int]:
        """`open` and `unacknowledged` reports of the organisation, and `outbox_pending` (all)."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT"
                " (SELECT COUNT(*) FROM reports WHERE org_id = :org_id AND state != 'closed'),"
                " (SELECT COUNT(*) FROM reports WHERE org_id = :org_id AND state = 'new'),"
                " (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL)",
                {"org_id": org_id},
            )
        assert row is not None
        return {"open": int(row[0]), "unacknowledged": int(row[1]), "outbox_pending": int(row[2])}

    # --- statistics --------------------------------------------------------------------------

    async def report_counts(self, org_id: str, first: str, last: str) -> list[CountRow]:
        """The organisation's reports per month and coded field, for the months `first` to
        `last` (`YYYY-MM`, both included). Kept by triggers (schema v4): a few hundred rows."""
        async with self._read() as conn:
            rows = await _all(conn, _ORG_COUNTS, {"org_id": org_id, "first": first, "last": last})
        return [CountRow(org_id, r[0], r[1], r[2], int(r[3])) for r in rows]

    async def national_counts(self, first: str, last: str) -> tuple[list[CountRow], list[CountRow]]:
        """Every organisation's counts summed (org_id ''), and per organisation its reports and
        those reported to the police, for the months `first` to `last`.

        Both are read in one transaction, so they add up even while reports come and go.
        """
        params = {"first": first, "last": last}
        async with self._read() as conn:
            await _run(conn, "BEGIN")
            try:
                totals = await _all(conn, _NATIONAL_COUNTS, params)
                by_org = await _all(conn, _COUNTS_BY_ORG, params)
            finally:
                await rollback(conn)  # read only: nothing to keep
        return (
            [CountRow("", r[0], r[1], r[2], int(r[3])) for r in totals],
            [CountRow(r[0], r[1], r[2], r[3], int(r[4])) for r in by_org],
        )

    async def reports_between(self, org_id: str, first: str, last: str) -> list[Report]:
        """The organisation's reports of incidents in the months `first` to `last`, ordered by
        month and codes: never in the order they were sent, which could tell who sent which."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE org_id = :org_id AND month BETWEEN :first AND :last"
                " ORDER BY month, type, channel, police, impacts, perpetrator, repeated, gender,"
                " description",
                {"org_id": org_id, "first": first, "last": last},
            )
        return [_report(row) for row in rows]
