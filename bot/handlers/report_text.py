"""Report fields as people read them: labels in the user's language, months, summaries."""

from __future__ import annotations

from datetime import date

from bot.i18n import escape, t
from bot.reports import model
from bot.reports.model import STEPS, Report
from bot.routines.models import add_months


def months(today: date) -> list[str]:
    """The months offered, newest first: only the month is ever stored, never a date."""
    first = today.replace(day=1)
    return [add_months(first, -n).strftime("%Y-%m") for n in range(model.MONTHS_OFFERED)]


def month_name(month: str, lang: str) -> str:
    """`2026-10` as people say it: "oktober 2026"; anything else as it is, never an error."""
    names = t("report.month_names", lang).split()
    year, _, number = month.partition("-")
    if len(names) != 12 or not (year.isdigit() and number.isdigit() and 1 <= int(number) <= 12):
        return month
    return f"{names[int(number) - 1]} {year}"


def label(field: str, code: str, lang: str) -> str:
    if field == "month":
        if code == model.MONTH_UNKNOWN:
            return t("field.month.vet_inte", lang)
        return month_name(code, lang)
    return t(f"field.{field}.{code}", lang)


# The summary reads like the form's answers, with the reporter's own words last.
_SUMMARY_ORDER = (*(s for s in STEPS if s not in ("summary", "description")), "description")


def summary_lines(values: dict[str, object], impacts: list[str], lang: str) -> list[str]:
    """The fields of a report as `Label: value` lines, in the user's language."""
    lines = []
    for step in _SUMMARY_ORDER:
        name = t(f"report.field.{step}", lang)
        if step == "impact":
            shown = ", ".join(label("impact", code, lang) for code in impacts) or "–"
        elif step == "description":
            text = values.get("description")
            shown = str(text) if text else "–"
        else:
            code = values.get(step)
            shown = label(step, str(code), lang) if code else "–"
        lines.append(f"<b>{escape(name)}:</b> {escape(shown)}")
    return lines


def report_line(report: Report, lang: str) -> str:
    """One line of a list of reports: reference, type, month and state; nothing personal."""
    kind = t(f"field.type.{report.type}", lang)
    state = t(f"case.state.{report.state.value}", lang)
    month = label("month", report.month_code or report.month, lang)
    return f"• <b>{escape(report.ref)}</b> {escape(kind)}, {escape(month)} – {escape(state)}"
