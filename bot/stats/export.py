"""Exports: one row per report (CSV, or a sheet of an XLSX workbook) and the suppressed summary.

A report row holds the month and the coded fields, each as its code and its label in the
chosen language. Nothing finer than the month, no reference, no time of sending (but for a
report whose month the reporter did not know: it carries the month it was sent, marked
`month_known` = nej, as statistics count it) and no link to a person; rows are ordered by month
and codes, never in the order they were sent. The redacted description is added only when
asked for (`with_text`). Per-report rows are for the organisation's own coordinators: the chat
sends them only to those, and `trygg export` is an operator's tool (see README, Statistics).

The workbook's summary sheet is the suppressed view, the same numbers as the chat: a count is
a number when shown, and the text `<3` or `..` otherwise.

Text that a spreadsheet would run as a formula (starting with =, +, -, @, a tab or a carriage
return) is written as text: in the CSV with a leading apostrophe, in the workbook as a string
cell.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from bot.i18n import catalog, t
from bot.reports.model import Report
from bot.stats.aggregate import EXCLUSIVE, Window
from bot.stats.ptu import LABEL as PTU_LABEL
from bot.stats.ptu import SOURCE, ptu_share
from bot.stats.render import column, label, plain, window_title
from bot.stats.tables import Figure, StatsView

Cell = str | int | float | None

CSV_ENCODING = "utf-8-sig"  # with a BOM, so that Excel reads å, ä and ö right
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

REPORT_COLUMNS = (
    "month",
    "type",
    "type_label",
    "channel",
    "channel_label",
    "repeated",
    "repeated_label",
    "perpetrator",
    "perpetrator_label",
    "police",
    "police_label",
    "impacts",
    "impacts_label",
    "gender",
    "gender_label",
    "state",
    "state_label",
    "month_known",  # last, so the columns before keep their places in existing sheets
)
TEXT_COLUMN = "description"


def _field_label(field: str, code: str | None, lang: str) -> str:
    """The label of a code: the statistics wording where there is one, else the form's."""
    if code is None:
        return ""
    for key in (f"stats.label.{field}.{code}", f"field.{field}.{code}"):
        if key in catalog(lang):
            return plain(t(key, lang))
    return code


def report_row(report: Report, lang: str, with_text: bool) -> dict[str, str]:
    """One report as codes and labels (and its redacted description if `with_text`)."""
    repeated = report.repeated_answer()
    row = {
        "month": report.month,
        # "nej": the reporter did not know the month; `month` is then when it was reported.
        "month_known": "nej" if report.month_code else "ja",
        "type": report.type,
        "type_label": _field_label("type", report.type, lang),
        "channel": report.channel,
        "channel_label": _field_label("channel", report.channel, lang),
        "repeated": repeated,
        "repeated_label": _field_label("repeated", repeated, lang),
        "perpetrator": report.perpetrator,
        "perpetrator_label": _field_label("perpetrator", report.perpetrator, lang),
        "police": report.police,
        "police_label": _field_label("police", report.police, lang),
        "impacts": ";".join(report.impacts),
        "impacts_label": "; ".join(_field_label("impact", c, lang) for c in report.impacts),
        "gender": report.gender or "",
        "gender_label": _field_label("gender", report.gender, lang),
        "state": report.state.value,
        "state_label": _field_label("state", report.state.value, lang),
    }
    if with_text:
        row[TEXT_COLUMN] = report.description or ""
    return row


def columns(with_text: bool) -> tuple[str, ...]:
    return (*REPORT_COLUMNS, TEXT_COLUMN) if with_text else REPORT_COLUMNS


def _csv_safe(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_START) else value


def write_reports_csv(
    reports: Iterable[Report], out: IO[str], lang: str, *, with_text: bool = False
) -> int:
    """Write one row per report, with a header of column codes; return the number of rows."""
    writer = csv.DictWriter(out, fieldnames=columns(with_text), lineterminator="\r\n")
    writer.writeheader()
    count = 0
    for report in reports:
        row = report_row(report, lang, with_text)
        writer.writerow({k: _csv_safe(v) for k, v in row.items()})
        count += 1
    return count


# --- the summary ------------------------------------------------------------------------------


def _value(figure: Figure) -> Cell:
    return figure.value if figure.value is not None else figure.text


def _share(view: StatsView, dim: str, code: str, window_index: int) -> Cell:
    window = view.windows[window_index]
    share = view.share(dim, code, window)
    if share is not None:
        return round(share, 4)
    count = view.count(dim, code, window)
    return count.text if not count.shown else None


def _span_row(window: Window, lang: str) -> list[Cell]:
    return [window_title(window, lang), f"{window.first} – {window.last}"]


def summary_rows(view: StatsView, lang: str) -> list[list[Cell]]:
    """The suppressed view as rows for a sheet: headings, then each table with its codes."""
    windows = view.windows
    heads: list[Cell] = [
        plain(t("stats.col.section", lang)),
        plain(t("stats.col.code", lang)),
        plain(t("stats.col.label", lang)),
        *(column(w, lang) for w in windows),
    ]
    rows: list[list[Cell]] = [
        [plain(t("stats.title_plain", lang, organisation=view.name))],
        *(_span_row(w, lang) for w in windows),
        [plain(t("stats.legend", lang, threshold=view.threshold))],
        [],
        heads,
        [plain(t("stats.reports", lang)), "", "", *(_value(view.total(w)) for w in windows)],
    ]
    for dim in EXCLUSIVE:
        section = plain(t(f"stats.section.{dim}", lang))
        for code in view.codes[dim]:
            values = [_value(view.count(dim, code, w)) for w in windows]
            rows.append([section, code, label(dim, code, lang), *values])
    section = plain(t("stats.section.impact", lang))
    for code in view.codes["impact"]:
        values = [_value(view.count("impact", code, w)) for w in windows]
        rows.append([section, code, label("impact", code, lang), *values])
    section = plain(t("stats.section.month", lang))
    for month in view.months:
        rows.append([section, month, month, _value(view.month(month))])
    rows += [[], [*heads, PTU_LABEL]]
    section = plain(t("stats.section.share", lang))
    for dim, code in (("police", "ja"), *(("impact", c) for c in view.codes["impact"])):
        shares = [_share(view, dim, code, i) for i in range(len(windows))]
        national = ptu_share(dim, code)
        rows.append([section, f"{dim}.{code}", label(dim, code, lang), *shares, national])
    rows.append([plain(t("stats.source_short", lang, ptu=PTU_LABEL, source=SOURCE))])
    return rows


def organisation_rows(view: StatsView, lang: str) -> list[list[Cell]]:
    """Per organisation (the national view): its reports per window and those reported to the
    police, suppressed with the rest."""
    windows = view.windows
    police = plain(t("stats.col.police_count", lang))
    rows: list[list[Cell]] = [
        [
            plain(t("stats.col.code", lang)),
            plain(t("stats.col.organisation", lang)),
            *(column(w, lang) for w in windows),
            *(f"{police} {column(w, lang)}" for w in windows),
        ]
    ]
    for org in view.organisations:
        rows.append(
            [
                org.org_id,
                org.name,
                *(_value(view.org_total(org.org_id, w)) for w in windows),
                *(_value(view.org_police(org.org_id, w)) for w in windows),
            ]
        )
    return rows


def write_xlsx(
    view: StatsView,
    reports: Sequence[Report] | None,
    out: Path | IO[bytes],
    lang: str,
    *,
    with_text: bool = False,
) -> None:
    """A workbook: the summary sheet, per organisation (national view), and the reports (one
    row each) when `reports` is given."""
    from openpyxl import Workbook  # type: ignore[import-untyped]

    book = Workbook()
    summary = book.active
    summary.title = _sheet_name(t("stats.sheet.summary", lang))
    _fill(summary, summary_rows(view, lang))
    summary.column_dimensions["A"].width = 28
    summary.column_dimensions["C"].width = 40
    if view.organisations:
        sheet = book.create_sheet(_sheet_name(t("stats.sheet.organisations", lang)))
        _fill(sheet, organisation_rows(view, lang))
        sheet.column_dimensions["B"].width = 32
    if reports is not None:
        sheet = book.create_sheet(_sheet_name(t("stats.sheet.reports", lang)))
        names = columns(with_text)
        rows: list[list[Cell]] = [list(names)]
        for report in reports:
            row = report_row(report, lang, with_text)
            rows.append([row[name] for name in names])
        _fill(sheet, rows)
    book.save(out)


def xlsx_bytes(
    view: StatsView, reports: Sequence[Report] | None, lang: str, *, with_text: bool = False
) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(view, reports, buffer, lang, with_text=with_text)
    return buffer.getvalue()


def _sheet_name(text: str) -> str:
    """Excel allows 31 characters and none of []:*?/\\ in a sheet's name."""
    cleaned = "".join(" " if c in "[]:*?/\\" else c for c in plain(text))
    return cleaned[:31]


def _fill(sheet: Any, rows: Iterable[Sequence[Cell]]) -> None:
    for row in rows:
        sheet.append(list(row))
    for cells in sheet.iter_rows():
        for cell in cells:
            if isinstance(cell.value, str):
                cell.data_type = "s"  # never a formula, whatever the text starts with
            elif isinstance(cell.value, float):
                cell.number_format = "0%"


# --- trygg stats --format csv|json ------------------------------------------------------------


def stats_csv(view: StatsView, out: IO[str], lang: str) -> None:
    """The view in long form: one line per count (`<3` and `..` as they are shown)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["scope", "window", "first", "last", "dimension", "code", "label", "count"])
    scope = view.org_id or "*"
    for w in view.windows:
        base = [scope, w.name, w.first, w.last]
        writer.writerow([*base, "all", "", plain(t("stats.reports", lang)), view.total(w).text])
        for dim in (*EXCLUSIVE, "impact"):
            for code in view.codes[dim]:
                count = view.count(dim, code, w).text
                writer.writerow([*base, dim, code, label(dim, code, lang), count])
        for month in w.months:
            writer.writerow([*base, "month", month, month, view.month(month).text])
        for org in view.organisations:
            writer.writerow(
                [*base, "organisation", org.org_id, org.name, view.org_total(org.org_id, w).text]
            )
            writer.writerow(
                [
                    *base,
                    "organisation_police",
                    org.org_id,
                    org.name,
                    view.org_police(org.org_id, w).text,
                ]
            )


def _json_value(figure: Figure) -> int | str:
    return figure.value if figure.value is not None else figure.text


def stats_json(view: StatsView) -> dict[str, Any]:
    """The view as JSON: counts are numbers when shown, `"<3"` or `".."` otherwise."""
    data: dict[str, Any] = {
        "scope": view.org_id or "*",
        "name": view.name,
        "threshold": view.threshold,
        "windows": {},
        "ptu": {
            "source": SOURCE,
            "police.ja": ptu_share("police", "ja"),
            "impact.avstod": ptu_share("impact", "avstod"),
            "impact.overvagt": ptu_share("impact", "overvagt"),
        },
    }
    for w in view.windows:
        entry: dict[str, Any] = {
            "first": w.first,
            "last": w.last,
            "reports": _json_value(view.total(w)),
            "months": {m: _json_value(view.month(m)) for m in w.months},
        }
        for dim in (*EXCLUSIVE, "impact"):
            entry[dim] = {c: _json_value(view.count(dim, c, w)) for c in view.codes[dim]}
        entry["shares"] = {
            f"{dim}.{code}": view.share(dim, code, w)
            for dim, code in (("police", "ja"), *(("impact", c) for c in view.codes["impact"]))
        }
        if view.organisations:
            entry["organisations"] = {
                org.org_id: {
                    "name": org.name,
                    "reports": _json_value(view.org_total(org.org_id, w)),
                    "police": _json_value(view.org_police(org.org_id, w)),
                }
                for org in view.organisations
            }
        data["windows"][w.name] = entry
    return data
