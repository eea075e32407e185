"""Reports as people read them: labels, months, summaries, the case message and the receipt.

Texts and button rows only (buttons as `{"text", "callback_data"}` dicts, as the outbox stores
them): the workflow queues them, the handlers show them; no Telegram here.
"""

from __future__ import annotations

import html
import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

from bot import callbacks
from bot.fragments import phone_link
from bot.i18n import LANGUAGES, Html, escape, t, words
from bot.reports import model
from bot.reports.access import Expectation, call_now
from bot.reports.model import STEPS, Report, State
from bot.routines.models import Duration, Routine, add_months

Buttons = list[list[dict[str, str]]]


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


def button(text: str, data: str) -> dict[str, str]:
    return {"text": text, "callback_data": data}


# --- the case message ----------------------------------------------------------------------


def _when(moment: datetime) -> str:
    """The day, short enough for a phone: `2/12`. Storage keeps when a report was acknowledged
    or closed only as its day (a time could help date the report to a person), so no hour."""
    return f"{moment.day}/{moment.month}"


def case_state(report: Report, routine: Routine, lang: str) -> Html:
    """The report's status: acknowledged by whom (a contact's role, never a person) and when."""
    if report.state == State.ACKNOWLEDGED and report.acknowledged_at is not None:
        contact = routine.contacts.get(report.acknowledged_by or "")
        who = contact.name.get(lang) if contact else t("case.someone", lang)
        when = _when(report.acknowledged_at)
        return t("case.state.acknowledged_by", lang, contact=who, when=when)
    if report.state == State.CLOSED and report.closed_at is not None:
        return t("case.state.closed_at", lang, when=_when(report.closed_at))
    return t(f"case.state.{report.state.value}", lang)


def case_text(report: Report, routine: Routine, lang: str, headline_key: str = "case.new") -> Html:
    """A report as a coordinator reads it: codes as labels, the redacted description, and its
    status as it is now (the headline says "new" only while it is)."""
    values: dict[str, object] = {
        "type": report.type,
        "channel": report.channel,
        "month": report.month_code or report.month,
        "repeated": report.repeated_answer(),
        "perpetrator": report.perpetrator,
        "police": report.police,
        "gender": report.gender,
        "description": report.description,
        "contact_me": "ja" if report.contact_me else "nej",
    }
    lines = summary_lines(values, list(report.impacts), lang)
    if headline_key == "case.new" and report.state != State.NEW:
        headline_key = "case.report"
    head = t(headline_key, lang, ref=report.ref, organisation=routine.organisation.name)
    state = case_state(report, routine, lang)
    return Html(head + "\n" + "\n".join(lines) + "\n" + t("case.state_line", lang, state=state))


def case_buttons(report: Report, lang: str) -> Buttons:
    row = []
    if report.state == State.NEW:
        row.append(button(t("button.ack", lang), callbacks.case(f"ack.{report.ref}")))
    if report.contact_me and report.state != State.CLOSED:
        row.append(button(t("button.reply", lang), callbacks.case(f"reply.{report.ref}")))
    if report.state != State.CLOSED:
        row.append(button(t("button.close", lang), callbacks.case(f"close.{report.ref}")))
    return [row] if row else []


def status_marks() -> tuple[str, ...]:
    """The status line's label in every language, as it reads once Telegram drops the tags."""
    marks = (re.sub(r"<[^>]+>", "", t("case.state_line", lang, state="")) for lang in LANGUAGES)
    return tuple(html.unescape(mark).strip() for mark in marks)


def close_confirm_buttons(report: Report, lang: str, linked: bool) -> Buttons:
    first = []
    if linked:
        first.append(button(t("button.close_word", lang), callbacks.case(f"closew.{report.ref}")))
    first.append(button(t("button.close_now", lang), callbacks.case(f"closeok.{report.ref}")))
    return [first, [button(t("button.close_keep", lang), callbacks.case(f"closeno.{report.ref}"))]]


def reporter_buttons(report: Report, lang: str) -> Buttons:
    """Under a coordinator's message to the reporter: answer, or share who they are."""
    return [
        [
            button(t("button.answer", lang), callbacks.relay(f"answer.{report.ref}")),
            button(t("button.share_identity", lang), callbacks.relay(f"share.{report.ref}")),
        ]
    ]


def confirm_buttons(lang: str, ref: str, yes_key: str, yes: str, no: str) -> Buttons:
    """Cancel first: the safe choice is the one a thumb finds without reading."""
    return [
        [
            button(t("button.cancel", lang), callbacks.relay(f"{no}.{ref}")),
            button(t(yes_key, lang), callbacks.relay(f"{yes}.{ref}")),
        ]
    ]


# --- the receipt ---------------------------------------------------------------------------


def moment_text(moment: datetime, now: datetime, timezone: str, lang: str) -> str:
    """`mån 08:00`, or with the date when it is more than six days away."""
    local, today = moment.astimezone(ZoneInfo(timezone)), now.astimezone(ZoneInfo(timezone))
    day = words("weekday.short", lang)[local.weekday()]
    if (local.date() - today.date()).days > 6:
        return f"{day} {local:%Y-%m-%d %H:%M}"
    return f"{day} {local:%H:%M}"


def duration_text(duration: Duration, lang: str) -> str:
    """`24 h`, `2 dygn`, `30 min`: a routine duration as a reporter reads it."""
    return t(f"receipt.unit.{duration.unit}", lang, n=duration.amount)


def receipt_text(
    promise: Expectation, routine: Routine, report: Report, now: datetime, lang: str
) -> Html:
    """What the reporter is told after sending: who receives it (or, honestly, that nobody is
    registered to yet and the report is kept), when it will be read and acknowledged, and whom
    to call now if it cannot wait."""
    tz = routine.organisation.timezone
    within = duration_text(promise.ack_within, lang)
    lines: list[str] = []
    if promise.received:
        readers = ", ".join(c.name.get(lang) for c in promise.readers)
        lines.append(t("receipt.sent", lang, ref=report.ref, readers=readers))
        if promise.readable_now:
            lines.append(t("receipt.read_now", lang, within=within))
        elif promise.read_from is not None:
            when = moment_text(promise.read_from, now, tz, lang)
            lines.append(t("receipt.read_from", lang, when=when, within=within))
        else:
            lines.append(t("receipt.ack_within", lang, within=within))
    else:
        lines.append(t("receipt.kept", lang, ref=report.ref))
    if promise.call_now is not None:
        contact = promise.call_now
        lines.append(
            t("receipt.call_now", lang, contact=contact.name.get(lang), phone=phone_link(contact))
        )
    lines.append(t("receipt.emergency", lang))
    lines.append(t("receipt.next", lang))
    return Html("\n".join(lines))


def closed_for_reporter_text(
    routine: Routine | None, report: Report, now: datetime, lang: str
) -> Html:
    """A reporter's old button (Svara, Visa vem jag är) on a closed report: kindly, the case is
    closed and the coordinator cannot be reached through the bot any more; 112 if in danger,
    else whom to call now, and that a new report is always possible."""
    lines = [t("relay.closed_button", lang, ref=report.ref), t("relay.closed_danger", lang)]
    contact = call_now(routine, now) if routine is not None else None
    if contact is not None:
        lines.append(
            t("relay.closed_call", lang, contact=contact.name.get(lang), phone=phone_link(contact))
        )
    else:
        lines.append(t("relay.closed_police", lang))
    lines.append(t("relay.closed_again", lang))
    return Html("\n".join(lines))
