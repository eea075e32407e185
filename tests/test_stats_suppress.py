"""Small-number suppression: what is hidden cannot be worked out from what is shown.

The property tests draw random tables (rows × columns with row, column and grand totals, and
the statistics views themselves) and check, after suppression, that no count of 1..T-1 can be
recovered: not by subtracting the shown cells of a row, column or total from its shown total,
and not by the interval reasoning of `intervals` over every sum at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.reports.model import CHANNELS, IMPACTS, POLICE, TYPES
from bot.stats.aggregate import Counts, range_window, standard_windows
from bot.stats.suppress import (
    INFINITY,
    Mark,
    Published,
    SuppressionError,
    Table,
    exposed,
    intervals,
    suppress,
)
from bot.stats.tables import build_table, build_view


def grid(rows: Sequence[Sequence[int]]) -> Table:
    """A two-way table with its row totals, column totals and grand total, all published."""
    table = Table()
    height, width = len(rows), len(rows[0])
    for i in range(height):
        for j in range(width):
            table.add((i, j), rows[i][j])
        table.add(("row", i), sum(rows[i]))
        table.add_sum(("row", i), [(i, j) for j in range(width)])
    for j in range(width):
        table.add(("col", j), sum(row[j] for row in rows))
        table.add_sum(("col", j), [(i, j) for i in range(height)])
    table.add("all", sum(map(sum, rows)))
    table.add_sum("all", [("row", i) for i in range(height)])
    table.add_sum("all", [("col", j) for j in range(width)])
    return table


def differencing_leaks(table: Table, published: Published) -> list[object]:
    """Small counts recovered by subtracting the shown parts of a sum from its shown total, or
    by adding the shown parts when only the total is hidden."""
    leaks: list[object] = []
    shown = {k for k, m in published.marks.items() if m is Mark.SHOWN}
    threshold = published.threshold
    for relation in table.sums:
        members = [relation.total, *relation.parts]
        hidden = [k for k in members if k not in shown]
        if len(hidden) != 1:
            continue
        [key] = hidden
        if key == relation.total:
            derived = sum(table.values[p] for p in relation.parts)
        else:
            derived = table.values[relation.total] - sum(
                table.values[p] for p in relation.parts if p != key
            )
        assert derived == table.values[key]
        if 0 < derived < threshold:
            leaks.append(key)
    return leaks


cell_values = st.one_of(st.integers(0, 4), st.integers(0, 40))
tables = st.integers(1, 5).flatmap(
    lambda width: st.lists(
        st.lists(cell_values, min_size=width, max_size=width), min_size=1, max_size=5
    )
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=tables, threshold=st.integers(3, 6))
def test_no_small_cell_of_a_two_way_table_can_be_worked_out(
    rows: list[list[int]], threshold: int
) -> None:
    table = grid(rows)
    published = suppress(table, threshold)
    for key, value in table.values.items():
        if value < threshold and key != "all" and published.mark(key) is Mark.SHOWN:
            pytest.fail(f"{key} = {value} is shown")
    assert differencing_leaks(table, published) == []
    assert exposed(table, published) == []
    bounds = intervals(table, published)
    for key, value in table.values.items():
        lo, hi = bounds[key]
        assert lo <= value <= hi  # the audit never rules out the truth
        if 0 < value < threshold:
            assert lo < hi, key
        if published.mark(key) is Mark.SMALL:
            assert published.text(key) == f"<{threshold}" and not published.blanket
        if published.mark(key) is Mark.WITHHELD:
            assert published.text(key) == ".."
            assert value >= threshold or published.blanket


def random_counts(draw: st.DrawFn, months: Sequence[str]) -> Counts:
    counts = Counts()
    for month in months:
        reports = draw(st.integers(0, 6))
        for _ in range(reports):
            counts.add(month, "all", "")
            counts.add(month, "type", draw(st.sampled_from(TYPES[:4])))
            counts.add(month, "channel", draw(st.sampled_from(CHANNELS[:3])))
            counts.add(month, "police", draw(st.sampled_from(POLICE)))
            for impact in draw(st.sets(st.sampled_from(IMPACTS), max_size=2)):
                counts.add(month, "impact", impact)
    return counts


@st.composite
def views(draw: st.DrawFn) -> tuple[Counts, dict[str, Counts] | None, date]:
    today = date(2026, draw(st.integers(1, 12)), 15)
    months = standard_windows(today)[0].months
    if draw(st.booleans()):
        return random_counts(draw, months), None, today
    by_org = {f"org{i}": random_counts(draw, months) for i in range(draw(st.integers(1, 4)))}
    total = Counts()
    for org in by_org.values():
        for (month, dim, code), n in org.cells.items():
            total.add(month, dim, code, n)
    return total, by_org, today


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=views(), threshold=st.integers(3, 5))
def test_no_small_count_of_a_statistics_view_can_be_worked_out(
    case: tuple[Counts, dict[str, Counts] | None, date], threshold: int
) -> None:
    counts, by_org, today = case
    windows = standard_windows(today)
    table, _ = build_table(counts, windows, by_org)
    published = suppress(table, threshold)
    assert differencing_leaks(table, published) == []
    assert exposed(table, published) == []
    bounds = intervals(table, published)
    for key, value in table.values.items():
        assert bounds[key][0] <= value <= bounds[key][1]
        if 0 < value < threshold:
            assert bounds[key][0] < bounds[key][1], key


def test_a_lone_small_cell_takes_the_next_smallest_with_it() -> None:
    published = suppress(grid([[5, 2, 7]]), 3)
    assert [published.text((0, j)) for j in range(3)] == ["..", "<3", "7"]
    assert published.text(("row", 0)) == "14"


def test_small_cells_that_must_add_up_to_their_total_are_not_left_exact() -> None:
    # Two <3 cells that add up to 4 would both be 2: a third cell is withheld.
    published = suppress(grid([[2, 2, 10], [10, 10, 10]]), 3)
    assert published.text((0, 0)) == published.text((0, 1)) == "<3"
    assert published.mark((0, 2)) is Mark.WITHHELD


def test_when_the_marks_give_counts_away_every_suppressed_cell_is_withheld() -> None:
    # As <3, the top row's cells (0..2 each, total <3) under columns of at least 3 would be
    # 1 and 1, and the others 2 and 2: so every suppressed cell is shown as "..".
    table = grid([[1, 1], [2, 2]])
    published = suppress(table, 3)
    assert published.blanket
    assert {published.text(k) for k in published.suppressed()} == {".."}
    assert exposed(table, published) == []


def test_zero_is_shown_as_below_the_threshold_except_a_period_total() -> None:
    table = Table()
    table.add("total", 0, zero_shown=True)
    table.add("a", 0)
    table.add_sum("total", ["a"])
    published = suppress(table, 3)
    assert published.text("total") == "0"
    assert published.text("a") == "<3"


def test_a_large_table_without_small_counts_is_shown_whole() -> None:
    rows = [[10 + i + j for j in range(4)] for i in range(4)]
    published = suppress(grid(rows), 3)
    assert published.suppressed() == []


def test_the_threshold_is_at_least_three() -> None:
    # With 2, "<2" next to a withheld total of two cells would say "1 and 1".
    with pytest.raises(ValueError, match="at least 3"):
        suppress(grid([[1, 1]]), 2)


def test_sums_that_do_not_add_up_are_refused() -> None:
    table = Table()
    table.add("t", 3)
    table.add("a", 1)
    with pytest.raises(ValueError, match="do not add up"):
        table.add_sum("t", ["a"])


def test_intervals_know_the_marks() -> None:
    published = suppress(grid([[5, 2, 7]]), 3)
    bounds = intervals(grid([[5, 2, 7]]), published)
    assert bounds[(0, 1)] == (0, 2)  # <3: 0, 1 or 2
    assert bounds[(0, 0)][0] >= 3 and bounds[(0, 0)][1] < INFINITY


def test_a_view_of_one_month_range_protects_its_single_cells() -> None:
    counts = Counts()
    counts.add("2026-03", "all", "", 4)
    counts.add("2026-03", "type", "hot", 3)
    counts.add("2026-03", "type", "vald", 1)
    counts.add("2026-03", "channel", "epost", 4)
    counts.add("2026-03", "police", "nej", 4)
    view = build_view("X", "x", counts, [range_window("2026-03", "2026-03")], 3)
    window = view.windows[0]
    assert view.total(window).text == "4"
    # 4 - 3 leaves 1 for the other eleven types, each shown as <3: which one is not known.
    assert view.count("type", "hot", window).text == "3"
    assert view.count("type", "vald", window).text == "<3"
    assert view.count("type", "annat", window).text == "<3"
    assert view.count("channel", "epost", window).text == "4"
    assert view.share("channel", "epost", window) == 1.0


def test_suppression_error_is_a_runtime_error() -> None:
    assert issubclass(SuppressionError, RuntimeError)
