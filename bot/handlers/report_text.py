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


def label(field: str, code: str, lang: str) -> str:
    if field == "month":
        return code
    return t(f"field.{field}.{code}", lang)


def summary_lines(values: dict[str, object], impacts: list[str], lang: str) -> list[str]:
    """The fields of a report as `Label: value` lines, in the user's language."""
    lines = []
    for step in STEPS:
        if step in ("summary",):
            continue
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
    return f"• <b>{escape(report.ref)}</b> {escape(kind)}, {report.month} – {escape(state)}"
