"""An offline Telegram Bot API: answers methods the way Telegram does, and records every call.

`FakeBotApi` holds the state (the bot, the messages sent, queued updates, injected faults) and
answers one method call at a time; it is thread-safe. `RecordingRequest` plugs it into
python-telegram-bot as a `BaseRequest`, so a `Bot`/`Application` talks to it instead of the
network (the terminal chat and the tests use it); the tests' HTTP server answers with the same
`FakeBotApi`.

What it emulates, because these are the ways a bot meets Telegram's rules:

* text and captions with ``parse_mode="HTML"`` are parsed like Telegram: the echoed message
  has the plain text and its entities, and bad markup (``<br>``, an unclosed ``<b>``, a bare
  ``<``) is the same 400 "can't parse entities" error;
* ``Markdown``/``MarkdownV2`` are accepted but not parsed (the echo keeps the raw text);
* text is trimmed, empty text and text over 4096 characters (captions over 1024) are refused;
* callback data longer than 64 bytes is refused (``BUTTON_DATA_INVALID``);
* editing a message to the same text and keyboard is 400 "message is not modified", and an
  edit without ``reply_markup`` removes the inline keyboard;
* ``getUpdates`` honours ``offset`` (confirmation, negative offsets), ``limit``, ``timeout``
  and ``allowed_updates``;
* method names are case-insensitive and unknown methods are 404 "Not Found".

Faults are injected with `FakeBotApi.fail_next`, `FakeBotApi.block_user`,
`FakeBotApi.set_down`, or a ``responder`` hook, which may return an `ApiReply` / `NetworkFault`
or raise python-telegram-bot's own errors (`RetryAfter`, `Forbidden`, `BadRequest`,
`NetworkError`, `TimedOut`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import itertools
import json
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, TypeVar
from urllib.parse import urlsplit

from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import BaseRequest, RequestData

__all__ = [
    "DEFAULT_ALLOWED_UPDATES",
    "DEFAULT_BOT_ID",
    "DEFAULT_BOT_USERNAME",
    "EDIT_METHODS",
    "SEND_METHODS",
    "ApiReply",
    "Call",
    "EntityParseError",
    "FakeBotApi",
    "NetworkFault",
    "OnSend",
    "RecordingRequest",
    "Responder",
    "Response",
    "decode_form_value",
    "file_record",
    "parse_html",
    "utf16_len",
]

JSONDict = dict[str, Any]
T = TypeVar("T")

DEFAULT_BOT_ID = 123456
DEFAULT_BOT_USERNAME = "trygg_test_bot"
DEFAULT_BOT_FIRST_NAME = "Trygg"

MESSAGE_LIMIT = 4096
CAPTION_LIMIT = 1024
CALLBACK_DATA_LIMIT = 64

SEND_METHODS = frozenset({"sendMessage", "sendPhoto", "sendDocument"})
EDIT_METHODS = frozenset({"editMessageText", "editMessageReplyMarkup", "editMessageCaption"})

UPDATE_TYPES = (
    "message",
    "edited_message",
    "channel_post",
    "edited_channel_post",
    "business_connection",
    "business_message",
    "edited_business_message",
    "deleted_business_messages",
    "message_reaction",
    "message_reaction_count",
    "inline_query",
    "chosen_inline_result",
    "callback_query",
    "shipping_query",
    "pre_checkout_query",
    "purchased_paid_media",
    "poll",
    "poll_answer",
    "my_chat_member",
    "chat_member",
    "chat_join_request",
    "chat_boost",
    "removed_chat_boost",
)
#: What Telegram delivers when ``allowed_updates`` was never set (or set to ``[]``).
DEFAULT_ALLOWED_UPDATES = frozenset(UPDATE_TYPES) - {
    "chat_member",
    "message_reaction",
    "message_reaction_count",
}

_NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
_STATUS_TEXT = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}
_BAD_GATEWAY_HTML = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n"
    b"</body>\r\n</html>\r\n"
)


# --------------------------------------------------------------------------- replies and calls


@dataclass(frozen=True)
class ApiReply:
    """One HTTP answer of the Bot API: a status and its JSON body (or raw bytes, e.g. nginx's
    HTML for a 502)."""

    status: int
    body: JSONDict
    raw: bytes | None = None
    # `body` as JSON, when it was encoded already (`FakeBotApi.handle`)
    encoded: bytes | None = field(default=None, repr=False, compare=False)

    @classmethod
    def success(cls, result: Any) -> ApiReply:
        return cls(200, {"ok": True, "result": result})

    @classmethod
    def error(
        cls,
        status: int,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        migrate_to_chat_id: int | None = None,
    ) -> ApiReply:
        """An error as Telegram words it: ``{"ok": false, "error_code", "description"}``."""
        if description is None:
            description = _default_description(status, retry_after)
        body: JSONDict = {"ok": False, "error_code": status, "description": description}
        parameters: JSONDict = {}
        if retry_after is not None:
            parameters["retry_after"] = retry_after
        if migrate_to_chat_id is not None:
            parameters["migrate_to_chat_id"] = migrate_to_chat_id
        if parameters:
            body["parameters"] = parameters
        return cls(status, body)

    @classmethod
    def too_many_requests(cls, retry_after: int) -> ApiReply:
        return cls.error(429, retry_after=retry_after)

    @classmethod
    def blocked(cls) -> ApiReply:
        return cls.error(403, "Forbidden: bot was blocked by the user")

    @classmethod
    def bad_gateway(cls) -> ApiReply:
        """What Telegram's front end answers while the Bot API is away: HTML, not JSON."""
        return cls(502, {}, raw=_BAD_GATEWAY_HTML)

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def result(self) -> Any:
        return self.body.get("result")

    @property
    def description(self) -> str | None:
        value = self.body.get("description")
        return value if isinstance(value, str) else None

    def payload(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.encoded is not None:
            return self.encoded
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class NetworkFault:
    """No HTTP answer at all. ``reset``: the connection breaks (PTB raises `NetworkError`);
    ``timeout``: no answer comes (PTB raises `TimedOut`; the HTTP server holds the request for
    ``hang`` seconds, or until it stops, then closes the connection)."""

    kind: Literal["reset", "timeout"] = "reset"
    message: str | None = None
    hang: float = 30.0

    def to_exception(self) -> NetworkError:
        if self.kind == "timeout":
            return TimedOut(self.message) if self.message else TimedOut()
        return NetworkError(
            self.message
            or "httpx.RemoteProtocolError: Server disconnected without sending a response."
        )


Response = ApiReply | NetworkFault
Responder = Callable[[str, JSONDict], "Response | None"]


@dataclass(frozen=True)
class Call:
    """One Bot API call as it arrived, with its params decoded to plain JSON values (an uploaded
    file is recorded by `file_record`: name, size and type, not its bytes), and how it ended:
    ``status`` 200 with ``result``, an error status with ``error``, or 0 for a network fault."""

    method: str
    params: JSONDict
    status: int = 200
    result: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status <= 299

    @property
    def chat_id(self) -> int | str | None:
        return _norm_chat_id(self.params.get("chat_id"))

    @property
    def text(self) -> str | None:
        """The text or caption as the bot sent it (markup included)."""
        value = self.params.get("text", self.params.get("caption"))
        return value if isinstance(value, str) else None


OnSend = Callable[[Call, JSONDict], None]


def _default_description(status: int, retry_after: int | None = None) -> str:
    if status == 429:
        return f"Too Many Requests: retry after {retry_after if retry_after is not None else 1}"
    if status == 403:
        return "Forbidden: bot was blocked by the user"
    return _STATUS_TEXT.get(status, f"Error {status}")


def _reply_from_exception(exc: TelegramError) -> Response:
    """Map one of PTB's errors to the answer that makes PTB raise it again."""
    if isinstance(exc, RetryAfter):
        # `exc.retry_after` warns (PTBDeprecationWarning) unless PTB_TIMEDELTA is set
        return ApiReply.too_many_requests(max(1, int(exc._retry_after.total_seconds())))
    if isinstance(exc, ChatMigrated):
        return ApiReply.error(
            400,
            "Bad Request: group chat was upgraded to a supergroup chat",
            migrate_to_chat_id=int(exc.new_chat_id),
        )
    if isinstance(exc, TimedOut):
        return NetworkFault("timeout", exc.message)
    if isinstance(exc, Forbidden):
        return ApiReply.error(403, _prefixed("Forbidden", exc.message))
    if isinstance(exc, InvalidToken | EndPointNotFound):
        return ApiReply.error(404 if isinstance(exc, EndPointNotFound) else 401, exc.message)
    if isinstance(exc, BadRequest):
        return ApiReply.error(400, _prefixed("Bad Request", exc.message))
    if isinstance(exc, Conflict):
        return ApiReply.error(409, _prefixed("Conflict", exc.message))
    if isinstance(exc, NetworkError):
        return NetworkFault("reset", exc.message)
    return ApiReply.error(500, exc.message)


def _prefixed(prefix: str, message: str) -> str:
    return message if message.startswith(prefix) else f"{prefix}: {message}"


# ---------------------------------------------------------------------------- param decoding

#: Params that are strings even when they look like JSON ("123", "true"); every other form
#: value is JSON-decoded when it parses, as Telegram does by the method's parameter types.
STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "description",
        "short_description",
        "name",
        "title",
        "language_code",
        "emoji",
        "query",
        "business_connection_id",
        "message_effect_id",
        "secret_token",
        "ip_address",
        "first_name",
        "last_name",
        "phone_number",
        "vcard",
        "address",
        "question",
        "explanation",
        "custom_emoji_id",
        "payload",
        "currency",
        "start_parameter",
        "photo",
        "document",
        "video",
        "audio",
        "voice",
        "animation",
        "sticker",
        "thumbnail",
        "file_id",
        "next_offset",
        "invite_link",
    }
)


def decode_form_value(name: str, value: str) -> Any:
    """A form-encoded Bot API param as its JSON value (``"123"`` → 123, ``"{...}"`` → dict),
    except for text-like params, which stay strings."""
    if name in STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def file_record(filename: str | None, size: int, mime_type: str | None = None) -> JSONDict:
    """How an uploaded file is recorded in `Call.params` (its bytes are not kept)."""
    return {"upload": True, "filename": filename, "size": size, "mime_type": mime_type}


def _norm_chat_id(value: Any) -> int | str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return value
    return None


def _to_json(value: Any) -> Any:
    """A deep copy made only of JSON types (tuples become lists)."""
    return json.loads(json.dumps(value))


def _copy(value: T) -> T:
    """A deep copy of what the fake keeps (params, messages, chats, updates: all plain JSON,
    made so by `_to_json`): a round trip through the C-coded json module costs a fraction of
    `copy.deepcopy` on these nested dicts, and a recorded message is copied several times."""
    copied: T = json.loads(json.dumps(value))
    return copied


def decode_request_data(request_data: RequestData | None) -> JSONDict:
    """The params PTB sends, as plain JSON values, with uploads replaced by `file_record`."""
    if request_data is None:
        return {}
    params: JSONDict = {}
    for name, value in request_data.parameters.items():
        if isinstance(value, str):
            # Sent as it is, so on the wire an object given as JSON text (a keyboard serialised
            # once, bot/sending.py) is the same as one PTB encodes: decode it as Telegram does.
            objectlike = value[:1] in ("{", "[")
            params[name] = decode_form_value(name, value) if objectlike else value
        elif type(value) in (int, float, bool):  # immutable JSON
            params[name] = value
        else:
            params[name] = _to_json(value)
    for name, part in request_data.multipart_data.items():
        filename, content = part[0], part[1]
        mime_type = part[2] if len(part) > 2 else None
        size = len(content) if isinstance(content, bytes | bytearray) else len(content.read())
        record = file_record(filename, size, mime_type)
        if name in params:
            params.setdefault("_attachments", {})[name] = record
        else:
            params[name] = record
    return params


# ------------------------------------------------------------------------------ HTML parsing


class EntityParseError(ValueError):
    """Markup Telegram refuses; the message is Telegram's wording after "can't parse
    entities: "."""


_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "a": "text_link",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ENTITY_RE = re.compile(r"&(?:#([0-9]{1,7})|#[xX]([0-9a-fA-F]{1,6})|(lt|gt|amp|quot));")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's entity offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _OpenTag:
    tag: str
    kind: str
    start: int
    attrs: dict[str, str]


def _decode_entities(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        if match.group(3):
            return _NAMED_ENTITIES[match.group(3)]
        code = int(match.group(1)) if match.group(1) else int(match.group(2), 16)
        try:
            return chr(code)
        except (ValueError, OverflowError):
            return match.group(0)

    return _ENTITY_RE.sub(repl, text)


_MARKUP = re.compile(r"[<&]")
_SIMPLE_TAG = re.compile(r"<(/?)([a-zA-Z-]+)>")
_TAG_NAME_END = re.compile(r"[\s>]")


def _utf16_units(text: str) -> int:
    """`utf16_len` without encoding for the common case of text in the Basic Multilingual Plane."""
    if text.isascii():
        return len(text)
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[JSONDict]]:
    """Telegram's HTML parse mode: the plain text and its entities (UTF-16 offsets).

    Raises `EntityParseError` with Telegram's wording for markup it refuses. The same text is
    parsed once (`_parse_html`, memoised): bots send the same answers again and again, and the
    recorded messages must not share their entities, so each caller gets its own copies.
    """
    text, entities = _parse_html(source)
    return text, [_copy_entity(entity) for entity in entities]


def _copy_entity(entity: JSONDict) -> JSONDict:
    copied = dict(entity)
    if "user" in copied:
        copied["user"] = dict(copied["user"])
    return copied


@functools.lru_cache(maxsize=256)
def _parse_html(source: str) -> tuple[str, tuple[JSONDict, ...]]:
    out: list[str] = []
    pos = 0  # UTF-16 offset in the output
    entities: list[JSONDict] = []
    stack: list[_OpenTag] = []
    i, n = 0, len(source)

    def byte_offset(index: int) -> int:
        return len(source[:index].encode("utf-8"))

    while i < n:
        markup = _MARKUP.search(source, i)
        stop = markup.start() if markup else n
        if stop > i:  # plain text up to the next tag or entity, copied in one piece
            run = source[i:stop]
            out.append(run)
            pos += _utf16_units(run)
            i = stop
            continue
        if source[i] == "&":
            match = _ENTITY_RE.match(source, i)
            decoded = _decode_entities(match.group(0)) if match else "&"
            out.append(decoded)
            pos += utf16_len(decoded)
            i = match.end() if match else i + 1
            continue

        begin = i
        simple = _SIMPLE_TAG.match(source, i)  # most tags: "<b>", "</b>", no attributes
        if simple is not None and simple.group(2).lower() in _HTML_TAGS:
            name = simple.group(2).lower()
            if not simple.group(1):
                if name == "span":
                    raise EntityParseError('Tag "span" must have class "tg-spoiler"')
                stack.append(_OpenTag(name, _HTML_TAGS[name], pos, {}))
            elif not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            else:
                opened = stack.pop()
                if name != opened.tag:
                    raise EntityParseError(
                        f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                        f'expected "</{opened.tag}>", found "</{name}>"'
                    )
                _close_tag(opened, pos, stack, entities)
            i = simple.end()
            continue
        if source.startswith("</", i):
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_offset(begin)}")
            end = source.find(">", i + 2)
            if end < 0:
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_offset(begin)}")
            name = source[i + 2 : end].strip().lower()
            opened = stack.pop()
            if name and name != opened.tag:
                raise EntityParseError(
                    f"Unmatched end tag at byte offset {byte_offset(begin)}, "
                    f'expected "</{opened.tag}>", found "</{name}>"'
                )
            _close_tag(opened, pos, stack, entities)
            i = end + 1
            continue

        name_end = _TAG_NAME_END.search(source, i + 1)
        if name_end is None:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_offset(begin)}")
        j = name_end.start()
        name = source[i + 1 : j].lower()
        if name not in _HTML_TAGS:
            raise EntityParseError(
                f'Unsupported start tag "{name}" at byte offset {byte_offset(begin)}'
            )
        attrs, j = _parse_attributes(source, j, name, begin)
        if name == "span" and attrs.get("class") != "tg-spoiler":
            raise EntityParseError('Tag "span" must have class "tg-spoiler"')
        stack.append(_OpenTag(name, _HTML_TAGS[name], pos, attrs))
        i = j + 1

    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(out), tuple(entities)


def _parse_attributes(source: str, j: int, tag: str, start: int) -> tuple[dict[str, str], int]:
    """Attributes of the start tag at index ``start`` from index ``j``; returns them and the
    index of ``>``."""
    attrs: dict[str, str] = {}
    n = len(source)

    def offset() -> int:
        # Telegram's errors count bytes; counted only for an error (for every tag it made a
        # long message quadratic).
        return len(source[:start].encode("utf-8"))

    while True:
        while j < n and source[j].isspace():
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset()}")
        if source[j] == ">":
            return attrs, j
        k = j
        while k < n and not source[k].isspace() and source[k] not in "=>":
            k += 1
        attr = source[j:k].lower()
        if not attr:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {offset()}'
            )
        while k < n and source[k].isspace():
            k += 1
        if k >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset()}")
        if source[k] != "=":
            if attr == "expandable":
                attrs[attr] = ""
                j = k
                continue
            raise EntityParseError(
                f'Expected equal sign in declaration of an attribute of the tag "{tag}" '
                f"at byte offset {offset()}"
            )
        k += 1
        while k < n and source[k].isspace():
            k += 1
        if k >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {offset()}")
        if source[k] in "'\"":
            close = source.find(source[k], k + 1)
            if close < 0:
                raise EntityParseError(f"Unclosed start tag at byte offset {offset()}")
            value = _decode_entities(source[k + 1 : close])
            j = close + 1
        else:
            end = k
            while end < n and (source[end].isalnum() or source[end] in ".-_"):
                end += 1
            value = source[k:end]
            j = end
        attrs[attr] = value


def _close_tag(opened: _OpenTag, pos: int, stack: list[_OpenTag], entities: list[JSONDict]) -> None:
    length = pos - opened.start
    if length <= 0:
        return
    if opened.kind == "code" and stack and stack[-1].kind == "pre":
        language = opened.attrs.get("class", "")
        if language.startswith("language-") and stack[-1].start == opened.start:
            stack[-1].attrs["language"] = language.removeprefix("language-")
            return
    entity: JSONDict = {"type": opened.kind, "offset": opened.start, "length": length}
    if opened.kind == "text_link":
        url = opened.attrs.get("href", "")
        if not url:
            return
        if url.startswith("tg://user?id="):
            user_id = url.removeprefix("tg://user?id=")
            if not user_id.isdigit():
                return
            entity = {**entity, "type": "text_mention", "user": _user_stub(int(user_id))}
        else:
            entity["url"] = url
    elif opened.kind == "pre" and opened.attrs.get("language"):
        entity["language"] = opened.attrs["language"]
    elif opened.kind == "blockquote" and "expandable" in opened.attrs:
        entity["type"] = "expandable_blockquote"
    elif opened.kind == "custom_emoji":
        entity["custom_emoji_id"] = opened.attrs.get("emoji-id", "")
    entities.append(entity)


def _user_stub(user_id: int) -> JSONDict:
    return {"id": user_id, "is_bot": False, "first_name": f"User {user_id}"}


def _trim(text: str, entities: list[JSONDict]) -> tuple[str, list[JSONDict]]:
    """Telegram strips leading and trailing whitespace and moves the entities along."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[JSONDict] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


def _formatted(text: str, parse_mode: Any, entities: Any) -> tuple[str, list[JSONDict]]:
    """The text Telegram shows and its entities; raises `_ApiError` for bad markup."""
    found: list[JSONDict] = []
    if isinstance(parse_mode, str) and parse_mode.lower() == "html":
        try:
            text, found = parse_html(text)
        except EntityParseError as exc:
            raise _ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
    elif (
        isinstance(parse_mode, str)
        and parse_mode
        and parse_mode.lower()
        not in (
            "markdown",
            "markdownv2",
        )
    ):
        raise _ApiError(400, f"Bad Request: unsupported parse_mode {parse_mode}")
    elif isinstance(entities, list):
        found = [e for e in entities if isinstance(e, dict)]
    return _trim(text, found)


# ---------------------------------------------------------------------------------- the API


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


@dataclass
class _Fault:
    method: str
    response: Response
    times: int
    chat_id: int | str | None


@dataclass
class _Stored:
    message: JSONDict
    deleted: bool = False


class _Event:
    """One message the bot sent or edited, for waiting on it.

    The message is decoded from Telegram's answer when a waiter first reads it: most are never
    waited on, and decoding a long answer is a good share of a fake call."""

    __slots__ = ("_encoded", "_message", "call", "chat_id")

    def __init__(self, chat_id: int | str, call: Call, encoded: str) -> None:
        self.chat_id = chat_id
        self.call = call
        self._encoded = encoded
        self._message: JSONDict | None = None

    @property
    def message(self) -> JSONDict:
        if self._message is None:
            self._message = json.loads(self._encoded)
        return self._message


_CANONICAL = {
    name.lower(): name
    for name in (
        "getMe",
        "logOut",
        "close",
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendChatAction",
        "editMessageText",
        "editMessageCaption",
        "editMessageReplyMarkup",
        "deleteMessage",
        "answerCallbackQuery",
        "setMyCommands",
        "deleteMyCommands",
        "getMyCommands",
        "setChatMenuButton",
        "getChatMenuButton",
        "getUpdates",
        "setWebhook",
        "deleteWebhook",
        "getWebhookInfo",
    )
}


def canonical_method(method: str) -> str:
    """Telegram's spelling of a method name (names are case-insensitive)."""
    return _CANONICAL.get(method.lower(), method)


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    events: list[_Event] = field(default_factory=list)


class FakeBotApi:
    """The Bot API's state and answers, shared by `RecordingRequest` and the HTTP fake server.

    Thread-safe: every method takes the lock; `condition` is notified on every change (a call
    answered, an update queued or confirmed) for threads that wait, and `add_listener`
    callbacks are told too (the async waiters use them).

    ``strict=False`` (the default) accepts edits and deletions of messages it never saw (a test
    may build a callback for a message sent before the recording began), treating them as the
    bot's messages; ``strict=True`` answers them like Telegram: "message to edit not found".
    """

    def __init__(
        self,
        *,
        bot_id: int | None = None,
        username: str = DEFAULT_BOT_USERNAME,
        first_name: str = DEFAULT_BOT_FIRST_NAME,
        strict: bool = False,
        on_send: OnSend | None = None,
        responder: Responder | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._bot_id = bot_id
        self.username = username
        self.first_name = first_name
        self.strict = strict
        self.on_send: OnSend | None = on_send
        self.responder: Responder | None = responder
        self._clock = clock
        self._lock = threading.RLock()
        self.condition = threading.Condition(self._lock)
        self._listeners: list[Callable[[], None]] = []
        self._state = _State()
        self._faults: list[_Fault] = []
        self._down: Response | None = None
        self._blocked: set[int | str] = set()
        self._messages: dict[tuple[int | str, int], _Stored] = {}
        self._next_message_id: dict[int | str, int] = {}
        self._chats: dict[int | str, JSONDict] = {}
        self._commands: dict[tuple[str, str], list[JSONDict]] = {}
        self._menu_buttons: dict[int | str | None, JSONDict] = {}
        self._updates: list[JSONDict] = []
        self._update_ids = itertools.count(1)
        self._dropped: list[JSONDict] = []
        self._allowed_updates: frozenset[str] = DEFAULT_ALLOWED_UPDATES
        self._webhook_url = ""
        self._confirmed_offset = 0
        self._file_ids = itertools.count(1)

    # -- identity ---------------------------------------------------------------------------

    @property
    def bot_id(self) -> int:
        return self._bot_id if self._bot_id is not None else DEFAULT_BOT_ID

    def adopt_token(self, token: str | None) -> None:
        """Take the bot id from the token (``"<id>:<secret>"``) unless it was given."""
        if self._bot_id is None and token:
            head = token.split(":", 1)[0]
            if head.isdigit():
                with self._lock:
                    self._bot_id = int(head)

    def bot_user(self) -> JSONDict:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }

    # -- listeners --------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def notify(self) -> None:
        """Wake every waiter (for a frontend whose own state changed)."""
        with self._lock:
            self._changed()

    def _changed(self) -> None:
        """Wake every waiter; the caller holds the lock."""
        self.condition.notify_all()
        for listener in list(self._listeners):
            listener()

    # -- test-facing state ------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        """Every call in order of arrival, or only those of ``method``."""
        with self._lock:
            if method is None:
                return list(self._state.calls)
            wanted = canonical_method(method)
            return [c for c in self._state.calls if c.method == wanted]

    def sent_to(self, chat_id: int | str) -> list[Call]:
        """The successful sendMessage/sendPhoto/sendDocument calls to ``chat_id``, in order."""
        chat = _norm_chat_id(chat_id)
        with self._lock:
            return [
                c
                for c in self._state.calls
                if c.method in SEND_METHODS and c.ok and c.chat_id == chat
            ]

    def messages_to(self, chat_id: int | str, *, include_edits: bool = False) -> list[JSONDict]:
        """The messages (as Telegram returned them) sent to ``chat_id``; with ``include_edits``
        the edited versions too, in order."""
        chat = _norm_chat_id(chat_id)
        with self._lock:
            return [
                _copy(e.message)
                for e in self._state.events
                if e.chat_id == chat and (include_edits or e.call.method in SEND_METHODS)
            ]

    def last_text(self, chat_id: int | str) -> str | None:
        """The text (or caption) of the last message the bot sent *or edited* in ``chat_id``, as
        the user sees it (markup parsed); None if nothing was sent."""
        chat = _norm_chat_id(chat_id)
        with self._lock:
            for event in reversed(self._state.events):
                if event.chat_id == chat:
                    value = event.message.get("text", event.message.get("caption"))
                    return value if isinstance(value, str) else None
        return None

    def message(self, chat_id: int | str, message_id: int) -> JSONDict | None:
        """The current state of a message (after edits), or None if unknown or deleted."""
        key = (_norm_chat_id(chat_id) or 0, message_id)
        with self._lock:
            stored = self._messages.get(key)
            if stored is None or stored.deleted:
                return None
            return _copy(stored.message)

    def clear(self) -> None:
        """Forget the recorded calls (the messages stay, so they can still be edited)."""
        with self._lock:
            self._state = _State()
            self._changed()

    # -- faults -----------------------------------------------------------------------------

    def fail_next(
        self,
        method: str = "*",
        status: int | None = None,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
        network: Literal["reset", "timeout"] | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` (``"*"``: any; optionally only those to
        ``chat_id``) fail: with ``status``/``description`` (``retry_after`` alone means 429),
        or with no HTTP answer when ``network`` is given."""
        response: Response
        if network is not None:
            response = NetworkFault(network, description)
        else:
            if status is None:
                status = 429 if retry_after is not None else 400
            response = ApiReply.error(status, description, retry_after=retry_after)
        self.add_fault(method, response, times=times, chat_id=chat_id)

    def add_fault(
        self,
        method: str,
        response: Response,
        *,
        times: int = 1,
        chat_id: int | str | None = None,
    ) -> None:
        wanted = "*" if method == "*" else canonical_method(method)
        with self._lock:
            self._faults.append(_Fault(wanted, response, times, _norm_chat_id(chat_id)))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._down = None

    def set_down(self, down: bool = True, *, status: int | None = None) -> None:
        """While down every call fails: the connection breaks, or, with ``status`` 502,
        Telegram's front end answers its HTML error page (other statuses: a JSON error)."""
        with self._lock:
            if not down:
                self._down = None
            elif status is None:
                self._down = NetworkFault(
                    "reset", "httpx.ConnectError: [Errno 111] Connection refused"
                )
            elif status == 502:
                self._down = ApiReply.bad_gateway()
            else:
                self._down = ApiReply.error(status)

    @property
    def down(self) -> bool:
        return self._down is not None

    def block_user(self, chat_id: int | str, blocked: bool = True) -> None:
        """Sending to (or editing in) this chat answers 403 "bot was blocked by the user"."""
        chat = _norm_chat_id(chat_id)
        if chat is None:
            return
        with self._lock:
            if blocked:
                self._blocked.add(chat)
            else:
                self._blocked.discard(chat)

    # -- chats and messages -----------------------------------------------------------------

    def remember_chat(self, chat: Mapping[str, Any]) -> None:
        """Use this chat object (type, title, names) in messages sent to it."""
        chat_id = _norm_chat_id(chat.get("id"))
        if chat_id is not None:
            with self._lock:
                self._chats[chat_id] = _to_json(dict(chat))

    def remember_message(self, message: Mapping[str, Any]) -> None:
        """Store a message that arrived from a user (so a reply can quote it)."""
        chat = message.get("chat")
        if not isinstance(chat, Mapping):
            return
        chat_id = _norm_chat_id(chat.get("id"))
        message_id = message.get("message_id")
        if chat_id is None or not isinstance(message_id, int):
            return
        with self._lock:
            self.remember_chat(chat)
            self._messages[(chat_id, message_id)] = _Stored(_to_json(dict(message)))
            if self._next_message_id.get(chat_id, 1) <= message_id:
                self._next_message_id[chat_id] = message_id + 1

    def allocate_message_id(self, chat_id: int | str) -> int:
        """The next message id in this chat (shared by the user's and the bot's messages)."""
        chat = _norm_chat_id(chat_id) or 0
        with self._lock:
            message_id = self._next_message_id.get(chat, 1)
            self._next_message_id[chat] = message_id + 1
            return message_id

    def chat(self, chat_id: int | str) -> JSONDict:
        with self._lock:
            known = self._chats.get(chat_id)
            if known is not None:
                return _copy(known)
        if isinstance(chat_id, str):
            return {"id": chat_id, "type": "channel", "title": chat_id}
        if chat_id > 0:
            return {"id": chat_id, "type": "private", "first_name": f"User {chat_id}"}
        if str(chat_id).startswith("-100"):
            return {"id": chat_id, "type": "supergroup", "title": f"Group {chat_id}"}
        return {"id": chat_id, "type": "group", "title": f"Group {chat_id}"}

    # -- updates ----------------------------------------------------------------------------

    def push_update(self, update: Mapping[str, Any]) -> JSONDict:
        """Queue an update for getUpdates. Its ``update_id`` is assigned here, increasing, as
        Telegram does; updates of a type not in ``allowed_updates`` are dropped like Telegram
        drops them. Returns the queued update."""
        queued = _to_json(dict(update))
        with self._lock:
            queued["update_id"] = next(self._update_ids)
            kind = _update_type(queued)
            for key in ("message", "edited_message", "channel_post", "business_message"):
                if isinstance(queued.get(key), dict):
                    self.remember_message(queued[key])
            callback = queued.get("callback_query")
            if isinstance(callback, dict) and isinstance(callback.get("message"), dict):
                self.remember_chat(callback["message"].get("chat", {}))
            if kind not in self._allowed_updates:
                self._dropped.append(queued)
            else:
                self._updates.append(queued)
            self._changed()
        return _copy(queued)

    def pending_updates(self) -> list[JSONDict]:
        """Queued updates not yet confirmed by a getUpdates offset."""
        with self._lock:
            return _copy(self._updates)

    @property
    def dropped_updates(self) -> list[JSONDict]:
        with self._lock:
            return _copy(self._dropped)

    def confirm(self, params: Mapping[str, Any]) -> None:
        """Apply getUpdates' ``offset``: forget the updates it confirms."""
        offset = params.get("offset")
        if not isinstance(offset, int) or isinstance(offset, bool):
            return
        with self._lock:
            before = len(self._updates)
            if offset < 0:
                self._updates = self._updates[offset:]
            elif offset > 0:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                self._confirmed_offset = max(self._confirmed_offset, offset)
            if len(self._updates) != before:
                self._changed()

    def updates_ready(self, params: Mapping[str, Any]) -> bool:
        """Whether a getUpdates with these params would return at once (confirms first)."""
        self.confirm(params)
        with self._lock:
            return bool(self._updates) or bool(self._webhook_url)

    # -- answering --------------------------------------------------------------------------

    def intercept(self, method: str, params: JSONDict) -> Response | None:
        """The injected answer for this call, if any: the API being down, a fault from
        `fail_next`, or the ``responder`` hook. An intercepted call is recorded."""
        name = canonical_method(method)
        with self._lock:
            response = self._down
            if response is None:
                response = self._take_fault(name, params)
            responder = self.responder
        if response is None and responder is not None:
            try:
                response = responder(name, params)
            except TelegramError as exc:
                response = _reply_from_exception(exc)
        if response is not None:
            self.record(name, params, response)
        return response

    def _take_fault(self, name: str, params: JSONDict) -> Response | None:
        chat = _norm_chat_id(params.get("chat_id"))
        for fault in self._faults:
            if fault.method not in ("*", name):
                continue
            if fault.chat_id is not None and fault.chat_id != chat:
                continue
            fault.times -= 1
            if fault.times <= 0:
                self._faults.remove(fault)
            return fault.response
        return None

    def record(self, method: str, params: JSONDict, response: Response) -> Call:
        """Record a call and how it was answered."""
        result = copy.deepcopy(response.result) if isinstance(response, ApiReply) else None
        return self._record(canonical_method(method), params, response, result)

    def _record(self, name: str, params: JSONDict, response: Response, result: Any) -> Call:
        """Record a call; `result` is the caller's own copy of a success's result."""
        if isinstance(response, NetworkFault):
            call = Call(name, params, 0, None, response.to_exception().message)
        elif response.ok:
            call = Call(name, params, response.status, result)
        else:
            call = Call(name, params, response.status, None, response.description or "")
        with self._lock:
            self._state.calls.append(call)
            self._changed()
        return call

    def handle(
        self, method: str, params: JSONDict, *, check_faults: bool = True, owned: bool = False
    ) -> Response:
        """Answer one call (getUpdates returns at once: the frontends wait for updates first).

        The call is recorded; a message sent or edited is told to ``on_send``. ``owned``: the
        params are plain JSON made for this call alone (`decode_request_data`), kept as they
        are instead of copied.
        """
        if not owned:
            params = _to_json(params)
        if check_faults:
            injected = self.intercept(method, params)
            if injected is not None:
                return injected
        name = canonical_method(method)
        event: _Event | None = None
        with self._lock:
            try:
                handler = self._HANDLERS.get(name)
                if handler is None:
                    raise _ApiError(404, "Not Found")
                result = handler(self, params)
                refused: ApiReply | None = None
            except _ApiError as exc:
                refused = ApiReply.error(exc.status, exc.description)
                result = None
            # A handler may return what the fake keeps (the stored message): only copies leave,
            # decoded from one encoding that is also the answer's payload. The answer and the
            # record share one copy: the bot reads the payload's bytes, never the answer's body.
            encoded = json.dumps(result, ensure_ascii=False)
            copied = json.loads(encoded)
            response = refused or ApiReply(
                200,
                {"ok": True, "result": copied},
                encoded=f'{{"ok": true, "result": {encoded}}}'.encode(),
            )
            call = self._record(name, params, response, copied)
            sent = call.ok and (name in SEND_METHODS or name in EDIT_METHODS)
            if sent and isinstance(result, dict):
                chat_id = _norm_chat_id(result.get("chat", {}).get("id"))
                if chat_id is not None:
                    event = _Event(chat_id, call, encoded)
                    self._state.events.append(event)
                    self._changed()
            on_send = self.on_send
        if event is not None and on_send is not None:
            on_send(event.call, json.loads(encoded))
        return response

    # -- waiting ----------------------------------------------------------------------------

    async def wait_until(
        self,
        check: Callable[[], T | None],
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per wait is the point of the API
        what: str = "condition",
    ) -> T:
        """Await until ``check()`` (called under the lock) returns something other than None,
        without blocking the event loop; raises TimeoutError naming ``what``."""
        loop = asyncio.get_running_loop()
        changed = asyncio.Event()

        def poke() -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(changed.set)

        self.add_listener(poke)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed.clear()
                    with self._lock:
                        found = check()
                    if found is not None:
                        return found
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}") from None
        finally:
            self.remove_listener(poke)

    def wait_until_blocking(
        self, check: Callable[[], T | None], timeout: float = 10.0, what: str = "condition"
    ) -> T:
        """`wait_until` for threads (never call it on the event loop's thread)."""
        found: list[T] = []

        def ready() -> bool:
            value = check()
            if value is not None:
                found.append(value)
                return True
            return False

        with self.condition:
            if not self.condition.wait_for(ready, timeout):
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        return found[0]

    def event_matcher(
        self,
        chat_id: int | str,
        predicate: Callable[[JSONDict], bool] | str | None,
        start: int,
        include_edits: bool,
    ) -> Callable[[], tuple[int, JSONDict] | None]:
        """A check for `wait_until`: the first sent (or edited) message to ``chat_id`` at or
        after event index ``start`` that matches; a str predicate is a substring of the text."""
        chat = _norm_chat_id(chat_id)
        test = _as_predicate(predicate)

        def check() -> tuple[int, JSONDict] | None:
            events = self._state.events
            for index in range(start, len(events)):
                event = events[index]
                if event.chat_id != chat:
                    continue
                if not include_edits and event.call.method not in SEND_METHODS:
                    continue
                if test(event.message):
                    return index, _copy(event.message)
            return None

        return check

    def event_count(self) -> int:
        with self._lock:
            return len(self._state.events)

    def describe_chat(self, chat_id: int | str) -> str:
        """What the bot has said in a chat, for timeout messages."""
        texts = [
            m.get("text", m.get("caption")) for m in self.messages_to(chat_id, include_edits=True)
        ]
        return f"messages to {chat_id}: {texts!r}"

    # -- methods ----------------------------------------------------------------------------

    def _get_me(self, params: JSONDict) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    def _true(self, params: JSONDict) -> Any:
        return True

    def _chat_id(self, params: JSONDict) -> int | str:
        chat = _norm_chat_id(params.get("chat_id"))
        if chat is None or chat == "":
            raise _ApiError(400, "Bad Request: chat_id is empty")
        if isinstance(chat, str) and not chat.startswith("@"):
            raise _ApiError(400, "Bad Request: chat not found")
        if chat in self._blocked:
            raise _ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _check_markup(self, params: JSONDict) -> JSONDict | None:
        """The inline keyboard the message will carry (other keyboards are not echoed)."""
        markup = params.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise _ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        if "inline_keyboard" not in markup:
            return None
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise _ApiError(
                400,
                "Bad Request: can't parse inline keyboard button: "
                'field "inline_keyboard" must be an Array of Arrays',
            )
        for row in rows:
            for button in row:
                if not isinstance(button, dict) or not button.get("text"):
                    raise _ApiError(
                        400,
                        "Bad Request: can't parse inline keyboard button: "
                        "Text buttons are unallowed in the inline keyboard",
                    )
                data = button.get("callback_data")
                if (
                    data is not None
                    and not 1 <= len(str(data).encode("utf-8")) <= CALLBACK_DATA_LIMIT
                ):
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup if rows else None

    def _text(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        raw = params.get("text")
        if not isinstance(raw, str):
            raw = "" if raw is None else str(raw)
        text, entities = _formatted(raw, params.get("parse_mode"), params.get("entities"))
        if not text:
            raise _ApiError(400, "Bad Request: message text is empty")
        if len(text) > MESSAGE_LIMIT:
            raise _ApiError(400, "Bad Request: message is too long")
        return text, entities

    def _caption(self, params: JSONDict) -> tuple[str, list[JSONDict]]:
        raw = params.get("caption")
        if raw is None:
            return "", []
        text, entities = _formatted(
            str(raw), params.get("parse_mode"), params.get("caption_entities")
        )
        if len(text) > CAPTION_LIMIT:
            raise _ApiError(400, "Bad Request: message caption is too long")
        return text, entities

    def _new_message(self, chat_id: int | str, params: JSONDict, content: JSONDict) -> JSONDict:
        message: JSONDict = {
            "message_id": self.allocate_message_id(chat_id),
            "from": self.bot_user(),
            "chat": self.chat(chat_id),
            "date": int(self._clock()),
        }
        reply_to = _reply_to_id(params)
        if reply_to is not None:
            quoted = self._messages.get((chat_id, reply_to))
            if quoted is not None and not quoted.deleted:
                replied = _copy(quoted.message)
                replied.pop("reply_to_message", None)
                message["reply_to_message"] = replied
            elif self.strict and not _allows_missing_reply(params):
                raise _ApiError(400, "Bad Request: message to be replied not found")
        message.update({k: v for k, v in content.items() if v not in (None, [], "")})
        markup = self._check_markup(params)
        if markup is not None:
            message["reply_markup"] = markup
        self._messages[(chat_id, message["message_id"])] = _Stored(message)
        return message  # kept as it is: `handle` hands out copies

    def _send_message(self, params: JSONDict) -> Any:
        chat_id = self._chat_id(params)
        text, entities = self._text(params)
        return self._new_message(chat_id, params, {"text": text, "entities": entities})

    def _file(self, params: JSONDict, name: str) -> tuple[str, JSONDict]:
        value = params.get(name)
        if isinstance(value, dict) and value.get("upload"):
            number = next(self._file_ids)
            return f"fake-{name}-{number}", value
        if isinstance(value, str) and value:
            if value.startswith("attach://"):
                attached = params.get("_attachments", {}).get(value.removeprefix("attach://"))
                if isinstance(attached, dict):
                    return f"fake-{name}-{next(self._file_ids)}", attached
            return value, {}
        raise _ApiError(400, f"Bad Request: there is no {name} in the request")

    def _send_photo(self, params: JSONDict) -> Any:
        chat_id = self._chat_id(params)
        caption, entities = self._caption(params)
        self._check_markup(params)
        file_id, upload = self._file(params, "photo")
        sizes = [
            {
                "file_id": f"{file_id}-{side}",
                "file_unique_id": f"{file_id}-{side}-u",
                "width": side,
                "height": side,
                "file_size": upload.get("size"),
            }
            for side in (90, 320, 800)
        ]
        sizes = [{k: v for k, v in s.items() if v is not None} for s in sizes]
        return self._new_message(
            chat_id, params, {"photo": sizes, "caption": caption, "caption_entities": entities}
        )

    def _send_document(self, params: JSONDict) -> Any:
        chat_id = self._chat_id(params)
        caption, entities = self._caption(params)
        self._check_markup(params)
        file_id, upload = self._file(params, "document")
        document = {
            "file_id": file_id,
            "file_unique_id": f"{file_id}-u",
            "file_name": upload.get("filename"),
            "mime_type": upload.get("mime_type"),
            "file_size": upload.get("size"),
        }
        document = {k: v for k, v in document.items() if v is not None}
        return self._new_message(
            chat_id,
            params,
            {"document": document, "caption": caption, "caption_entities": entities},
        )

    def _editable(self, params: JSONDict) -> tuple[tuple[int | str, int] | None, _Stored | None]:
        """The stored message an edit targets; (None, None) for an inline message."""
        if params.get("inline_message_id"):
            return None, None
        chat_id = self._chat_id(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        key = (chat_id, message_id)
        stored = self._messages.get(key)
        if stored is None or stored.deleted:
            if self.strict or stored is not None:
                raise _ApiError(400, "Bad Request: message to edit not found")
            stored = _Stored(
                {
                    "message_id": message_id,
                    "from": self.bot_user(),
                    "chat": self.chat(chat_id),
                    "date": int(self._clock()),
                }
            )
            self._messages[key] = stored
            return key, stored
        if stored.message.get("from", {}).get("id") != self.bot_id:
            raise _ApiError(400, "Bad Request: message can't be edited")
        return key, stored

    def _apply_edit(self, stored: _Stored, changes: JSONDict, markup: JSONDict | None) -> JSONDict:
        old = stored.message
        new = _copy(old)
        for key, value in changes.items():
            if value in (None, []):
                new.pop(key, None)
            else:
                new[key] = value
        if markup is None:
            new.pop("reply_markup", None)
        else:
            new["reply_markup"] = markup
        new.pop("edit_date", None)
        if new == {k: v for k, v in old.items() if k != "edit_date"}:
            raise _ApiError(400, _NOT_MODIFIED)
        new["edit_date"] = int(self._clock())
        stored.message = new
        return new  # kept as it is: `handle` hands out copies

    def _edit_text(self, params: JSONDict) -> Any:
        text, entities = self._text(params)
        markup = self._check_markup(params)
        _key, stored = self._editable(params)
        if stored is None:
            return True
        if any(k in stored.message for k in ("photo", "document")):
            raise _ApiError(400, "Bad Request: there is no text in the message to edit")
        return self._apply_edit(stored, {"text": text, "entities": entities}, markup)

    def _edit_caption(self, params: JSONDict) -> Any:
        caption, entities = self._caption(params)
        markup = self._check_markup(params)
        _key, stored = self._editable(params)
        if stored is None:
            return True
        if "text" in stored.message:
            raise _ApiError(400, "Bad Request: there is no caption in the message to edit")
        return self._apply_edit(stored, {"caption": caption, "caption_entities": entities}, markup)

    def _edit_markup(self, params: JSONDict) -> Any:
        markup = self._check_markup(params)
        _key, stored = self._editable(params)
        if stored is None:
            return True
        return self._apply_edit(stored, {}, markup)

    def _delete_message(self, params: JSONDict) -> Any:
        chat_id = _norm_chat_id(params.get("chat_id"))
        message_id = params.get("message_id")
        if chat_id is None or not isinstance(message_id, int):
            raise _ApiError(400, "Bad Request: message identifier is not specified")
        stored = self._messages.get((chat_id, message_id))
        if stored is None:
            if self.strict:
                raise _ApiError(400, "Bad Request: message to delete not found")
            self._messages[(chat_id, message_id)] = _Stored({}, deleted=True)
            return True
        if stored.deleted:
            raise _ApiError(400, "Bad Request: message to delete not found")
        stored.deleted = True
        return True

    def _answer_callback(self, params: JSONDict) -> Any:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query_id is empty")
        text = params.get("text")
        if isinstance(text, str) and len(text) > 200:
            raise _ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
        return True

    @staticmethod
    def _commands_key(params: JSONDict) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        language = params.get("language_code") or ""
        return json.dumps(scope, sort_keys=True), str(language)

    def _set_commands(self, params: JSONDict) -> Any:
        commands = params.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise _ApiError(400, "Bad Request: can't parse commands JSON object")
        for command in commands:
            if not isinstance(command, dict) or not re.fullmatch(
                r"[a-z0-9_]{1,32}", str(command.get("command", ""))
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
            if not 1 <= len(str(command.get("description", "")).strip()) <= 256:
                raise _ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self._commands[self._commands_key(params)] = [
            {"command": c["command"], "description": c["description"]} for c in commands
        ]
        return True

    def _delete_commands(self, params: JSONDict) -> Any:
        self._commands.pop(self._commands_key(params), None)
        return True

    def _get_commands(self, params: JSONDict) -> Any:
        return _copy(self._commands.get(self._commands_key(params), []))

    def _set_menu_button(self, params: JSONDict) -> Any:
        button = params.get("menu_button") or {"type": "default"}
        self._menu_buttons[_norm_chat_id(params.get("chat_id"))] = button
        return True

    def _get_menu_button(self, params: JSONDict) -> Any:
        chat = _norm_chat_id(params.get("chat_id"))
        return _copy(
            self._menu_buttons.get(chat, self._menu_buttons.get(None, {"type": "commands"}))
        )

    def _get_updates(self, params: JSONDict) -> Any:
        if self._webhook_url:
            raise _ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; use "
                "deleteWebhook to delete the webhook first",
            )
        allowed = params.get("allowed_updates")
        if isinstance(allowed, list):
            self._allowed_updates = (
                frozenset(str(a) for a in allowed) if allowed else DEFAULT_ALLOWED_UPDATES
            )
        self.confirm(params)
        limit = params.get("limit")
        limit = limit if isinstance(limit, int) and 1 <= limit <= 100 else 100
        return _copy(self._updates[:limit])

    def _set_webhook(self, params: JSONDict) -> Any:
        self._webhook_url = str(params.get("url") or "")
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _delete_webhook(self, params: JSONDict) -> Any:
        self._webhook_url = ""
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return True

    def _webhook_info(self, params: JSONDict) -> Any:
        return {
            "url": self._webhook_url,
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    def _chat_action(self, params: JSONDict) -> Any:
        self._chat_id(params)
        return True

    _HANDLERS: ClassVar[dict[str, Callable[[FakeBotApi, JSONDict], Any]]] = {
        "getMe": _get_me,
        "logOut": _true,
        "close": _true,
        "sendMessage": _send_message,
        "sendPhoto": _send_photo,
        "sendDocument": _send_document,
        "sendChatAction": _chat_action,
        "editMessageText": _edit_text,
        "editMessageCaption": _edit_caption,
        "editMessageReplyMarkup": _edit_markup,
        "deleteMessage": _delete_message,
        "answerCallbackQuery": _answer_callback,
        "setMyCommands": _set_commands,
        "deleteMyCommands": _delete_commands,
        "getMyCommands": _get_commands,
        "setChatMenuButton": _set_menu_button,
        "getChatMenuButton": _get_menu_button,
        "getUpdates": _get_updates,
        "setWebhook": _set_webhook,
        "deleteWebhook": _delete_webhook,
        "getWebhookInfo": _webhook_info,
    }


def _update_type(update: Mapping[str, Any]) -> str:
    for key in update:
        if key != "update_id":
            return key
    return ""


def _reply_to_id(params: JSONDict) -> int | None:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and isinstance(reply.get("message_id"), int):
        return int(reply["message_id"])
    value = params.get("reply_to_message_id")
    return value if isinstance(value, int) else None


def _allows_missing_reply(params: JSONDict) -> bool:
    reply = params.get("reply_parameters")
    if isinstance(reply, dict) and reply.get("allow_sending_without_reply"):
        return True
    return bool(params.get("allow_sending_without_reply"))


def _as_predicate(predicate: Callable[[JSONDict], bool] | str | None) -> Callable[[JSONDict], bool]:
    if predicate is None:
        return lambda message: True
    if isinstance(predicate, str):
        needle = predicate
        return lambda message: needle in str(message.get("text", message.get("caption", "")))
    return predicate


# ------------------------------------------------------------------------- RecordingRequest


def split_bot_url(url: str) -> tuple[str | None, str]:
    """The token and the method of a Bot API URL ``.../bot<token>/<method>``."""
    path = urlsplit(url).path
    head, _, method = path.rpartition("/")
    segment = head.rpartition("/")[2]
    token = segment.removeprefix("bot") if segment.startswith("bot") else None
    return token, method


class FakeApiFront:
    """What a test or the terminal chat asks of a `FakeBotApi`, whatever carries the bot's
    requests to it: `RecordingRequest` in the process, `tests.fakes.bot_api_server` over HTTP.
    One set of conveniences, so the two fakes cannot drift apart."""

    __slots__ = ()

    _api: FakeBotApi

    @property
    def api(self) -> FakeBotApi:
        return self._api

    def calls(self, method: str | None = None) -> list[Call]:
        return self._api.calls(method)

    def sent_to(self, chat_id: int | str) -> list[Call]:
        return self._api.sent_to(chat_id)

    def last_text(self, chat_id: int | str) -> str | None:
        return self._api.last_text(chat_id)

    def messages_to(self, chat_id: int | str, *, include_edits: bool = False) -> list[JSONDict]:
        return self._api.messages_to(chat_id, include_edits=include_edits)

    def message(self, chat_id: int | str, message_id: int) -> JSONDict | None:
        return self._api.message(chat_id, message_id)

    def clear(self) -> None:
        self._api.clear()

    def fail_next(
        self,
        method: str = "*",
        status: int | None = None,
        description: str | None = None,
        *,
        retry_after: int | None = None,
        times: int = 1,
        chat_id: int | str | None = None,
        network: Literal["reset", "timeout"] | None = None,
    ) -> None:
        """The next ``times`` calls of ``method`` fail (see `FakeBotApi.fail_next`)."""
        self._api.fail_next(
            method,
            status,
            description,
            retry_after=retry_after,
            times=times,
            chat_id=chat_id,
            network=network,
        )

    def clear_faults(self) -> None:
        self._api.clear_faults()

    def push_update(self, update: Mapping[str, Any]) -> JSONDict:
        return self._api.push_update(update)

    def pending_updates(self) -> list[JSONDict]:
        return self._api.pending_updates()

    def block_user(self, chat_id: int | str, blocked: bool = True) -> None:
        """Sending to this chat answers 403 "bot was blocked by the user"."""
        self._api.block_user(chat_id, blocked)


class RecordingRequest(FakeApiFront, BaseRequest):
    """A `BaseRequest` that answers every Bot API call offline with a `FakeBotApi`.

    Use it for both of PTB's request slots::

        rr = RecordingRequest()
        app = Application.builder().token("123456:TEST").request(rr)
              .get_updates_request(rr.updates_request()).build()

    (the same instance twice works as well). getUpdates waits up to its ``timeout`` for
    updates queued with `push_update`, so an Updater can poll it without spinning.
    """

    __slots__ = ("_api", "_initialized")

    def __init__(
        self,
        api: FakeBotApi | None = None,
        *,
        bot_id: int | None = None,
        username: str = DEFAULT_BOT_USERNAME,
        first_name: str = DEFAULT_BOT_FIRST_NAME,
        strict: bool = False,
        on_send: OnSend | None = None,
        responder: Responder | None = None,
    ) -> None:
        if api is None:
            api = FakeBotApi(
                bot_id=bot_id,
                username=username,
                first_name=first_name,
                strict=strict,
                on_send=on_send,
                responder=responder,
            )
        else:
            if on_send is not None:
                api.on_send = on_send
            if responder is not None:
                api.responder = responder
        self._api = api
        self._initialized = False

    def updates_request(self) -> RecordingRequest:
        """Another request object over the same API, for ``get_updates_request``."""
        return RecordingRequest(self._api)

    @property
    def read_timeout(self) -> float | None:
        return 5.0

    @property
    def initialized(self) -> bool:
        return self._initialized

    async def initialize(self) -> None:
        self._initialized = True

    async def shutdown(self) -> None:
        self._initialized = False

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        token, api_method = split_bot_url(url)
        if token is None:  # a file download (Bot.get_file(...).download_*)
            return 404, ApiReply.error(404, "Not Found").payload()
        self._api.adopt_token(token)
        params = decode_request_data(request_data)
        response: Response
        if canonical_method(api_method) == "getUpdates":
            response = await self._get_updates(params)
        else:
            response = self._api.handle(api_method, params, owned=True)
        if isinstance(response, NetworkFault):
            raise response.to_exception()
        return response.status, response.payload()

    async def _get_updates(self, params: JSONDict) -> Response:
        injected = self._api.intercept("getUpdates", params)
        if injected is not None:
            return injected
        timeout = params.get("timeout")
        if isinstance(timeout, int | float) and timeout > 0 and not self._api.updates_ready(params):
            with contextlib.suppress(TimeoutError):
                await self._api.wait_until(
                    lambda: True if self._api.updates_ready(params) else None, float(timeout)
                )
        return self._api.handle("getUpdates", params, check_faults=False)

    # -- hooks, delegated to the API (the rest comes from FakeApiFront) ----------------------

    @property
    def on_send(self) -> OnSend | None:
        return self._api.on_send

    @on_send.setter
    def on_send(self, hook: OnSend | None) -> None:
        self._api.on_send = hook

    @property
    def responder(self) -> Responder | None:
        return self._api.responder

    @responder.setter
    def responder(self, hook: Responder | None) -> None:
        self._api.responder = hook


def texts(calls: Iterable[Call]) -> list[str | None]:
    """The text (or caption) of each call, for compact assertions."""
    return [c.text for c in calls]
