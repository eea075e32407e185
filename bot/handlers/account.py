"""The user's own settings and help: /sprak, /hjalp, and the coordinators' /rutin."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import profile, reply
from bot.i18n import LANGUAGES, SPOKEN, t


async def help_command(update: Update, context: TryggContext) -> None:
    """/hjalp: what the bot does, for this user's role."""
    p = await profile(update, context)
    if p.routine is None:
        await reply(update, t("help.guest", p.lang))
        return
    text = t("help.member", p.lang, organisation=p.routine.organisation.name)
    if p.is_coordinator:
        text = t("help.coordinator", p.lang, member_help=text)
    await reply(update, text)


async def language_command(update: Update, context: TryggContext) -> None:
    """/sprak: choose one of the languages the bot speaks."""
    p = await profile(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(language.name, callback_data=callbacks.language(language.code))
                for language in SPOKEN
            ]
        ]
    )
    await reply(update, t("language.choose", p.lang), keyboard)


async def language_chosen(update: Update, context: TryggContext, lang: str) -> None:
    """A language button: remember the choice."""
    p = await profile(update, context)
    if lang not in LANGUAGES:
        await reply(update, t("callback.outdated", p.lang))
        return
    await context.services.db.set_language(p.user_id, lang, True, context.services.clock())
    await reply(update, t("language.set", lang))


async def routine_command(update: Update, context: TryggContext) -> None:
    """/rutin for coordinators: is our routine file loaded, and when is it due for review."""
    p = await profile(update, context)
    if not p.is_coordinator or p.membership is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    registry = context.services.registry
    routine = registry.get(p.membership.org_id)
    problems = [
        problem
        for path, found in registry.problems().items()
        if path.stem == p.membership.org_id
        for problem in found
    ]
    lines: list[str] = []
    if routine is not None:
        org = routine.organisation
        lines.append(
            t(
                "routine.loaded",
                p.lang,
                organisation=org.name,
                reviewed=org.reviewed.isoformat(),
                due=org.review_due.isoformat(),
            )
        )
        if org.review_due <= context.services.clock().date():
            lines.append(t("routine.review_overdue", p.lang))
    if problems:
        # The file name is enough for a coordinator; the server's paths are not their business.
        listing = "\n".join(str(replace(pr, path=Path(pr.path.name))) for pr in problems[:20])
        lines.append(t("routine.broken", p.lang, problems=listing, count=len(problems)))
    elif routine is not None:
        lines.append(t("routine.ok", p.lang))
    await reply(update, "\n\n".join(lines))
