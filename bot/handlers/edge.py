"""The edge cases of a chat: groups, things that are not text, old buttons, and errors.

Whatever arrives, the user gets a helpful answer and nothing personal reaches the log.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from telegram import CallbackQuery, Update
from telegram.error import Forbidden, TelegramError

from bot.context import TryggContext
from bot.handlers import callbacks, cases
from bot.handlers.common import Profile, profile, reply
from bot.handlers.contact import (
    free_text,
    message_words,
    show_menu,
    situation_choices,
    with_danger_line,
)
from bot.handlers.render import render_answer, visible_text
from bot.i18n import Html, normalise_language, t
from bot.routines.answer import answer, situations_for
from bot.routines.triage import triage

log = logging.getLogger(__name__)

_PRIVATE_ONLY = frozenset({"case", "relay", "mine", "rep"})


async def group_message(update: Update, context: TryggContext) -> None:
    """In a group: only the national numbers, and an invitation to a private chat."""
    user = update.effective_user
    lang = normalise_language(user.language_code if user else None)
    national = context.services.registry.national
    urgent = next((s for s in situations_for(national) if s.urgent), None)
    username = context.bot.username
    invitation = t("group.private_only", lang, link=f"https://t.me/{username}")
    if urgent is None:
        await reply(update, with_danger_line(invitation, lang))
        return
    # One message, the danger line first: a group answer is read at a glance.
    result = answer(national, urgent, context.services.clock())
    text = render_answer(result, lang, national.timezone, reserve=len(visible_text(invitation)) + 4)
    await reply(update, Html(f"{text}\n\n{invitation}"))


async def not_text(update: Update, context: TryggContext) -> None:
    """A sticker, photo, voice message or file: the danger line, then what the bot can read.

    A caption or a sticker's emoji is read like a message: "han står utanför" under a photo, or
    a 🔪 sticker, is danger all the same.
    """
    p = await profile(update, context)
    words = message_words(update)
    if words and triage(words, situations_for(p.source), p.lang).acute:
        await free_text(update, context, p)
        return
    await not_understood_media(update, p)


async def not_understood_media(update: Update, p: Profile) -> None:
    """What the bot says to anything it cannot read: 112 first, then the likeliest situations."""
    situations = situations_for(p.source)
    await reply(
        update,
        with_danger_line(t("message.not_text", p.lang), p.lang),
        situation_choices(situations[:3], p.lang),
    )


async def edited(update: Update, context: TryggContext) -> None:
    """Edits are not re-read: a new message is clearer for both sides."""
    p = await profile(update, context)
    await reply(update, t("message.edited", p.lang))


async def unknown_command(update: Update, context: TryggContext) -> None:
    """A /command the bot does not have."""
    p = await profile(update, context)
    await reply(update, t("command.unknown", p.lang))


ButtonCallback = Callable[[Update, TryggContext, str], Coroutine[Any, Any, None]]
"""What a button's action runs: the update, the context and the button's argument."""


def button_router(
    routes: Mapping[str, ButtonCallback],
) -> Callable[[Update, TryggContext], Coroutine[Any, Any, None]]:
    """The one callback for every inline button: `routes` maps each action to its handler."""

    async def button(update: Update, context: TryggContext) -> None:
        """Every inline button comes here; data the bot did not make gets a clear answer."""
        query = update.callback_query
        if query is None:
            return
        # Answering only stops the button's spinner, so it goes out beside the press's own
        # work rather than before it: the new text does not wait a round trip to Telegram.
        answering = asyncio.ensure_future(_answer(query))
        try:
            await _route(update, context, query.data, routes)
        finally:
            await answering

    return button


async def _answer(query: CallbackQuery) -> None:
    try:
        await query.answer()
    except TelegramError as error:
        # A 429 or an outage here must not cost the press itself (a report being sent, a case
        # acknowledged). Replies may still fail.
        log.info("could not answer a button press (%s); handling it anyway", type(error).__name__)


async def _route(
    update: Update, context: TryggContext, raw: str | None, routes: Mapping[str, ButtonCallback]
) -> None:
    data = callbacks.parse(raw)
    route = routes.get(data.action) if data is not None else None
    if data is None or route is None:
        p = await profile(update, context)
        await reply(update, t("callback.outdated", p.lang))
        await show_menu(update, context, p)
        return
    if data.action in _PRIVATE_ONLY and await cases.refuse_outside_private(update, context):
        return  # a forged or forwarded case button in a group must not post case text there
    await route(update, context, data.arg)


async def on_error(update: object, context: TryggContext) -> None:
    """Log the failure without message text or ids, then apologise to the user.

    Only the exception's type and the code locations are logged: an exception's message can
    quote user text, and a Telegram update holds names and ids.
    """
    error = context.error
    if error is None:
        return
    where = "".join(traceback.format_tb(error.__traceback__)) if error.__traceback__ else ""
    kind = type(update).__name__ if update is not None else "poll or job"
    log.error("handling a %s failed with %s\n%s", kind, type(error).__name__, where)
    if isinstance(error, Forbidden) or not isinstance(update, Update):
        return
    user = update.effective_user
    lang = normalise_language(user.language_code if user else None)
    try:
        await reply(update, t("error.sorry", lang))
    except TelegramError:
        log.warning("could not tell the user about the failure")
