"""What most handlers share: who is asking, in which language, and sending HTML replies."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.render import split_html
from bot.i18n import normalise_language, t
from bot.routines.models import National, Routine
from bot.sending import send_html
from bot.storage import Membership, User


@dataclass(frozen=True)
class Profile:
    """The asking user as the domain sees them: language, membership, their routine."""

    user_id: int
    lang: str
    membership: Membership | None
    routine: Routine | None
    national: National

    @property
    def source(self) -> Routine | National:
        return self.routine if self.routine is not None else self.national

    @property
    def timezone(self) -> str:
        return self.routine.organisation.timezone if self.routine else self.national.timezone

    @property
    def is_coordinator(self) -> bool:
        return self.membership is not None and self.membership.role == "coordinator"


async def profile(update: Update, context: TryggContext) -> Profile:
    """Load the user's language and membership; a membership of a vanished org shows as none."""
    user = update.effective_user
    if user is None:
        raise ValueError("update without a user")
    services = context.services
    stored, membership = await services.db.get_profile(user.id)
    await remember_language(update, context, stored)
    lang = stored.lang if stored and stored.lang_chosen and stored.lang else None
    if lang is None:
        lang = normalise_language(user.language_code)
    routine = services.registry.get(membership.org_id) if membership else None
    return Profile(user.id, lang, membership, routine, services.registry.national)


async def remember_language(
    update: Update, context: TryggContext, stored: User | None, *, joined: bool = False
) -> None:
    """Keep Telegram's language of a known user (never over one chosen with /sprak).

    Live answers read it from each update, but queued messages (a new case to a coordinator,
    reminders, notices) have no update to read it from: they use `users.lang`. A write only
    when it changed (one comparison per update), and only for a user the bot already keeps
    (a row is made when joining: `joined`), so a passer-by leaves nothing behind.
    """
    user = update.effective_user
    if user is None or not user.language_code or (stored is None and not joined):
        return
    guessed = normalise_language(user.language_code)
    if stored is not None and (stored.lang_chosen or stored.lang == guessed):
        return
    await context.services.db.set_language(user.id, guessed, False, context.services.clock())


async def reply(update: Update, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Send HTML to the chat of `update`, split at 4096; the keyboard goes with the last part.

    Sent with `send_html`: the same request as `chat.send_message`, without building a
    `Message` of Telegram's answer, which no handler reads.
    """
    chat = update.effective_chat
    if chat is None:
        return
    parts = split_html(text)
    for index, part in enumerate(parts):
        last = index == len(parts) - 1
        await send_html(chat.get_bot(), chat.id, part, markup if last else None)


def menu_button(lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(t("button.other_situations", lang), callback_data=callbacks.menu())]]
    )


def is_private(update: Update) -> bool:
    chat = update.effective_chat
    return chat is not None and chat.type == chat.PRIVATE


def markup(rows: list[list[dict[str, str]]] | None) -> InlineKeyboardMarkup | None:
    """Buttons kept as plain data (as in the outbox) turned into a keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup(
        [
            [InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row]
            for row in rows
        ]
    )
