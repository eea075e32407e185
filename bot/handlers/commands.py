"""The command table: Swedish names first, English aliases, who sees them in the menu.

Telegram shows a menu per scope and language: everyone gets the members' commands in Swedish
(English for English clients); a coordinator's own chat adds the coordinators' commands.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from telegram import Bot, BotCommand, BotCommandScopeChat, BotCommandScopeDefault
from telegram.error import TelegramError

from bot.i18n import t

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Command:
    sv: str
    en: str
    coordinator_only: bool = False
    in_menu: bool = True

    @property
    def names(self) -> tuple[str, str]:
        return (self.sv, self.en)

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.sv


START = Command("start", "start", in_menu=False)
CONTACT = Command("kontakt", "contact")
HELP = Command("hjalp", "help")
LANGUAGE = Command("sprak", "language")
FORGET = Command("glom", "forget")
ROUTINE = Command("rutin", "routine", coordinator_only=True)
CARD = Command("kort", "card")
HEALTH = Command("halsa", "health", coordinator_only=True)
REPORT = Command("rapportera", "report")
CANCEL = Command("avbryt", "cancel")
MINE = Command("mina", "myreports")
CASES = Command("arenden", "cases", coordinator_only=True)
REMINDERS = Command("paminnelser", "reminders")
REMIND = Command("paminn", "remind", coordinator_only=True)
STATS = Command("statistik", "stats", coordinator_only=True)
PRIVACY = Command("integritet", "privacy")

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
        BotCommand(c.name(lang), t(f"command.{c.sv}", lang))
        for c in COMMANDS
        if c.in_menu and (coordinator or not c.coordinator_only)
    ]


async def publish_default_commands(bot: Bot) -> None:
    """The members' menu for everyone: Swedish by default, English for English clients."""
    await bot.set_my_commands(menu("sv", False), scope=BotCommandScopeDefault())
    await bot.set_my_commands(menu("en", False), scope=BotCommandScopeDefault(), language_code="en")


async def publish_chat_commands(bot: Bot, chat_id: int, role: str | None) -> None:
    """A coordinator's private chat gets their extra commands; others fall back to the default.

    A failure here must not stop a join: the menu is a convenience, the commands work anyway.
    """
    scope = BotCommandScopeChat(chat_id)
    try:
        if role == "coordinator":
            await bot.set_my_commands(menu("sv", True), scope=scope)
            await bot.set_my_commands(menu("en", True), scope=scope, language_code="en")
        elif role == "national":  # the members' commands and the statistics of all
            for lang, code in (("sv", None), ("en", "en")):
                extra = BotCommand(STATS.name(lang), t(f"command.{STATS.sv}", lang))
                await bot.set_my_commands(
                    [*menu(lang, False), extra], scope=scope, language_code=code
                )
        else:
            await bot.delete_my_commands(scope=scope)
            await bot.delete_my_commands(scope=scope, language_code="en")
    except TelegramError as error:
        log.warning("could not set the chat's command menu: %s", type(error).__name__)
