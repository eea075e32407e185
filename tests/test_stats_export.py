"""Exports and the chart: the CSV parses, the workbook reads back, the PNG has its title."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date

import openpyxl
import pytest
from PIL import Image

from bot.handlers.render import split_html
from bot.reports.model import State
from bot.stats.aggregate import Counts, counts_from_reports, standard_windows
from bot.stats.chart import HEIGHT, WIDTH, chart_title, render_chart
from bot.stats.export import (
    REPORT_COLUMNS,
    stats_csv,
    stats_json,
    write_reports_csv,
    xlsx_bytes,
)
from bot.stats.render import render_messages
from bot.stats.tables import StatsView, build_view
from tests.test_stats_aggregate import report

WINDOWS = standard_windows(date(2026, 11, 24))

REPORTS = [
    *(replace(report("solvik", "2026-03"), description="Han skrev till mig.") for _ in range(5)),
    *(report("solvik", "2026-04", type="nathat", channel="sociala_medier") for _ in range(4)),
    replace(
        report("solvik", "2026-02", type="vald", impacts=("avstod", "overvagt")),
        description="=cmd|' /C calc'!A0",
        gender="kvinna",
        state=State.CLOSED,
    ),
]


def view_of() -> StatsView:
    return build_view("Solviks kommun", "solvik", counts_from_reports(REPORTS), WINDOWS, 3)


def test_the_csv_has_codes_and_labels_one_row_per_report() -> None:
    out = io.StringIO()
    assert write_reports_csv(REPORTS, out, "sv") == 10
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert len(rows) == 10
    assert tuple(rows[0]) == REPORT_COLUMNS
    violence = next(r for r in rows if r["type"] == "vald")
    assert violence["type_label"] == "Våld"
    assert violence["impacts"] == "avstod;overvagt"
    assert violence["impacts_label"] == "Avstod fråga/uttalande; Funderat på att lämna uppdraget"
    assert violence["gender_label"] == "Kvinna"
    assert violence["state_label"] == "Stängd"
    assert violence["month"] == "2026-02"


def test_descriptions_only_with_text_and_never_as_a_formula() -> None:
    out = io.StringIO()
    write_reports_csv(REPORTS, out, "en", with_text=True)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert rows[0]["type_label"] in ("Threat", "Violence", "Online hate, defamation")
    texts = {r["description"] for r in rows}
    assert "Han skrev till mig." in texts
    assert "'=cmd|' /C calc'!A0" in texts


def test_the_workbook_reads_back_with_the_suppressed_summary() -> None:
    data = xlsx_bytes(view_of(), REPORTS, "sv", with_text=True)
    book = openpyxl.load_workbook(io.BytesIO(data))
    assert book.sheetnames == ["Sammanställning", "Rapporter"]
    summary = [list(r) for r in book["Sammanställning"].iter_rows(values_only=True)]
    assert summary[0] == ["Statistik – Solviks kommun"] + [None] * (len(summary[0]) - 1)
    totals = next(r for r in summary if r[0] == "Rapporter")
    assert totals[3:5] == [10, 10]
    assert next(r for r in summary if r[1] == "hot")[3:5] == [5, 5]
    assert next(r for r in summary if r[1] == "vald")[3:5] == ["<3", "<3"]
    police = next(r for r in summary if r[1] == "police.ja")
    assert police[-1] == pytest.approx(1 / 6)  # PTU (Brå) beside it
    sheet = book["Rapporter"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][-1] == "description" and len(rows) == 11
    column = openpyxl.utils.get_column_letter(rows[0].index("description") + 1)
    formula = next(c for c in sheet[column] if c.value and str(c.value).startswith("=cmd"))
    assert formula.data_type == "s"  # text, not a formula


def test_a_national_workbook_has_organisations_and_no_reports() -> None:
    total = counts_from_reports(REPORTS)
    by_org = {"solvik": total, "tomby": Counts()}
    view = build_view("Alla", None, total, WINDOWS, 3, by_org, {"solvik": "Solviks kommun"})
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes(view, None, "en")))
    assert book.sheetnames == ["Summary", "Organisations"]
    rows = list(book["Organisations"].iter_rows(values_only=True))
    assert rows[1][:2] == ("solvik", "Solviks kommun")
    assert rows[2][:2] == ("tomby", "tomby")
    assert rows[2][2] == "<3"


def test_stats_csv_and_json_show_marks_as_marks() -> None:
    view = view_of()
    out = io.StringIO()
    stats_csv(view, out, "sv")
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    vald = next(r for r in rows if r["code"] == "vald" and r["window"] == "12m")
    assert vald["count"] == "<3"
    data = stats_json(view)
    assert data["windows"]["ytd"]["type"]["hot"] == 5
    assert data["windows"]["ytd"]["shares"]["police.ja"] is None  # 0 of 10: not shown


def test_the_chart_is_a_png_with_the_title() -> None:
    view = view_of()
    png = render_chart(view, "sv")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = Image.open(io.BytesIO(png))
    assert image.size == (WIDTH, HEIGHT)
    assert image.text["Title"] == "Solviks kommun: rapporter 2025-12 – 2026-11"
    assert chart_title(view, "en") == "Solviks kommun: reports 2025-12 – 2026-11"


def test_long_tables_are_split_between_messages_never_inside_one() -> None:
    by_org = {f"kommun-{i:03d}": counts_from_reports(REPORTS) for i in range(120)}
    total = Counts()
    for counts in by_org.values():
        for (month, dim, code), n in counts.cells.items():
            total.add(month, dim, code, n)
    view = build_view("Alla", None, total, WINDOWS, 3, by_org)
    messages = render_messages(view, "sv")
    assert len(messages) > 1
    for message in messages:
        assert len(split_html(message)) == 1  # Telegram gets it whole
        assert message.count("<pre>") == message.count("</pre>")
    assert sum(m.count("kommun-") for m in messages) == 120


def test_dont_know_and_still_going_on_are_exported_and_counted() -> None:
    unsure = [
        replace(report("solvik", "2026-05"), repeated=True, repeated_code="pagar"),
        replace(report("solvik", "2026-05"), perpetrator="vet_inte", repeated_code="vet_inte"),
        replace(report("solvik", "2026-05"), repeated=True),  # stored before the codes existed
    ]
    out = io.StringIO()
    assert write_reports_csv(unsure, out, "sv") == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["repeated"] for r in rows] == ["pagar", "vet_inte", "ja"]
    assert [r["repeated_label"] for r in rows] == ["Pågår fortfarande", "Vet inte", "Upprepat"]
    assert rows[1]["perpetrator_label"] == "Vet inte"
    english = io.StringIO()
    write_reports_csv(unsure, english, "en")
    assert "Still going on" in english.getvalue() and "Don't know" in english.getvalue()
    view = build_view("Solviks kommun", "solvik", counts_from_reports(unsure), WINDOWS, 3)
    assert view.total(WINDOWS[0]).value == 3
    assert xlsx_bytes(view, unsure, "sv")[:2] == b"PK"
