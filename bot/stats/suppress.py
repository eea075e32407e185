"""Small-number suppression: no count that could point at a person is shown or can be worked out.

A table here is a set of counts (cells) and the sums between them that a reader sees or can
derive: a row adds up to its total, last year's months add up to the period, and so on. Some
cells are *published* (shown in the chat, the chart, the CLI or the export's summary), others
are *hidden* but still follow from published ones (the months of last year inside "the last 12
months" are "12 months" minus "the year so far"). The rules, with the threshold T (default 3,
at least 3):

1. **Primary suppression.** Every published count below T is shown as `<T`, **0 included**. A 0
   names nobody, but if zeros were shown, `<3` would mean "1 or 2", and then a `<3` total made
   of two `<3` cells could be worked out: 1 and 1. With zeros inside `<3` a reader only ever
   learns "0, 1 or 2". The one exception: a period's total of reports is shown as 0 when nothing
   was reported (every cell of the period is then 0 and none points at anyone).
2. **Secondary suppression.** A count of 1..T-1, published or hidden, must not be derivable
   exactly from what is shown: not by subtracting shown cells from a shown total (a row, a
   column, the grand total), and not by chaining such sums or by the bounds the marks give
   (`<3` is 0..2, so three `<3` cells that must add up to 6 are all 2). The audit below finds
   each such count; for each, the smallest shown cell among its nearest sums is withheld too
   (period totals last, and a cell that would still follow from shown ones only when there is
   no other), and the audit runs again until no small count is exact. A withheld cell is T or
   more (everything smaller is `<T` already) and is shown as `..`. A withheld count of T or
   more may itself be derivable; that names no one.
3. **What the audit knows.** A shown cell is exact; `<T` is 0..T-1; `..` is T or more; a hidden
   cell is 0 or more. The bounds are tightened through every sum until nothing changes
   (interval propagation). That finds everything that differencing rows, columns and totals,
   and chains of them, reveal; it is not a full integer-programming audit.
4. **Fallback.** In rare tables the marks themselves give a small count away (`<3` cells whose
   withheld total must be at least 3). Then every suppressed cell of the table is shown as
   `..`, which a reader can only read as "any number", and rule 2 runs again. `<T` is then not
   used in that table.

Each published table is protected on its own. Combining outputs of different runs (another
period, another organisation) is outside what this guards; publish one set.
"""

from __future__ import annotations

import enum
import heapq
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

DEFAULT_THRESHOLD = 3
MIN_THRESHOLD = 3
WITHHELD = ".."

INFINITY = 1 << 62
"""An upper bound that says "no bound": a hidden or withheld cell can be any size."""

_MAX_ROUNDS = 10_000
_MAX_VISITS_PER_SUM = 200

Key = Hashable


class Mark(enum.Enum):
    """How a published cell is shown."""

    SHOWN = "shown"
    SMALL = "small"  # below the threshold: `<T`
    WITHHELD = "withheld"  # withheld so that a small count cannot be worked out: `..`


@dataclass(frozen=True)
class Sum:
    """`total` is the sum of `parts`: a relation every reader knows or can derive."""

    total: Key
    parts: tuple[Key, ...]


@dataclass
class Table:
    """Counts, which of them are published, and the sums between them."""

    values: dict[Key, int] = field(default_factory=dict)
    published: dict[Key, bool] = field(default_factory=dict)
    zero_shown: set[Key] = field(default_factory=set)
    precious: set[Key] = field(default_factory=set)
    sums: list[Sum] = field(default_factory=list)

    def add(
        self,
        key: Key,
        value: int,
        *,
        published: bool = True,
        zero_shown: bool = False,
        precious: bool = False,
    ) -> Key:
        """A cell. `zero_shown`: a 0 is shown as 0 (a period's total); `precious`: withheld
        only when no other cell will do (totals people read first)."""
        if value < 0:
            raise ValueError(f"a count cannot be negative: {key!r} = {value}")
        if key in self.values:
            raise ValueError(f"cell {key!r} is added twice")
        self.values[key] = value
        self.published[key] = published
        if zero_shown:
            self.zero_shown.add(key)
        if precious:
            self.precious.add(key)
        return key

    def add_sum(self, total: Key, parts: Iterable[Key]) -> None:
        """Declare that `total` is the sum of `parts`; the values must agree."""
        members = tuple(parts)
        for key in (total, *members):
            if key not in self.values:
                raise KeyError(f"cell {key!r} is not in the table")
        if sum(self.values[p] for p in members) != self.values[total]:
            raise ValueError(f"the parts of {total!r} do not add up to it")
        self.sums.append(Sum(total, members))


@dataclass(frozen=True)
class Published:
    """The cells of a table as they may be shown.

    `blanket`: the fallback of rule 4 was needed, every suppressed cell is `..` ("any number").
    """

    threshold: int
    values: Mapping[Key, int]
    marks: Mapping[Key, Mark]
    blanket: bool = False

    def mark(self, key: Key) -> Mark:
        return self.marks[key]

    def value(self, key: Key) -> int | None:
        """The exact count, or None when it is suppressed."""
        return self.values[key] if self.marks[key] is Mark.SHOWN else None

    def text(self, key: Key) -> str:
        """`12`, `<3` or `..`."""
        mark = self.marks[key]
        if mark is Mark.SHOWN:
            return str(self.values[key])
        if mark is Mark.SMALL:
            return f"<{self.threshold}"
        return WITHHELD

    def suppressed(self) -> list[Key]:
        return [k for k, m in self.marks.items() if m is not Mark.SHOWN]


class SuppressionError(RuntimeError):
    """A small count stays derivable even with every published cell withheld (a bug)."""


class AuditError(RuntimeError):
    """The audit could not finish: nothing may be published from the table."""


def check_threshold(threshold: int) -> int:
    """The threshold, if it is one: with 2, `<2` next to a withheld total says "1 and 1"."""
    if threshold < MIN_THRESHOLD:
        raise ValueError(f"the threshold must be at least {MIN_THRESHOLD}, not {threshold}")
    return threshold


def suppress(table: Table, threshold: int = DEFAULT_THRESHOLD) -> Published:
    """Apply primary and secondary suppression (and the fallback); nothing small is `exposed`."""
    check_threshold(threshold)
    primary: dict[Key, Mark] = {}
    for key, value in table.values.items():
        if not table.published[key]:
            continue
        if value == 0 and key in table.zero_shown:
            primary[key] = Mark.SHOWN
        elif value < threshold:
            primary[key] = Mark.SMALL
        else:
            primary[key] = Mark.SHOWN
    try:
        marks = _secondary(_Audit(table, threshold), dict(primary))
        return Published(threshold, dict(table.values), marks)
    except SuppressionError:
        blanket: dict[Key, Mark] = {
            k: Mark.WITHHELD if m is Mark.SMALL else m for k, m in primary.items()
        }
        marks = _secondary(_Audit(table, threshold, blanket=True), blanket)
        return Published(threshold, dict(table.values), marks, blanket=True)


def _secondary(audit: _Audit, marks: dict[Key, Mark]) -> dict[Key, Mark]:
    """Withhold more cells until the audit finds no small count exact."""
    for _ in range(_MAX_ROUNDS):
        lo, hi = audit.bounds(marks)
        pinned = audit.pinned(lo, hi)
        if not pinned:
            return marks
        chosen = audit.secondary(pinned, marks)
        if not chosen:
            raise SuppressionError(
                f"{len(pinned)} small count(s) stay derivable with nothing left to withhold"
            )
        for key in chosen:
            small = audit.table.values[key] < audit.threshold and not audit.blanket
            marks[key] = Mark.SMALL if small else Mark.WITHHELD
    raise SuppressionError("secondary suppression did not settle")


def exposed(table: Table, published: Published) -> list[Key]:
    """The small counts (1..T-1, published or hidden) a reader can work out exactly."""
    audit = _Audit(table, published.threshold, blanket=published.blanket)
    return audit.exposed(published.marks)


def intervals(table: Table, published: Published) -> dict[Key, tuple[int, int]]:
    """What a reader can know of each cell, as (lowest, highest); INFINITY means unbounded."""
    audit = _Audit(table, published.threshold, blanket=published.blanket)
    lo, hi = audit.bounds(published.marks)
    return {key: (lo[i], hi[i]) for i, key in enumerate(audit.keys)}


class _Audit:
    """Interval propagation over the sums of one table, on integer indices for speed."""

    def __init__(self, table: Table, threshold: int, *, blanket: bool = False) -> None:
        self.table = table
        self.threshold = threshold
        self.blanket = blanket  # `..` is then any number, not T or more
        self.keys: list[Key] = list(table.values)
        self.index = {key: i for i, key in enumerate(self.keys)}
        self.sums: list[tuple[int, tuple[int, ...]]] = [
            (self.index[s.total], tuple(self.index[p] for p in s.parts)) for s in table.sums
        ]
        self.sums_of: list[list[int]] = [[] for _ in self.keys]
        for number, (total, parts) in enumerate(self.sums):
            for member in {total, *parts}:
                self.sums_of[member].append(number)
        # The counts that must stay unknown: 1..T-1, published (as `<T`) or hidden.
        self.sensitive = [i for i, key in enumerate(self.keys) if 0 < table.values[key] < threshold]

    def _start(self, marks: Mapping[Key, Mark]) -> tuple[list[int], list[int]]:
        lo: list[int] = []
        hi: list[int] = []
        for key in self.keys:
            mark = marks.get(key)
            if mark is Mark.SHOWN:
                value = self.table.values[key]
                lo.append(value)
                hi.append(value)
            elif mark is Mark.SMALL:
                lo.append(0)
                hi.append(self.threshold - 1)
            elif mark is Mark.WITHHELD:
                lo.append(0 if self.blanket else self.threshold)
                hi.append(INFINITY)
            else:  # hidden
                lo.append(0)
                hi.append(INFINITY)
        return lo, hi

    def bounds(self, marks: Mapping[Key, Mark]) -> tuple[list[int], list[int]]:
        lo, hi = self._start(marks)
        # Small sums first: they settle cheaply, and a long sum (a column of 300 organisations)
        # is then narrowed once with what they found instead of once per change.
        heap = [(len(self.sums[n][1]), n) for n in range(len(self.sums)) if self._open(n, lo, hi)]
        heapq.heapify(heap)
        queued = [False] * len(self.sums)
        for _, number in heap:
            queued[number] = True
        visits = [0] * len(self.sums)
        while heap:
            _, number = heapq.heappop(heap)
            queued[number] = False
            visits[number] += 1
            if visits[number] > _MAX_VISITS_PER_SUM:
                # Views settle within about ten visits a sum. Stopping early would leave the
                # bounds wider than a reader could make them, so nothing is published instead.
                raise AuditError("the audit did not settle")
            for changed in self._tighten(number, lo, hi):
                for other in self.sums_of[changed]:
                    if not queued[other]:
                        queued[other] = True
                        heapq.heappush(heap, (len(self.sums[other][1]), other))
        return lo, hi

    def _open(self, number: int, lo: list[int], hi: list[int]) -> bool:
        """Whether a sum has a cell that is not known exactly (else there is nothing to do)."""
        total, parts = self.sums[number]
        return lo[total] != hi[total] or any(lo[p] != hi[p] for p in parts)

    def _tighten(self, number: int, lo: list[int], hi: list[int]) -> list[int]:
        """Narrow the bounds of one sum's cells; return the cells that changed."""
        total, parts = self.sums[number]
        changed: list[int] = []
        sum_lo = 0
        finite_hi = 0
        unbounded = 0
        for p in parts:
            sum_lo += lo[p]
            if hi[p] >= INFINITY:
                unbounded += 1
            else:
                finite_hi += hi[p]
        # The total lies between the sums of the parts' bounds.
        new_lo = max(lo[total], sum_lo)
        new_hi = hi[total] if unbounded else min(hi[total], finite_hi)
        if (new_lo, new_hi) != (lo[total], hi[total]):
            lo[total], hi[total] = new_lo, new_hi
            changed.append(total)
        t_lo, t_hi = lo[total], hi[total]
        for p in parts:
            p_unbounded = hi[p] >= INFINITY
            others_unbounded = unbounded - (1 if p_unbounded else 0)
            p_lo, p_hi = lo[p], hi[p]
            if not others_unbounded:
                others_hi = finite_hi - (0 if p_unbounded else hi[p])
                p_lo = max(p_lo, t_lo - others_hi)
            if t_hi < INFINITY:
                p_hi = min(p_hi, t_hi - (sum_lo - lo[p]))
            if (p_lo, p_hi) != (lo[p], hi[p]):
                if p_lo > p_hi:
                    raise SuppressionError("the table's sums contradict its values")
                lo[p], hi[p] = p_lo, p_hi
                changed.append(p)
        return changed

    def pinned(self, lo: Sequence[int], hi: Sequence[int]) -> list[int]:
        """The small counts whose bounds have met: a reader knows them exactly."""
        return [i for i in self.sensitive if lo[i] == hi[i]]

    def exposed(self, marks: Mapping[Key, Mark]) -> list[Key]:
        lo, hi = self.bounds(marks)
        return [self.keys[i] for i in self.pinned(lo, hi)]

    def secondary(self, pinned: Sequence[int], marks: Mapping[Key, Mark]) -> list[Key]:
        """One more cell to withhold per exposed count, skipping counts whose sums already got
        one this round (the audit runs again and sees whether that was enough)."""
        chosen: list[int] = []
        touched: set[int] = set()
        for start in pinned:
            if touched.intersection(self.sums_of[start]):
                continue
            candidate = self._candidate(start, marks)
            if candidate is None or candidate in chosen:
                continue
            chosen.append(candidate)
            touched.update(self.sums_of[candidate])
        return [self.keys[i] for i in chosen]

    def _candidate(self, start: int, marks: Mapping[Key, Mark]) -> int | None:
        """The cheapest shown cell in the sums nearest to `start` (breadth first through cells
        that are not shown): the smallest count, cells that are period totals last.

        A cell that would still be known after withholding it (every other cell of one of its
        sums is shown) protects nothing alone; of the nearest cells it is taken last.
        """
        seen_sums: set[int] = set()
        seen_cells = {start}
        frontier = [start]
        while frontier:
            found: list[int] = []
            next_frontier: list[int] = []
            for cell in frontier:
                for number in self.sums_of[cell]:
                    if number in seen_sums:
                        continue
                    seen_sums.add(number)
                    total, parts = self.sums[number]
                    for member in (total, *parts):
                        if member in seen_cells:
                            continue
                        seen_cells.add(member)
                        if marks.get(self.keys[member]) is Mark.SHOWN:
                            found.append(member)
                        else:
                            next_frontier.append(member)
            if found:
                useful = [c for c in found if not self._still_known(c, marks)]
                return min(useful or found, key=self._cost)
            frontier = next_frontier
        return None

    def _still_known(self, cell: int, marks: Mapping[Key, Mark]) -> bool:
        """Whether some sum of `cell` has every other cell shown, so it could be worked out."""
        for number in self.sums_of[cell]:
            total, parts = self.sums[number]
            if all(marks.get(self.keys[m]) is Mark.SHOWN for m in (total, *parts) if m != cell):
                return True
        return False

    def _cost(self, cell: int) -> tuple[bool, int, int]:
        key = self.keys[cell]
        return (key in self.table.precious, self.table.values[key], cell)
