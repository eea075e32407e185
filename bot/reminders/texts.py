"""What reminders say: Telegram HTML and button rows (as stored in the outbox), per language.

Everything from a routine file passes through `escape`; numbers are plain international text
(`render.phone_link`), which every Telegram client makes tappable. Buttons are plain data
(`{"text", "callback_data"}`), as the outbox keeps them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from bot import callbacks
from bot.fragments import phone_link
from bot.i18n import FOREIGN_FALLBACK, LANGUAGES, Html, escape, t, words
from bot.reminders.schedule import local_now
from bot.reports.model import Report
from bot.routines.answer import EMERGENCY_REF, situations_for
from bot.routines.hours import describe
from bot.routines.models import Contact, Event, Routine

Buttons = list[list[dict[str, str]]]


def _button(text: str, data: str) -> dict[str, str]:
    return {"text": text, "callback_data": data}


def contact_line(contact: Contact, lang: str) -> Html:
    """`• <b>Name</b> (person) ☎ number · hours`, as short as a reminder needs."""
    line = f"• <b>{escape(contact.name.get(lang))}</b>"
    if contact.person:
        line += f" ({escape(contact.person)})"
    if contact.phone is not None:
        line += f" ☎ {phone_link(contact)}"
    elif contact.email:
        line += f" ✉ {escape(contact.email)}"
    if contact.hours is not None:
        line += f" · {escape(describe(contact.hours, lang))}"
    return Html(line)


def _emergency(routine: Routine) -> Html:
    try:
        contact = routine.contact(EMERGENCY_REF)
    except KeyError:  # the loader always has 112; a hand-built routine may not
        return Html("112")
    return phone_link(contact) if contact.phone else Html("112")


def menu_buttons(lang: str) -> Buttons:
    """The button under every members' reminder: the situations, as /kontakt shows them."""
    return [[_button(t("button.whom_to_contact", lang), callbacks.menu())]]


# --- to members --------------------------------------------------------------------------------


def digest_text(routine: Routine, lang: str) -> Html:
    """The members' routine digest: the urgent situation's steps after 112, then the contacts
    that receive reports, each with a number to tap."""
    org = routine.organisation
    parts: list[str] = [t("digest.title", lang, organisation=org.name)]
    parts.append(t("digest.emergency", lang, emergency=_emergency(routine)))
    shown: set[str] = {EMERGENCY_REF}
    urgent = next((s for s in situations_for(routine) if s.urgent), None)
    if urgent is not None:
        for step in urgent.steps:
            if step.contact is not None:
                if step.contact in shown:
                    continue
                shown.add(step.contact)
                try:
                    parts.append(contact_line(routine.contact(step.contact), lang))
                except KeyError:
                    continue
            elif step.text is not None:
                parts.append(f"• {escape(step.text.get(lang))}")
    receivers = [c for c in routine.receiving_contacts() if c.id not in shown]
    if receivers:
        parts.append(t("digest.receivers", lang))
        parts.extend(contact_line(c, lang) for c in receivers)
    parts.append(t("digest.footer", lang))
    return Html("\n".join(parts))


def _long_date(day: date, lang: str) -> str:
    weekday = words("weekday.long", lang if lang in LANGUAGES else FOREIGN_FALLBACK)[day.weekday()]
    return f"{weekday} {day.isoformat()}"


def event_text(routine: Routine, event: Event, lang: str) -> Html:
    """A dated event's reminder, with the event's own text from the routine file."""
    head = t(
        "event.title",
        lang,
        date=_long_date(event.date, lang),
        organisation=routine.organisation.name,
    )
    return Html(f"{head}\n{escape(event.text.get(lang))}\n{t('digest.footer', lang)}")


# --- to coordinators ---------------------------------------------------------------------------


def review_text(routine: Routine, now: datetime, lang: str) -> Html:
    """The routine is due for review in N days, today, or was N days ago."""
    org = routine.organisation
    today = local_now(now, org.timezone).date()
    days = (org.review_due - today).days
    key = "review.due_in" if days > 0 else "review.due_today" if days == 0 else "review.overdue"
    return t(
        key,
        lang,
        organisation=org.name,
        due=org.review_due.isoformat(),
        reviewed=org.reviewed.isoformat(),
        days=abs(days),
    )


def _hours_since(report: Report, now: datetime) -> int:
    return max(0, int((now - report.created_at).total_seconds() // 3600))


def ack_text(routine: Routine, report: Report, now: datetime, lang: str) -> Html:
    return t(
        "ack.reminder",
        lang,
        ref=report.ref,
        organisation=routine.organisation.name,
        hours=_hours_since(report, now),
        within=str(routine.reminders.ack_within),
    )


def escalate_text(routine: Routine, report: Report, now: datetime, lang: str) -> Html:
    return t(
        "escalate.notice",
        lang,
        ref=report.ref,
        organisation=routine.organisation.name,
        hours=_hours_since(report, now),
    )


def gap_text(
    routine_name: str,
    org_id: str,
    contacts: Sequence[Contact],
    failing: tuple[str, datetime] | None,
    timezone: str,
    lang: str,
    *,
    nobody_receives: bool = False,
) -> Html:
    """This week's gaps: contacts nobody registered for, and a file failing to load since when;
    with `nobody_receives`, that reports are kept unread and reporters are told so."""
    parts: list[str] = [t("gap.head", lang, organisation=routine_name)]
    if nobody_receives:
        parts.append(t("gap.nobody_receives", lang))
    for contact in contacts:
        parts.append(
            t(
                "gap.unregistered",
                lang,
                contact=contact.name.get(lang),
                org=org_id,
                contact_id=contact.id,
            )
        )
    if failing is not None:
        file_name, since = failing
        shown = local_now(since, timezone).strftime("%Y-%m-%d %H:%M")
        parts.append(t("gap.file", lang, file=file_name, since=shown))
    return Html("\n".join(parts))


# --- to a reporter -----------------------------------------------------------------------------


def followup_text(routine: Routine, report: Report, now: datetime, lang: str) -> Html:
    """How are you, do you need anything, and here are your contacts."""
    days = max(1, (now - report.created_at).days)
    parts: list[str] = [t("followup.text", lang, days=days, ref=report.ref)]
    receivers = routine.receiving_contacts()
    if receivers:
        parts.append(t("followup.contacts", lang))
        parts.extend(contact_line(c, lang) for c in receivers)
    parts.append(t("followup.footer", lang))
    return Html("\n".join(parts))


def followup_buttons(report: Report, lang: str) -> Buttons:
    """Answer (through the anonymous relay), as under a coordinator's message."""
    return [[_button(t("button.answer", lang), callbacks.relay(f"answer.{report.ref}"))]]
