"""Counts of reports by month and coded field, from the rows the database returns; pure.

The database keeps counts per organisation, month, dimension and code (`report_counts`, kept by
triggers in the same transaction as each report). Here they become `Counts` for one scope (an
organisation, or every organisation together), summed over the months of a `Window`: the last
12 months, the year so far, or a range asked for on the command line. Months are `YYYY-MM`, the
month an incident happened, never a finer date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date

from bot.reports import model
from bot.reports.model import Report
from bot.storage import CountRow as CountRow

TOTAL = "all"
"""The dimension of the plain count of reports (its code is '')."""

DIMENSIONS: dict[str, tuple[str, ...]] = {
    "type": model.TYPES,
    "channel": model.CHANNELS,
    "police": model.POLICE,
    "impact": model.IMPACTS,
}
"""The coded fields counted, with their codes in the form's order. Impacts are any-of: a report
counts once under each impact it names, so they do not add up to the total."""

EXCLUSIVE = ("type", "channel", "police")
"""Dimensions whose codes partition the reports: their counts add up to the total."""

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


def parse_month(text: str) -> str:
    """`YYYY-MM`, checked; ValueError with a message a person can act on otherwise."""
    if not _MONTH.match(text.strip()):
        raise ValueError(f"{text!r} is not a month: write it as YYYY-MM, e.g. 2026-03")
    return text.strip()


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def add_months(month: str, count: int) -> str:
    year, number = int(month[:4]), int(month[5:7])
    index = year * 12 + number - 1 + count
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def months_between(first: str, last: str) -> tuple[str, ...]:
    """Every month from `first` to `last`, both included; empty if `last` is before `first`."""
    months: list[str] = []
    month = first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return tuple(months)


@dataclass(frozen=True)
class Window:
    """A period statistics are given for: a name (`12m`, `ytd`, `range`) and its months."""

    name: str
    first: str
    last: str

    @property
    def months(self) -> tuple[str, ...]:
        return months_between(self.first, self.last)


def standard_windows(today: date) -> tuple[Window, Window]:
    """The last 12 months (this month and the 11 before it) and the year so far."""
    this_month = month_of(today)
    return (
        Window("12m", add_months(this_month, -11), this_month),
        Window("ytd", f"{today.year:04d}-01", this_month),
    )


def range_window(first: str, last: str) -> Window:
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    return Window("range", first, last)


@dataclass
class Counts:
    """Reports of one scope by (month, dimension, code)."""

    cells: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def add(self, month: str, dim: str, code: str, n: int = 1) -> None:
        key = (month, dim, code)
        self.cells[key] = self.cells.get(key, 0) + n

    def count(self, months: Iterable[str], dim: str = TOTAL, code: str = "") -> int:
        return sum(self.cells.get((month, dim, code), 0) for month in months)

    def total(self) -> int:
        return sum(n for (_, dim, _), n in self.cells.items() if dim == TOTAL)


def counts_from_rows(rows: Iterable[CountRow]) -> Counts:
    """The counts of rows (of one organisation, or already summed over all of them)."""
    counts = Counts()
    for row in rows:
        counts.add(row.month, row.dim, row.code, row.n)
    return counts


def counts_by_org(rows: Iterable[CountRow]) -> dict[str, Counts]:
    """Rows of several organisations, each organisation's counts apart."""
    found: dict[str, Counts] = {}
    for row in rows:
        found.setdefault(row.org_id, Counts()).add(row.month, row.dim, row.code, row.n)
    return found


def counts_from_reports(reports: Iterable[Report]) -> Counts:
    """The same counts straight from reports: what the stored counts must always equal."""
    counts = Counts()
    for report in reports:
        counts.add(report.month, TOTAL, "")
        counts.add(report.month, "type", report.type)
        counts.add(report.month, "channel", report.channel)
        counts.add(report.month, "police", report.police)
        for impact in report.impacts:
            counts.add(report.month, "impact", impact)
    return counts


def count_rows(org_id: str, counts: Counts) -> list[CountRow]:
    """Counts back as rows, sorted: for comparing with what the database holds."""
    return [
        CountRow(org_id, month, dim, code, n)
        for (month, dim, code), n in sorted(counts.cells.items())
        if n
    ]


def atoms(windows: Sequence[Window]) -> list[tuple[str, ...]]:
    """The months of the windows split into the smallest groups that every window is a union
    of: for the last 12 months and the year so far, last year's months and this year's.

    A reader who sees a count for both windows also knows it for each of these groups by
    subtracting, so suppression has to protect them as well.
    """
    groups: dict[tuple[bool, ...], list[str]] = {}
    members = [set(w.months) for w in windows]
    for month in sorted(set().union(*members)):
        signature = tuple(month in m for m in members)
        groups.setdefault(signature, []).append(month)
    return [tuple(months) for months in groups.values()]
