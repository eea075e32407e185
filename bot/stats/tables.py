"""What a statistics view shows, as one table for suppression: every count with its sums.

A view is one organisation (or every organisation together) over one or more windows (the last
12 months and the year so far, or a range). It shows the reports per window, per month, per
type, channel and police answer, each impact, and, for the national view, per organisation the
reports and how many were reported to the police. All of it is one `Table`, so one
suppression run sees every sum a reader could use at once: a type's count in both windows
gives its count in last year's months; the months add up to the windows; the organisations add
up to the national total; a report without an impact is the total minus those with it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.stats.aggregate import DIMENSIONS, EXCLUSIVE, TOTAL, Counts, Window, atoms
from bot.stats.suppress import Key, Mark, Published, Table, suppress


@dataclass(frozen=True)
class Figure:
    """A count as it may be shown: its text (`12`, `<3`, `..`) and the value when shown."""

    text: str
    value: int | None

    @property
    def shown(self) -> bool:
        return self.value is not None


@dataclass(frozen=True)
class Organisation:
    org_id: str
    name: str


@dataclass(frozen=True)
class StatsView:
    """Suppressed statistics of one scope, ready for text, chart, CLI and export."""

    name: str  # the organisation's name, or "all organisations" in the reader's language
    org_id: str | None  # None: every organisation together
    windows: tuple[Window, ...]
    months: tuple[str, ...]
    codes: Mapping[str, tuple[str, ...]]
    organisations: tuple[Organisation, ...]  # per-organisation rows (the national view)
    published: Published

    @property
    def threshold(self) -> int:
        return self.published.threshold

    def _figure(self, key: Key) -> Figure:
        return Figure(self.published.text(key), self.published.value(key))

    def total(self, window: Window) -> Figure:
        return self._figure(("n", window.name))

    def month(self, month: str) -> Figure:
        return self._figure(("month", month))

    def count(self, dim: str, code: str, window: Window) -> Figure:
        return self._figure((dim, code, window.name))

    def org_total(self, org_id: str, window: Window) -> Figure:
        return self._figure(("org", org_id, window.name))

    def org_police(self, org_id: str, window: Window) -> Figure:
        return self._figure(("org-police", org_id, window.name))

    def share(self, dim: str, code: str, window: Window) -> float | None:
        """The count's share of the window's reports; None unless both are shown and not 0."""
        return _share(self.count(dim, code, window), self.total(window))

    def org_police_share(self, org_id: str, window: Window) -> float | None:
        return _share(self.org_police(org_id, window), self.org_total(org_id, window))

    def suppressed(self) -> int:
        """How many published cells are `<T` or `..`."""
        return len(self.published.suppressed())

    def marks(self) -> Mapping[Key, Mark]:
        return self.published.marks


def _share(part: Figure, whole: Figure) -> float | None:
    if part.value is None or not whole.value:
        return None
    return part.value / whole.value


def view_codes(counts: Counts) -> dict[str, tuple[str, ...]]:
    """The codes of each dimension: the form's, then any other stored code (kept, so that the
    codes still add up to the total after a code is retired)."""
    found: dict[str, tuple[str, ...]] = {}
    for dim, known in DIMENSIONS.items():
        extra = sorted({code for (_, d, code) in counts.cells if d == dim} - set(known))
        found[dim] = (*known, *extra)
    return found


def build_table(
    counts: Counts,
    windows: Sequence[Window],
    by_org: Mapping[str, Counts] | None = None,
) -> tuple[Table, dict[str, tuple[str, ...]]]:
    """Every count of the view and every sum between them (see the module docstring)."""
    if not windows:
        raise ValueError("a view needs at least one window")
    table = Table()
    groups = atoms(windows)
    # A group of months that is a whole window (the year so far) is that window's cell.
    atom_names = [
        next((w.name for w in windows if w.months == group), f"@{i}")
        for i, group in enumerate(groups)
    ]
    slots: list[tuple[str, tuple[str, ...], bool]] = [(w.name, w.months, True) for w in windows]
    slots += [
        (name, group, False)
        for name, group in zip(atom_names, groups, strict=True)
        if name.startswith("@")
    ]
    parts_of = {
        w.name: [a for a, g in zip(atom_names, groups, strict=True) if set(g) <= set(w.months)]
        for w in windows
    }

    def family(
        prefix: tuple[str, ...],
        count: Callable[[tuple[str, ...]], int],
        *,
        published: bool = True,
        totals: bool = False,
    ) -> None:
        """The cells of one count for every window and month group, and how they add up."""
        for name, months, is_window in slots:
            table.add(
                (*prefix, name),
                count(months),
                published=published and is_window,
                zero_shown=totals,
                precious=totals,
            )
        for window in windows:
            if parts_of[window.name] != [window.name]:
                table.add_sum((*prefix, window.name), [(*prefix, a) for a in parts_of[window.name]])

    family(("n",), lambda months: counts.count(months), totals=True)
    months = tuple(m for group in groups for m in group)
    for month in sorted(months):
        table.add(("month", month), counts.count([month]))
    for name, group in zip(atom_names, groups, strict=True):
        table.add_sum(("n", name), [("month", m) for m in group])
    # A window that holds another is that one plus its other months: all of it published.
    for outer in windows:
        for inner in windows:
            rest = sorted(set(outer.months) - set(inner.months))
            if inner != outer and set(inner.months) < set(outer.months):
                table.add_sum(("n", outer.name), [("n", inner.name), *(("month", m) for m in rest)])

    codes = view_codes(counts)
    for dim in EXCLUSIVE:
        for code in codes[dim]:
            family((dim, code), _counter(counts, dim, code))
        for name, _, _ in slots:
            table.add_sum(("n", name), [(dim, code, name) for code in codes[dim]])

    for code in codes["impact"]:
        family(("impact", code), _counter(counts, "impact", code))
        family(
            ("impact-not", code), _counter(counts, "impact", code, without=True), published=False
        )
        for name, _, _ in slots:
            table.add_sum(("n", name), [("impact", code, name), ("impact-not", code, name)])

    if by_org is not None:
        _organisations(table, by_org, slots, family)
    return table, codes


def _counter(
    counts: Counts, dim: str, code: str, *, without: bool = False
) -> Callable[[tuple[str, ...]], int]:
    """Reports with `code` in `dim` in the given months (`without`: the reports without it)."""

    def count(months: tuple[str, ...]) -> int:
        found = counts.count(months, dim, code)
        return counts.count(months) - found if without else found

    return count


def _organisations(
    table: Table,
    by_org: Mapping[str, Counts],
    slots: Sequence[tuple[str, tuple[str, ...], bool]],
    family: Callable[..., None],
) -> None:
    """Per organisation: its reports and those reported to the police, adding up to the total."""
    org_ids = sorted(by_org)
    for org_id in org_ids:
        org = by_org[org_id]
        family(("org", org_id), _counter(org, TOTAL, ""))
        family(("org-police", org_id), _counter(org, "police", "ja"))
        family(("org-other", org_id), _counter(org, "police", "ja", without=True), published=False)
        for name, _, _ in slots:
            table.add_sum(
                ("org", org_id, name),
                [("org-police", org_id, name), ("org-other", org_id, name)],
            )
    for name, _, _ in slots:
        table.add_sum(("n", name), [("org", o, name) for o in org_ids])
        table.add_sum(("police", "ja", name), [("org-police", o, name) for o in org_ids])


def build_view(
    name: str,
    org_id: str | None,
    counts: Counts,
    windows: Sequence[Window],
    threshold: int,
    by_org: Mapping[str, Counts] | None = None,
    names: Mapping[str, str] | None = None,
) -> StatsView:
    """Suppressed statistics of `counts` over `windows`; with `by_org`, per organisation too
    (`by_org` must add up to `counts`; `names` gives organisations their names)."""
    table, codes = build_table(counts, windows, by_org)
    published = suppress(table, threshold)
    months = tuple(sorted({m for w in windows for m in w.months}))
    organisations = tuple(Organisation(o, (names or {}).get(o, o)) for o in sorted(by_org or {}))
    return StatsView(
        name=name,
        org_id=org_id,
        windows=tuple(windows),
        months=months,
        codes=codes,
        organisations=organisations,
        published=published,
    )
