"""Whom do I contact: the situation menu, a situation's answer, and free-text triage."""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, menu_button, profile, reply
from bot.handlers.render import render_answer, situation_keyboard
from bot.handlers.report import report_button
from bot.i18n import t
from bot.routines.answer import answer, find_situation, situations_for
from bot.routines.models import Situation
from bot.routines.triage import triage

# Triage reads only the start of a long message: the situation is named early, and it bounds work.
TRIAGE_CHARS = 1000


async def show_menu(update: Update, context: TryggContext, p: Profile | None = None) -> None:
    """Offer the situations as buttons, urgent ones first."""
    p = p or await profile(update, context)
    key = "contact.menu_member" if p.routine else "contact.menu_guest"
    organisation = p.routine.organisation.name if p.routine else ""
    await reply(
        update,
        t(key, p.lang, organisation=organisation),
        situation_keyboard(situations_for(p.source), p.lang),
    )


async def contact_command(update: Update, context: TryggContext) -> None:
    """/kontakt: the situation menu."""
    await show_menu(update, context)


async def send_answer(
    update: Update, context: TryggContext, p: Profile, situation: Situation
) -> None:
    """The steps of one situation, resolved for this moment."""
    result = answer(p.source, situation, context.services.clock())
    text = render_answer(result, p.lang, p.timezone)
    if p.routine is None:
        text = t("contact.guest_footer", p.lang, answer=text)
        await reply(update, text, menu_button(p.lang))
        return
    # A member can report what happened straight from the answer.
    rows = [[report_button(situation.id, p.lang)], *menu_button(p.lang).inline_keyboard]
    await reply(update, text, InlineKeyboardMarkup(rows))


async def situation_chosen(update: Update, context: TryggContext, situation_id: str) -> None:
    """A situation button: answer it, or explain that the button is outdated."""
    p = await profile(update, context)
    situation = find_situation(p.source, situation_id)
    if situation is None:
        await reply(update, t("callback.outdated", p.lang))
        await show_menu(update, context, p)
        return
    await send_answer(update, context, p, situation)


async def free_text(update: Update, context: TryggContext, p: Profile | None = None) -> None:
    """A plain message: triage it to a situation, acute danger straight to the urgent answer."""
    message = update.effective_message
    text = (message.text or message.caption or "") if message else ""
    p = p or await profile(update, context)
    situations = situations_for(p.source)
    result = triage(text[:TRIAGE_CHARS], situations, p.lang)
    if result.acute:
        urgent = next((s for s in situations if s.urgent), None)
        if urgent is not None:
            await send_answer(update, context, p, urgent)
            return
    if result.best is not None:
        await send_answer(update, context, p, result.best)
        return
    if result.candidates:
        buttons = [
            [
                InlineKeyboardButton(
                    s.title.get(p.lang)[:60], callback_data=callbacks.situation(s.id)
                )
            ]
            for s in result.candidates
        ]
        buttons.append(
            [
                InlineKeyboardButton(
                    t("button.all_situations", p.lang), callback_data=callbacks.menu()
                )
            ]
        )
        await reply(update, t("triage.unsure", p.lang), InlineKeyboardMarkup(buttons))
        return
    await reply(update, t("triage.nothing", p.lang))
    await show_menu(update, context, p)
