"""The one place that registers every handler; order matters, so it is explained here."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from telegram import Update
from telegram.ext import CallbackQueryHandler, CommandHandler, MessageHandler, filters

from bot.context import TryggApp, TryggContext
from bot.handlers import (
    account,
    cases,
    commands,
    contact,
    edge,
    flood,
    health,
    membership,
    mine,
    privacy,
    report,
    stats,
    text,
)
from bot.handlers import reminders as reminder_commands

Callback = Callable[[Update, TryggContext], Coroutine[Any, Any, None]]

_PRIVATE = filters.ChatType.PRIVATE

COMMAND_CALLBACKS: dict[commands.Command, Callback] = {
    commands.START: membership.start,
    commands.CONTACT: contact.contact_command,
    commands.HELP: account.help_command,
    commands.LANGUAGE: account.language_command,
    commands.FORGET: membership.forget_command,
    commands.ROUTINE: account.routine_command,
    commands.CARD: health.card_command,
    commands.HEALTH: health.health_command,
    commands.REPORT: report.report_command,
    commands.CANCEL: report.cancel_command,
    commands.MINE: mine.mine_command,
    commands.CASES: cases.cases_command,
    commands.REMINDERS: reminder_commands.reminders_command,
    commands.REMIND: reminder_commands.remind_command,
    commands.STATS: stats.stats_command,
    commands.PRIVACY: privacy.privacy_command,
}


async def _menu(update: Update, context: TryggContext, _arg: str) -> None:
    """The menu button: the situations again."""
    await contact.show_menu(update, context)


# Every button's action (the part before ":" in its data, made in bot/callbacks.py) and the
# handler it runs with the rest; an action missing here gets the outdated-button answer.
BUTTON_CALLBACKS: dict[str, edge.ButtonCallback] = {
    "sit": contact.situation_chosen,
    "menu": _menu,
    "lang": account.language_chosen,
    "join": membership.join_chosen,
    "forget": membership.forget_chosen,
    "rep": report.report_button_pressed,
    "case": cases.case_button,
    "relay": cases.relay_button,
    "mine": mine.mine_button,
    "remind": reminder_commands.reminders_button,
    "stats": stats.stats_button,
}


def register(app: TryggApp, flood_guard: flood.FloodGuard | None = None) -> None:
    """Add all handlers to group 0; the first matching handler wins, so specific ones go first.

    With a `flood_guard`, it sees every update first, in group -1: a user who sends too much is
    answered once and their updates are stopped there (ApplicationHandlerStop), before any
    handler of group 0 reads the database, so they do not hold up anyone else.
    """
    if flood_guard is not None:
        app.add_handler(flood.handler(flood_guard), group=flood.GROUP)
    # Personal things happen in private chats only: in a group every command gets the
    # national numbers and a link to a private chat, before any other handler sees it.
    app.add_handler(MessageHandler(filters.ChatType.GROUPS & filters.COMMAND, edge.group_message))
    # Edits would otherwise reach the command and text handlers a second time.
    app.add_handler(MessageHandler(filters.UpdateType.EDITED & _PRIVATE, edge.edited))
    for command, callback in COMMAND_CALLBACKS.items():
        app.add_handler(CommandHandler(list(set(command.names)), callback, filters=_PRIVATE))
    app.add_handler(CallbackQueryHandler(edge.button_router(BUTTON_CALLBACKS)))
    app.add_handler(MessageHandler(_PRIVATE & filters.COMMAND, edge.unknown_command))
    app.add_handler(MessageHandler(_PRIVATE & filters.TEXT, text.on_text))
    app.add_handler(MessageHandler(_PRIVATE, edge.not_text))
    app.add_error_handler(edge.on_error)
