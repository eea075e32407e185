"""The command table: who sees which command in the menu; the names come from the catalogs.

Telegram shows a menu per scope and language: everyone gets the members' commands in Swedish
(in another language the bot speaks for clients set to it); a coordinator's own chat adds the
coordinators' commands. Every name of a command works in every chat, whatever its language.
"""

from __future__ import annotations

import logging
from dataclasses import KW_ONLY, dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, plain, t

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    """One command; `key` names it in the catalogs: `command_name.<key>` in each language, and
    `command.<key>` for its line in the menu."""

    key: str
    _: KW_ONLY
    coordinator_only: bool = False
    in_menu: bool = True

    @property
    def names(self) -> tuple[str, ...]:
        """Its names in all languages, each once."""
        return tuple(dict.fromkeys(self.name(lang) for lang in LANGUAGES))

    def name(self, lang: str) -> str:
        return plain(f"command_name.{self.key}", lang)


def _language_code(lang: str) -> str | None:
    """Telegram's `language_code` of a menu: none for the default, which every client gets."""
    return None if lang == DEFAULT_LANGUAGE else lang


START = Command("start", in_menu=False)
CONTACT = Command("kontakt")
HELP = Command("hjalp")
LANGUAGE = Command("sprak")
FORGET = Command("glom")
ROUTINE = Command("rutin", coordinator_only=True)
CARD = Command("kort")
HEALTH = Command("halsa", coordinator_only=True)
REPORT = Command("rapportera")
CANCEL = Command("avbryt")
MINE = Command("mina")
CASES = Command("arenden", coordinator_only=True)
REMINDERS = Command("paminnelser")
REMIND = Command("paminn", coordinator_only=True)
STATS = Command("statistik", coordinator_only=True)
PRIVACY = Command("integritet")

# Menu order: what a frightened official needs first.
COMMANDS = (
    START,
    CONTACT,
    REPORT,
    CANCEL,
    MINE,
    CARD,
    REMINDERS,
    HELP,
    PRIVACY,
    LANGUAGE,
    FORGET,
    CASES,
    ROUTINE,
    HEALTH,
    REMIND,
    STATS,
)


def menu(lang: str, coordinator: bool) -> list[BotCommand]:
    """The commands shown in Telegram's menu for one language and role."""
    return [
        BotCommand(c.name(lang), t(f"command.{c.key}", lang))
        for c in COMMANDS
        if c.in_menu and (coordinator or not c.coordinator_only)
    ]


async def publish_default_commands(bot: Bot) -> None:
    """The members' menu for everyone: Swedish by default, each other language for its clients."""
    for lang in LANGUAGES:
        await bot.set_my_commands(
            menu(lang, False), scope=BotCommandScopeDefault(), language_code=_language_code(lang)
        )


async def publish_chat_commands(bot: Bot, chat_id: int, role: str | None) -> None:
    """A coordinator's private chat gets their extra commands; others fall back to the default.

    A failure here must not stop a join: the menu is a convenience, the commands work anyway.
    """
    scope = BotCommandScopeChat(chat_id)
    try:
        if role == "coordinator":
            for lang in LANGUAGES:
                await bot.set_my_commands(
                    menu(lang, True), scope=scope, language_code=_language_code(lang)
                )
        elif role == "national":  # the members' commands and the statistics of all
            for lang in LANGUAGES:
                extra = BotCommand(STATS.name(lang), t(f"command.{STATS.key}", lang))
                await bot.set_my_commands(
                    [*menu(lang, False), extra], scope=scope, language_code=_language_code(lang)
                )
        else:
            for lang in LANGUAGES:
                await bot.delete_my_commands(scope=scope, language_code=_language_code(lang))
    except TelegramError as error:
        log.warning("could not set the chat's command menu: %s", type(error).__name__)
