"""Sending (and editing) a reply without turning Telegram's answer back into PTB objects.

`Bot.send_message` serialises the keyboard's objects for every call and builds a `Message` of
Telegram's answer (the chat, the sender, every entity of a long answer, the keyboard again):
a large share of the bot's time per update, for an object no handler reads. `send_html` sends
the very same request (`sendMessage` with the chat, the text, `parse_mode` HTML, link previews
off and the keyboard, checked against `Chat.send_message` by tests/test_sending.py) through the
same `Bot._post` path, so `Defaults`, the request object (and with it the monitoring wrapper
that counts answers, `bot/monitoring.py`) and PTB's mapping of errors (`Forbidden`,
`RetryAfter`, `BadRequest`, ...) are those of every other call. It returns Telegram's answer as
plain JSON.

A keyboard is serialised once per `InlineKeyboardMarkup` object: PTB's objects are frozen, and
the menus and answer keyboards are cached objects (`bot/render_cache.py`), so the same few are
sent again and again. It is kept as the JSON text PTB would send (`json.dumps` with its
defaults): PTB sends a text parameter as it is, and would otherwise search the keyboard's
dicts for files and encode them again on every call. The bytes on the wire are the same.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode

JSONDict = dict[str, Any]

_SERIALISED_SIZE = 512


class _Serialised:
    """`to_dict()` of recently sent keyboards as JSON text, by identity (the entry keeps its
    object alive, so an `id()` cannot be reused for another keyboard while it is cached)."""

    def __init__(self, size: int = _SERIALISED_SIZE) -> None:
        self._size = size
        self._entries: OrderedDict[int, tuple[InlineKeyboardMarkup, str]] = OrderedDict()

    def get(self, markup: InlineKeyboardMarkup) -> str:
        key = id(markup)
        entry = self._entries.get(key)
        if entry is not None and entry[0] is markup:
            self._entries.move_to_end(key)
            return entry[1]
        data = json.dumps(keyboard_json(markup))
        self._entries[key] = (markup, data)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return data


_keyboards = _Serialised()
_NO_PREVIEW = json.dumps({"is_disabled": True})

# A button the bot makes carries text and callback data (or a link) only; its JSON is those
# fields. Anything else (a web app, a login URL, fields PTB does not know) goes through PTB's
# general `to_dict`, which is several times slower: the form's keyboards change with every
# step, so each is serialised anew.
_PLAIN = ("text", "callback_data", "url")
_OTHER = tuple(name for name in InlineKeyboardButton.__slots__ if name not in _PLAIN)


def keyboard_json(markup: InlineKeyboardMarkup) -> JSONDict:
    """`markup.to_dict()`, by a short way for plain buttons (tests/test_sending.py)."""
    rows: list[list[JSONDict]] = []
    for row in markup.inline_keyboard:
        out: list[JSONDict] = []
        for button in row:
            if button.api_kwargs or any(getattr(button, name) is not None for name in _OTHER):
                return markup.to_dict()
            shown: JSONDict = {"text": button.text}
            if button.callback_data is not None:
                shown["callback_data"] = button.callback_data
            if button.url is not None:
                shown["url"] = button.url
            out.append(shown)
        rows.append(out)
    if markup.api_kwargs:
        return markup.to_dict()
    return {"inline_keyboard": rows}


def _html(chat_id: int, text: str, markup: InlineKeyboardMarkup | None) -> JSONDict:
    data: JSONDict = {
        "chat_id": chat_id,
        "text": text,
        "parse_mode": ParseMode.HTML.value,
        # as the application's `Defaults` (bot/app.py): a reply never unfurls a link
        "link_preview_options": _NO_PREVIEW,
    }
    if markup is not None:
        data["reply_markup"] = _keyboards.get(markup)
    return data


async def send_html(
    bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None
) -> Any:
    """Send `text` as HTML to `chat_id`, as `bot.send_message(chat_id, text, reply_markup=markup)`
    with the application's defaults would; returns Telegram's answer as JSON, not a `Message`."""
    # `Bot._post` is the path every one of PTB's methods ends in; `do_api_request`, its public
    # door, warns when asked for a method PTB knows.
    return await bot._post("sendMessage", _html(chat_id, text, markup))


async def edit_html(
    bot: Bot,
    chat_id: int,
    message_id: int,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
) -> Any:
    """Replace the text (and keyboard) of a message the bot sent, as a button's
    `query.edit_message_text(text, reply_markup=markup)` would; Telegram's answer as JSON."""
    data = _html(chat_id, text, markup)
    data["message_id"] = message_id
    return await bot._post("editMessageText", data)
