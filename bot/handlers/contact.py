"""Whom do I contact: the situation menu, a situation's answer, and free-text triage."""

from __future__ import annotations

from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, menu_button, profile, reply
from bot.handlers.render import danger_line, render_answer, situation_keyboard, visible_text
from bot.handlers.report import report_button
from bot.i18n import Html, t
from bot.routines.answer import Answer, answer, find_situation, situations_for
from bot.routines.models import Situation
from bot.routines.triage import triage

# The situation offered after the acute answer, once the reader is safe.
AFTER_ID = "efter"


def message_words(update: Update) -> str:
    """What a message says in words: its text, a caption, or a sticker's emoji (a 🔪 too)."""
    message = update.effective_message
    if message is None:
        return ""
    sticker = message.sticker.emoji if message.sticker else None
    return message.text or message.caption or sticker or ""


def with_danger_line(text: str, lang: str) -> Html:
    """A fallback answer (not understood, not text): the fixed danger line comes first."""
    return Html(f"<b>{danger_line(lang)}</b>\n{text}")


async def show_menu(update: Update, context: TryggContext, p: Profile | None = None) -> None:
    """Offer the situations as buttons, urgent ones first."""
    p = p or await profile(update, context)
    key = "contact.menu_member" if p.routine else "contact.menu_guest"
    organisation = p.routine.organisation.name if p.routine else ""
    await reply(
        update,
        t(key, p.lang, organisation=organisation),
        _menu(context, p),
    )


def _menu(context: TryggContext, p: Profile) -> InlineKeyboardMarkup:
    situations = situations_for(p.source)
    return context.services.answers.menu(
        p.source, situations, p.lang, lambda: situation_keyboard(situations, p.lang)
    )


async def contact_command(update: Update, context: TryggContext) -> None:
    """/kontakt: the situation menu."""
    await show_menu(update, context)


async def send_answer(
    update: Update,
    context: TryggContext,
    p: Profile,
    situation: Situation,
    also: tuple[Situation, ...] = (),
) -> None:
    """The steps of one situation, resolved for this moment; `also` are offered as buttons."""
    result = answer(p.source, situation, context.services.clock())
    keyboard = _answer_keyboard(context, p, situation, also)
    if p.routine is None:
        footer = t("contact.guest_footer", p.lang, answer=Html(""))
        reserve = len(visible_text(footer)) + 4
        text = _rendered(context, p, result, reserve)
        text = t("contact.guest_footer", p.lang, answer=text)
        await reply(update, text, keyboard)
        return
    await reply(update, _rendered(context, p, result, 0), keyboard)


def _answer_keyboard(
    context: TryggContext, p: Profile, situation: Situation, also: tuple[Situation, ...]
) -> InlineKeyboardMarkup:
    """The buttons under an answer: the same for every asker of a routine in a language."""
    also_ids = tuple(s.id for s in also)
    key = ("answer", situation.id, also_ids, p.lang)
    return context.services.answers.keyboard(
        p.source, key, lambda: _build_answer_keyboard(p, situation, also)
    )


def _build_answer_keyboard(
    p: Profile, situation: Situation, also: tuple[Situation, ...]
) -> InlineKeyboardMarkup:
    rows: list[Sequence[InlineKeyboardButton]] = []
    if situation.urgent:
        after = find_situation(p.source, AFTER_ID)
        if after is not None:
            rows.append(
                [
                    InlineKeyboardButton(
                        t("button.safe_now", p.lang), callback_data=callbacks.situation(after.id)
                    )
                ]
            )
    rows += [
        [InlineKeyboardButton(s.title.get(p.lang)[:60], callback_data=callbacks.situation(s.id))]
        for s in also
        if s.id != situation.id and not s.urgent
    ]
    if p.routine is not None:
        # A member can report what happened straight from the answer.
        rows.append([report_button(situation.id, p.lang)])
    rows += menu_button(p.lang).inline_keyboard
    return InlineKeyboardMarkup(rows)


def _rendered(context: TryggContext, p: Profile, result: Answer, reserve: int) -> Html:
    """The answer as a phone-sized message, rendered once per reachability state."""
    return context.services.answers.answer(
        p.source,
        result,
        p.lang,
        p.timezone,
        reserve,
        lambda: render_answer(result, p.lang, p.timezone, reserve=reserve),
    )


async def situation_chosen(update: Update, context: TryggContext, situation_id: str) -> None:
    """A situation button: answer it, or explain that the button is outdated."""
    p = await profile(update, context)
    situation = find_situation(p.source, situation_id)
    if situation is None:
        await reply(update, t("callback.outdated", p.lang))  # it starts with the danger line
        await show_menu(update, context, p)
        return
    await send_answer(update, context, p, situation)


def situation_choices(situations: tuple[Situation, ...], lang: str) -> InlineKeyboardMarkup:
    """The best situations as buttons, then "all situations"."""
    buttons = [
        [InlineKeyboardButton(s.title.get(lang)[:60], callback_data=callbacks.situation(s.id))]
        for s in situations
    ]
    buttons.append(
        [InlineKeyboardButton(t("button.all_situations", lang), callback_data=callbacks.menu())]
    )
    return InlineKeyboardMarkup(buttons)


async def free_text(update: Update, context: TryggContext, p: Profile | None = None) -> None:
    """A plain message: triage it to a situation, acute danger straight to the urgent answer.

    The whole message is read: danger is often told last, after what led up to it.
    """
    text = message_words(update)
    p = p or await profile(update, context)
    situations = situations_for(p.source)
    result = triage(text, situations, p.lang)
    if result.acute:
        urgent = next((s for s in situations if s.urgent), None)
        if urgent is not None:
            # The neighbouring situations the words also fit, for when the danger is over.
            await send_answer(update, context, p, urgent, also=result.candidates[:2])
            return
    if result.best is not None:
        await send_answer(update, context, p, result.best)
        return
    if result.candidates:
        await reply(
            update,
            with_danger_line(t("triage.unsure", p.lang), p.lang),
            situation_choices(result.candidates, p.lang),
        )
        return
    await not_understood(update, p, situations)


async def not_understood(update: Update, p: Profile, situations: tuple[Situation, ...]) -> None:
    """Nothing matched: the danger line, the first situations as buttons, and "all situations"."""
    # With no words to go on, the first situations of the routine are the likeliest: acute
    # danger, then the threats and hate that most officials meet (Brå's PTU).
    best = tuple(situations[:3])
    await reply(
        update,
        with_danger_line(t("triage.nothing", p.lang), p.lang),
        situation_choices(best, p.lang),
    )
