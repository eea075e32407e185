"""Shared fixtures: the real application on the recording transport, with a settable clock."""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.app import build_application, running
from bot.config import Settings
from bot.context import Services, TryggApp
from bot.devchat.transport import Call, RecordingRequest
from bot.storage import Role
from tests.fakes import telegram_objects as tg

REPO = Path(__file__).resolve().parent.parent
ROUTINES = REPO / "routines"

# Tuesday 24 November 2026, 10:00 in Stockholm (UTC+1): offices are open.
OFFICE_HOURS = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# The same Tuesday at 23:00 in Stockholm: offices are closed.
NIGHT = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)


def pytest_configure(config: pytest.Config) -> None:
    """As `trygg` does at start: PTB's durations as timedeltas, so building a RetryAfter does not
    warn (and warnings are errors here)."""
    os.environ.setdefault("PTB_TIMEDELTA", "1")


class Clock:
    """A clock the test sets; the bot reads it through its services."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


@dataclass
class Harness:
    """The real application and dispatch path, on a transport that records what users see."""

    app: TryggApp
    transport: RecordingRequest
    clock: Clock
    routines: Path

    @property
    def services(self) -> Services:
        services = self.app.bot_data.services
        assert services is not None
        return services

    async def _process(self, update: dict[str, Any]) -> list[Call]:
        """The calls the update caused, those of the outbox rounds it kicked included (the
        handler does not wait for them, bot/outbox/sender.py)."""
        before = len(self.transport.calls())
        await self.app.process_update(tg.to_update(update, self.app.bot))
        services = self.app.bot_data.services
        if services is not None:
            await services.outbox.settled()
        return self.transport.calls()[before:]

    async def send(self, user_id: int, text: str, **kwargs: Any) -> list[Call]:
        """A user writes `text` in a private chat; returns the Bot API calls it caused."""
        return await self._process(tg.message_update(user_id, text, **kwargs))

    async def update(self, update: dict[str, Any]) -> list[Call]:
        return await self._process(update)

    async def press(self, user_id: int, data: str, **kwargs: Any) -> list[Call]:
        """A user presses a button carrying `data` on the last message they got."""
        sent = [c for c in self.transport.sent_to(user_id) if c.result]
        message_id = sent[-1].result["message_id"] if sent else 1
        return await self._process(tg.callback_update(user_id, data, message_id, **kwargs))

    async def invite(
        self,
        org: str,
        role: str = "member",
        contact: str | None = None,
        uses: int | None = None,
        expires: timedelta | None = timedelta(days=30),
    ) -> str:
        return await self.services.invites.create(org, Role(role), contact, uses, expires)

    async def join(
        self,
        user_id: int,
        org: str,
        role: str = "member",
        contact: str | None = None,
        **kwargs: Any,
    ) -> list[Call]:
        code = await self.invite(org, role, contact)
        return await self.send(user_id, f"/start {code}", **kwargs)


def texts(calls: list[Call]) -> list[str]:
    """The texts of messages sent or edited, as the user reads them (HTML parsed away)."""
    shown = ("sendMessage", "editMessageText")
    return [c.result["text"] for c in calls if c.method in shown and isinstance(c.result, dict)]


def html(calls: list[Call]) -> str:
    """The raw HTML of the messages sent, for links and markup."""
    shown = ("sendMessage", "editMessageText")
    return "\n".join(str(c.params.get("text", "")) for c in calls if c.method in shown)


def buttons(calls: list[Call]) -> list[tuple[str, str]]:
    """(label, callback data) of the inline buttons of the last message with buttons."""
    for call in reversed(calls):
        if not isinstance(call.result, dict):  # answerCallbackQuery's True, for one
            continue
        markup = call.result.get("reply_markup") or {}
        rows = markup.get("inline_keyboard")
        if rows:
            return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]
    return []


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`trygg` commands configure logging globally; put it back so caplog tests see INFO."""
    names = [
        "",
        "bot",
        "httpx",
        "httpcore",
        "aiohttp",
        "aiosqlite",
        "apscheduler",
        "telegram",
        "telegram.request",
    ]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


@pytest.fixture
def routines_dir(tmp_path: Path) -> Path:
    """A copy of the example routines, so a test may change or break a file."""
    target = tmp_path / "routines"
    shutil.copytree(ROUTINES, target)
    return target


@pytest.fixture
async def harness(tmp_path: Path, routines_dir: Path) -> AsyncIterator[Harness]:
    clock = Clock(OFFICE_HOURS)
    settings = Settings(data_dir=tmp_path / "data", routines_dir=routines_dir, reload_interval=3600)
    transport = RecordingRequest()
    app = build_application(
        settings, request=transport, updates_request=transport.updates_request(), clock=clock
    )
    async with running(app):
        yield Harness(app, transport, clock, routines_dir)
