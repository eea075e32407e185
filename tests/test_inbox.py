"""The inbox through the real application: what a crash left is handled at the next start, in
order and once, without counting as a flood; an update Telegram sends again is dropped."""

from __future__ import annotations

import asyncio
from pathlib import Path

from telegram import Update

from bot.app import build_application, running
from bot.config import Settings
from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.devchat.transport import RecordingRequest
from bot.inbox import InboxQueue
from bot.storage import Database, Role
from tests.conftest import OFFICE_HOURS
from tests.fakes import telegram_objects as tg

ANNA = 7_870_001
LEFT = 25  # more than the flood burst (20): a backlog, not a flood
DIGEST = "Din rutin vid hot och hat"  # the quarterly digest, due at the start: not an answer


async def test_updates_left_by_a_crash_are_handled_at_start_once_and_not_as_a_flood(
    tmp_path: Path, routines_dir: Path
) -> None:
    data = prepare_data_dir(tmp_path / "data")
    sealer = Sealer(data.secret_key)
    async with await Database.open(data.db_path, sealer) as db:
        await db.join(ANNA, "solvik", Role.MEMBER, None, OFFICE_HOURS)
        for n in range(LEFT):
            update = tg.message_update(ANNA, f"vem ringer jag {n}", update_id=1000 + n)
            await db.inbox_store(1000 + n, sealer.seal_json(update), OFFICE_HOURS)
    settings = Settings(data_dir=tmp_path / "data", routines_dir=routines_dir, reload_interval=3600)
    transport = RecordingRequest()
    app = build_application(settings, request=transport, clock=lambda: OFFICE_HOURS)
    async with running(app):
        await asyncio.wait_for(app.update_queue.join(), 30)
        answers = [c.text or "" for c in transport.sent_to(ANNA) if DIGEST not in (c.text or "")]
        assert len(answers) == LEFT, answers  # each answered, none dropped as a flood
        assert not any("fler meddelanden än jag hinner med" in a for a in answers)
        services = app.bot_data.services
        assert services is not None
        assert await services.db.inbox_pending() == []
        # Telegram sends one of them again (its confirmation was lost): dropped, not redone.
        inbox = app.update_queue
        assert isinstance(inbox, InboxQueue)
        again = Update.de_json(tg.message_update(ANNA, "vem ringer jag 3", update_id=1003), app.bot)
        await inbox.put(again)
        await asyncio.wait_for(app.update_queue.join(), 30)
        assert len([c for c in transport.sent_to(ANNA) if DIGEST not in (c.text or "")]) == LEFT
