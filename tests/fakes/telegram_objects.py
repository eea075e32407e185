"""Builders for incoming Telegram updates, as Bot API JSON dicts or as PTB objects.

Every builder returns the update as Telegram would send it (a dict with an increasing
``update_id``); `to_update` turns one into a `telegram.Update` bound to a bot, ready for
``await app.process_update(...)``. ``ptb_*`` shortcuts do both at once::

    await app.process_update(ptb(message_update(42, "/start"), app.bot))

Defaults: a private chat whose id is the user's id, ``language_code="sv"``, the bot of
`bot.devchat.transport` (id 123456, ``@trygg_test_bot``). Group chats: ``chat_type="group"`` or
``"supergroup"`` with an optional ``chat_id`` (a negative id is made up otherwise).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from typing import Any, Literal

from telegram import Bot, Update

from bot.devchat.transport import (
    DEFAULT_BOT_FIRST_NAME,
    DEFAULT_BOT_ID,
    DEFAULT_BOT_USERNAME,
    utf16_len,
)

JSONDict = dict[str, Any]
ChatType = Literal["private", "group", "supergroup", "channel"]

_update_ids = itertools.count(1)
_message_ids = itertools.count(1)
_callback_ids = itertools.count(1)
_file_ids = itertools.count(1)

DEFAULT_GROUP_ID = -1001234567890
DEFAULT_GROUP_TITLE = "Testgruppen"


def next_update_id() -> int:
    return next(_update_ids)


def now() -> int:
    return int(time.time())


def user(
    user_id: int,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "sv",
    is_bot: bool = False,
) -> JSONDict:
    data: JSONDict = {
        "id": user_id,
        "is_bot": is_bot,
        "first_name": first_name if first_name is not None else f"Användare{user_id}",
    }
    if last_name is not None:
        data["last_name"] = last_name
    if username is not None:
        data["username"] = username
    if language_code is not None:
        data["language_code"] = language_code
    return data


def bot_user(
    bot_id: int = DEFAULT_BOT_ID,
    username: str = DEFAULT_BOT_USERNAME,
    first_name: str = DEFAULT_BOT_FIRST_NAME,
) -> JSONDict:
    return {"id": bot_id, "is_bot": True, "first_name": first_name, "username": username}


def chat(
    user_id: int,
    chat_type: ChatType = "private",
    *,
    chat_id: int | None = None,
    title: str | None = None,
    first_name: str | None = None,
    username: str | None = None,
) -> JSONDict:
    """The chat a user writes in: their private chat, or a group/supergroup/channel."""
    if chat_type == "private":
        data: JSONDict = {
            "id": chat_id if chat_id is not None else user_id,
            "type": "private",
            "first_name": first_name if first_name is not None else f"Användare{user_id}",
        }
        if username is not None:
            data["username"] = username
        return data
    if chat_id is None:
        chat_id = DEFAULT_GROUP_ID if chat_type in ("supergroup", "channel") else -4000000001
    return {"id": chat_id, "type": chat_type, "title": title or DEFAULT_GROUP_TITLE}


def command_entities(text: str) -> list[JSONDict]:
    """The bot_command entity Telegram adds when a text starts with ``/``."""
    if not text.startswith("/"):
        return []
    command = text.split(maxsplit=1)[0] if text.strip() else text
    if len(command) < 2:
        return []
    return [{"type": "bot_command", "offset": 0, "length": utf16_len(command)}]


def _message(
    user_id: int,
    *,
    chat_type: ChatType,
    chat_id: int | None,
    message_id: int | None,
    first_name: str | None,
    last_name: str | None,
    username: str | None,
    language_code: str | None,
    date: int | None,
) -> JSONDict:
    sender = user(
        user_id,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
    )
    message: JSONDict = {
        "message_id": message_id if message_id is not None else next(_message_ids),
        "date": date if date is not None else now(),
        "chat": chat(
            user_id,
            chat_type,
            chat_id=chat_id,
            first_name=sender["first_name"],
            username=username,
        ),
    }
    if chat_type != "channel":
        message["from"] = sender
    return message


def text_message(
    user_id: int,
    text: str,
    *,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    message_id: int | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "sv",
    date: int | None = None,
    entities: Sequence[JSONDict] | None = None,
    reply_to_message: JSONDict | None = None,
) -> JSONDict:
    """A text message from a user (a Message object, not an update)."""
    message = _message(
        user_id,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
        date=date,
    )
    message["text"] = text
    found = list(entities) if entities is not None else command_entities(text)
    if found:
        message["entities"] = found
    if reply_to_message is not None:
        message["reply_to_message"] = reply_to_message
    return message


def message_update(
    user_id: int,
    text: str,
    *,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    message_id: int | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "sv",
    date: int | None = None,
    entities: Sequence[JSONDict] | None = None,
    reply_to_message: JSONDict | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """An update with a text message; ``/commands`` get their bot_command entity."""
    message = text_message(
        user_id,
        text,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        first_name=first_name,
        last_name=last_name,
        username=username,
        language_code=language_code,
        date=date,
        entities=entities,
        reply_to_message=reply_to_message,
    )
    key = "channel_post" if chat_type == "channel" else "message"
    return {"update_id": update_id if update_id is not None else next_update_id(), key: message}


def edited_message_update(
    user_id: int,
    text: str,
    message_id: int,
    *,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    language_code: str | None = "sv",
    first_name: str | None = None,
    username: str | None = None,
    date: int | None = None,
    edit_date: int | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """The user edited an earlier message ``message_id`` to ``text``."""
    message = text_message(
        user_id,
        text,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        first_name=first_name,
        username=username,
        language_code=language_code,
        date=date if date is not None else now() - 60,
    )
    message["edit_date"] = edit_date if edit_date is not None else now()
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "edited_message": message,
    }


def bot_message(
    chat_id: int,
    message_id: int,
    text: str = "…",
    *,
    reply_markup: JSONDict | None = None,
    chat_type: ChatType = "private",
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    date: int | None = None,
) -> JSONDict:
    """A message the bot sent earlier (what a callback query carries)."""
    message: JSONDict = {
        "message_id": message_id,
        "from": bot_user(bot_id, bot_username),
        "chat": chat(chat_id, chat_type, chat_id=chat_id if chat_type != "private" else None),
        "date": date if date is not None else now(),
        "text": text,
    }
    if reply_markup is not None:
        message["reply_markup"] = reply_markup
    return message


def callback_update(
    user_id: int,
    data: str,
    message_id: int,
    *,
    message: JSONDict | None = None,
    message_text: str = "…",
    reply_markup: JSONDict | None = None,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    first_name: str | None = None,
    username: str | None = None,
    language_code: str | None = "sv",
    callback_id: str | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    update_id: int | None = None,
) -> JSONDict:
    """A tap on an inline button with callback ``data`` under the bot's message ``message_id``.

    ``message`` is the bot message as it is now (e.g. from `FakeBotApi.message`); without it a
    stand-in with ``message_text`` and ``reply_markup`` is used.
    """
    in_chat = chat_id if chat_id is not None else (user_id if chat_type == "private" else None)
    if message is None:
        target = chat(user_id, chat_type, chat_id=in_chat)
        message = bot_message(
            target["id"],
            message_id,
            message_text,
            reply_markup=reply_markup,
            chat_type=chat_type,
            bot_id=bot_id,
            bot_username=bot_username,
        )
    query: JSONDict = {
        "id": callback_id if callback_id is not None else str(9_000_000 + next(_callback_ids)),
        "from": user(
            user_id, first_name=first_name, username=username, language_code=language_code
        ),
        "chat_instance": f"ci-{message['chat']['id']}",
        "data": data,
        "message": message,
    }
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "callback_query": query,
    }


def photo_sizes(file_id: str | None = None, file_size: int = 12345) -> list[JSONDict]:
    base = file_id or f"user-photo-{next(_file_ids)}"
    return [
        {
            "file_id": f"{base}-{side}",
            "file_unique_id": f"{base}-{side}-u",
            "width": side,
            "height": side,
            "file_size": file_size * side // 1280,
        }
        for side in (90, 320, 1280)
    ]


def photo_update(
    user_id: int,
    *,
    caption: str | None = None,
    file_id: str | None = None,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str | None = "sv",
    first_name: str | None = None,
    username: str | None = None,
    update_id: int | None = None,
) -> JSONDict:
    """The user sent a photo (three sizes), optionally with a caption."""
    message = _message(
        user_id,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        first_name=first_name,
        last_name=None,
        username=username,
        language_code=language_code,
        date=None,
    )
    message["photo"] = photo_sizes(file_id)
    if caption is not None:
        message["caption"] = caption
        entities = command_entities(caption)
        if entities:
            message["caption_entities"] = entities
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "message": message,
    }


def sticker_update(
    user_id: int,
    *,
    emoji: str = "👍",
    file_id: str | None = None,
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str | None = "sv",
    update_id: int | None = None,
) -> JSONDict:
    """The user sent a (regular, static) sticker."""
    message = _message(
        user_id,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        first_name=None,
        last_name=None,
        username=None,
        language_code=language_code,
        date=None,
    )
    sticker_id = file_id or f"user-sticker-{next(_file_ids)}"
    message["sticker"] = {
        "file_id": sticker_id,
        "file_unique_id": f"{sticker_id}-u",
        "type": "regular",
        "width": 512,
        "height": 512,
        "is_animated": False,
        "is_video": False,
        "emoji": emoji,
        "set_name": "TestStickers",
        "file_size": 20480,
    }
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "message": message,
    }


def forward_origin(
    kind: Literal["user", "hidden_user", "chat", "channel"] = "user",
    *,
    from_user_id: int = 777,
    sender_name: str = "Okänd avsändare",
    chat_id: int = -1009876543210,
    title: str = "Nyhetskanalen",
    date: int | None = None,
) -> JSONDict:
    """Where a forwarded message came from (Bot API ``MessageOrigin``)."""
    when = date if date is not None else now() - 3600
    if kind == "user":
        return {"type": "user", "date": when, "sender_user": user(from_user_id, language_code=None)}
    if kind == "hidden_user":
        return {"type": "hidden_user", "date": when, "sender_user_name": sender_name}
    origin_chat = {
        "id": chat_id,
        "type": "channel" if kind == "channel" else "supergroup",
        "title": title,
    }
    if kind == "channel":
        return {"type": "channel", "date": when, "chat": origin_chat, "message_id": 42}
    return {"type": "chat", "date": when, "sender_chat": origin_chat}


def forwarded_message_update(
    user_id: int,
    text: str,
    *,
    origin: Literal["user", "hidden_user", "chat", "channel"] = "user",
    from_user_id: int = 777,
    sender_name: str = "Okänd avsändare",
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    message_id: int | None = None,
    language_code: str | None = "sv",
    update_id: int | None = None,
) -> JSONDict:
    """The user forwarded someone's message (e.g. a threat they received) to the bot."""
    message = text_message(
        user_id,
        text,
        chat_type=chat_type,
        chat_id=chat_id,
        message_id=message_id,
        language_code=language_code,
        entities=[],
    )
    message["forward_origin"] = forward_origin(
        origin, from_user_id=from_user_id, sender_name=sender_name
    )
    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "message": message,
    }


def my_chat_member_update(
    user_id: int,
    new_status: Literal["member", "kicked", "left", "administrator"],
    *,
    old_status: Literal["member", "kicked", "left", "administrator"] = "member",
    chat_type: ChatType = "private",
    chat_id: int | None = None,
    bot_id: int = DEFAULT_BOT_ID,
    bot_username: str = DEFAULT_BOT_USERNAME,
    update_id: int | None = None,
) -> JSONDict:
    """The bot's membership changed: ``"kicked"`` in a private chat means the user blocked the
    bot; ``"member"`` in a group means it was added."""

    def member(status: str) -> JSONDict:
        data: JSONDict = {"status": status, "user": bot_user(bot_id, bot_username)}
        if status == "kicked":
            data["until_date"] = 0
        if status == "administrator":
            data.update(
                {
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": True,
                    "can_manage_video_chats": False,
                    "can_restrict_members": False,
                    "can_promote_members": False,
                    "can_change_info": False,
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                }
            )
        return data

    return {
        "update_id": update_id if update_id is not None else next_update_id(),
        "my_chat_member": {
            "chat": chat(user_id, chat_type, chat_id=chat_id),
            "from": user(user_id),
            "date": now(),
            "old_chat_member": member(old_status),
            "new_chat_member": member(new_status),
        },
    }


def to_update(data: JSONDict, bot: Bot) -> Update:
    """The PTB object for an update dict, bound to ``bot`` (so ``reply_text`` etc. work)."""
    update = Update.de_json(data, bot)
    if update is None:  # pragma: no cover - de_json only returns None for None
        raise ValueError("not an update")
    return update


ptb = to_update


def ptb_message(bot: Bot, user_id: int, text: str, **kwargs: Any) -> Update:
    return to_update(message_update(user_id, text, **kwargs), bot)


def ptb_callback(bot: Bot, user_id: int, data: str, message_id: int, **kwargs: Any) -> Update:
    return to_update(callback_update(user_id, data, message_id, **kwargs), bot)
