"""The baseline of `load_e2e`: a bare python-telegram-bot bot that answers every update "echo".

Nothing of trygg: no database, no routines, no outbox. It polls like trygg (`run_polling`,
the same allowed updates, updates of one chat in order) and answers a message with one
`sendMessage`, a button press with `answerCallbackQuery` and one `sendMessage`, so that the
load generator sees a reply to everything it sends. Configured as trygg is:
`TELEGRAM_BOT_TOKEN` and `TRYGG_API_URL`.

    TELEGRAM_BOT_TOKEN=... TRYGG_API_URL=http://127.0.0.1:8081/bot python bench/echo_bot.py
"""

from __future__ import annotations

import logging
import os
import sys

from telegram import Update
from telegram.ext import Application, CallbackQueryHandler, ContextTypes, MessageHandler, filters


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer anything with "echo" in its chat (a button press is answered first)."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    chat = update.effective_chat
    if chat is not None:
        await context.bot.send_message(chat.id, "echo")


def main() -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    app = (
        Application.builder()
        .token(os.environ["TELEGRAM_BOT_TOKEN"])
        .base_url(os.environ.get("TRYGG_API_URL", "https://api.telegram.org/bot"))
        .concurrent_updates(False)
        .build()
    )
    app.add_handler(MessageHandler(filters.ALL, echo))
    app.add_handler(CallbackQueryHandler(echo))
    app.run_polling(
        allowed_updates=[Update.MESSAGE, Update.EDITED_MESSAGE, Update.CALLBACK_QUERY],
        close_loop=False,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
