"""/integritet (/privacy): what "anonymous" means here, on one short screen.

Shown on the command at any time and before a report starts: what is stored and for how long
(the routine's `retention`), who reads it (the receiving contacts, by role), that Telegram keeps
the chat on its servers, and that the rules for public documents apply. It promises no secrecy
the law does not give (DOMAIN.md, "What the reporter must be told").
"""

from __future__ import annotations

from telegram import Update

from bot.context import TryggContext
from bot.handlers.common import profile, reply
from bot.i18n import Html, t
from bot.reports.texts import duration_text
from bot.routines.models import Duration, Routine


def _escalation_after(routine: Routine) -> Duration:
    """The escalation goes out twice `ack_within` after the report (bot.reminders.schedule)."""
    within = routine.reminders.ack_within
    return Duration(within.amount * 2, within.unit)


def _listed(names: list[str], lang: str) -> str:
    """Names as a sentence says them: "A, B och C", not "A, B, C", which reads as one title."""
    if len(names) < 2:
        return "".join(names)
    return f"{', '.join(names[:-1])} {t('word.and', lang)} {names[-1]}"


def privacy_text(routine: Routine | None, lang: str) -> Html:
    """The screen for a member of `routine`, or the general one for someone in no organisation."""
    if routine is None:
        return t("privacy.guest", lang)
    readers = _listed([c.name.get(lang) for c in routine.receiving_contacts()], lang)
    escalate = [
        routine.contacts[ref].name.get(lang)
        for ref in routine.reminders.escalate_to
        if ref in routine.contacts
    ]
    lines = [
        t("privacy.head", lang),
        t("privacy.stored", lang, retention=duration_text(routine.retention, lang)),
        t("privacy.readers", lang, readers=readers or t("access.nobody_yet", lang)),
    ]
    if escalate:
        lines.append(
            t(
                "privacy.escalation",
                lang,
                within=duration_text(_escalation_after(routine), lang),
                escalate=_listed(escalate, lang),
            )
        )
    lines.append(t("privacy.telegram", lang))
    lines.append(t("privacy.public", lang, organisation=routine.organisation.name))
    return Html("\n".join(lines))


async def privacy_command(update: Update, context: TryggContext) -> None:
    """/integritet: what is stored, for how long, who reads it, and what the law says."""
    p = await profile(update, context)
    await reply(update, privacy_text(p.routine, p.lang))
