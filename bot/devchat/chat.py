"""`trygg chat`: the real handlers in a terminal, offline, buttons as numbered choices.

The bot runs exactly as in production, but its Bot API calls go to the recording transport and
its messages are printed; what the user types becomes a Telegram update.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from itertools import count
from pathlib import Path
from typing import Any, TextIO

from telegram import Update
from telegram.request import BaseRequest, RequestData

from bot.app import build_application, running, utc_now
from bot.config import Settings
from bot.context import Clock, TryggApp
from bot.devchat.transport import Call, RecordingRequest
from bot.storage import Role

CHAT_USER_ID = 424242
_PICTURE_METHODS = {"sendphoto": "png", "senddocument": "bin"}


class PictureSavingRequest(RecordingRequest):
    """The recording transport, keeping each picture the bot sends as a file to look at."""

    def __init__(self) -> None:
        super().__init__()
        self.folder: Path | None = None
        self.saved: list[Path] = []

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
        suffix = _PICTURE_METHODS.get(url.rpartition("/")[2].lower())
        if suffix is not None and request_data is not None:
            for part in request_data.multipart_data.values():
                filename, content = part[0], part[1]
                data = content if isinstance(content, bytes | bytearray) else content.read()
                if self.folder is None:  # kept after the chat: the person wants to look
                    self.folder = Path(tempfile.mkdtemp(prefix="trygg-chat-pictures-"))
                name = Path(filename or f"picture.{suffix}").name
                target = self.folder / f"{len(self.saved) + 1}-{name}"
                target.write_bytes(bytes(data))
                self.saved.append(target)
        return await super().do_request(
            url, method, request_data, read_timeout, write_timeout, connect_timeout, pool_timeout
        )


class TerminalChat:
    """Prints what the bot sends and turns typed lines into updates."""

    def __init__(
        self, app: TryggApp, out: TextIO, lang: str, pictures: list[Path] | None = None
    ) -> None:
        self.app = app
        self.pictures = pictures if pictures is not None else []
        self.out = out
        self.lang = lang
        self.buttons: list[tuple[str, str, dict[str, Any]]] = []
        self._update_ids = count(1)
        self._message_ids = count(1)

    def on_send(self, call: Call, message: dict[str, Any]) -> None:
        """Print a message (or photo caption) the bot sent, with its buttons numbered."""
        text = message.get("text") or message.get("caption") or ""
        if call.method in ("sendPhoto", "sendDocument"):
            where = f" saved as {self.pictures[-1]}" if self.pictures else ""
            kind = "picture" if call.method == "sendPhoto" else "file"
            text = f"[{kind}{where}] " + text
        # The transport returns what Telegram would: HTML parsed away, so the text prints as is.
        entities = message.get("entities") or message.get("caption_entities") or []
        print("\n" + show_folds(text, entities), file=self.out)
        markup = message.get("reply_markup") or {}
        rows = markup.get("inline_keyboard") or []
        if rows:
            self.buttons = []
            for row in rows:
                for button in row:
                    self.buttons.append((button["text"], button.get("callback_data", ""), message))
            for number, (label, _, _) in enumerate(self.buttons, start=1):
                print(f"  [{number}] {label}", file=self.out)
        self.out.flush()

    def _user(self) -> dict[str, Any]:
        return {
            "id": CHAT_USER_ID,
            "is_bot": False,
            "first_name": "Terminal",
            "language_code": self.lang,
        }

    def _chat(self) -> dict[str, Any]:
        return {"id": CHAT_USER_ID, "type": "private", "first_name": "Terminal"}

    def message_update(self, text: str) -> Update:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": 0,
            "chat": self._chat(),
            "from": self._user(),
            "text": text,
        }
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return Update.de_json(
            {"update_id": next(self._update_ids), "message": message}, self.app.bot
        )

    def button_update(self, number: int) -> Update | None:
        if not 1 <= number <= len(self.buttons):
            return None
        _, data, message = self.buttons[number - 1]
        query = {
            "id": str(next(self._update_ids)),
            "from": self._user(),
            "chat_instance": "terminal",
            "data": data,
            "message": message,
        }
        return Update.de_json(
            {"update_id": next(self._update_ids), "callback_query": query}, self.app.bot
        )

    async def feed(self, line: str) -> None:
        """One typed line: a number presses a button, anything else is a message."""
        line = line.strip()
        if not line:
            return
        update = self.button_update(int(line)) if line.isdigit() and self.buttons else None
        if update is None:
            update = self.message_update(line)
        await self.app.process_update(update)


def show_folds(text: str, entities: list[dict[str, Any]]) -> str:
    """Mark what Telegram folds (an expandable blockquote) with a bar, as a phone shows it."""
    units = text.encode("utf-16-le")
    for entity in sorted(entities, key=lambda e: -int(e["offset"])):
        if entity.get("type") != "expandable_blockquote":
            continue
        start, end = int(entity["offset"]) * 2, (int(entity["offset"]) + int(entity["length"])) * 2
        folded = units[start:end].decode("utf-16-le")
        shown = "\n".join("  │ " + line for line in folded.split("\n"))
        marked = f"  ┌ (folded in Telegram until tapped)\n{shown}"
        units = units[:start] + marked.encode("utf-16-le") + units[end:]
    return units.decode("utf-16-le")


async def run_chat(
    settings: Settings,
    *,
    org: str | None,
    lang: str,
    role: str,
    read_line: Callable[[], str | None] | None = None,
    out: TextIO = sys.stdout,
    data_dir: Path | None = None,
    invite: str | None = None,
    clock: Clock = utc_now,
) -> int:
    """Chat until end of input, on the real routines.

    Without `data_dir`, a fresh temporary database each time; with it, that directory's
    database (and its key), so an invite made with `trygg invite` can be tried: `invite` is
    then sent as `/start CODE` instead of joining `org` directly.
    """
    with tempfile.TemporaryDirectory(prefix="trygg-chat-") as tmp:
        settings = replace(settings, data_dir=data_dir or Path(tmp) / "data", token=None)
        request = PictureSavingRequest()
        app = build_application(
            settings, request=request, updates_request=RecordingRequest(), clock=clock
        )
        chat = TerminalChat(app, out, lang, request.saved)
        request.api.on_send = chat.on_send
        async with running(app):
            services = app.bot_data.services
            assert services is not None
            if invite is not None:
                await chat.feed(f"/start {invite}")
            elif org is not None:
                routine = services.registry.get(org)
                if routine is None:
                    known = ", ".join(r.id for r in services.registry.organisations()) or "none"
                    print(f"trygg: no organisation {org!r} (known: {known})", file=sys.stderr)
                    return 2
                contact = None
                if role == "coordinator":
                    receiving = routine.receiving_contacts()
                    contact = receiving[0].id if receiving else routine.organisation.owner
                code = await services.invites.create(
                    org, Role(role), contact, 1, timedelta(hours=1)
                )
                await chat.feed(f"/start {code}")
            else:
                await chat.feed("/start")
            print("\n(type a message, a button's number, or a /command; Ctrl-D ends)", file=out)
            reader = read_line or _stdin_line
            while True:
                line = await asyncio.to_thread(reader)
                if line is None or line.strip() in {"/quit", "/exit"}:
                    break
                await chat.feed(line)
    return 0


def _stdin_line() -> str | None:
    try:
        return input("> ")
    except EOFError:
        return None
