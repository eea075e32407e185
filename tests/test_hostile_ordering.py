"""One slow update does not hold up everyone: users side by side, each user's updates in order.

`PerUserOrder` is the bot's update processor. A user whose update waits (an outbox round keeping
Telegram's pace, a slow Telegram) delays only their own next update; another user's question
is answered meanwhile; and two taps of one user are still handled in the order they came.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telegram import Bot, Update

from bot.app import OFFLINE_TOKEN
from bot.handlers.ordering import PerUserOrder, ordering_key
from tests.conftest import Harness
from tests.fakes import telegram_objects as tg

BOT = Bot(OFFLINE_TOKEN)
ANNA, BERIT = 7_900_001, 7_900_002


def message(user: int, text: str = "hej") -> Update:
    return tg.to_update(tg.message_update(user, text), BOT)


class Journal:
    """What ran when: ("start", name) and ("end", name), in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    async def work(self, name: str, release: asyncio.Event | None = None) -> None:
        self.events.append(("start", name))
        if release is not None:
            await release.wait()
        else:
            await asyncio.sleep(0)
        self.events.append(("end", name))


async def _submit(processor: PerUserOrder, update: Update, coroutine: Any) -> asyncio.Task[None]:
    task = asyncio.create_task(processor.process_update(update, coroutine))
    await asyncio.sleep(0)  # started in arrival order, as the application starts them
    return task


async def test_another_user_is_not_held_up_by_a_slow_update() -> None:
    processor = PerUserOrder()
    journal = Journal()
    slow = asyncio.Event()
    first = await _submit(processor, message(ANNA), journal.work("anna-1", slow))
    other = await _submit(processor, message(BERIT), journal.work("berit-1"))
    await asyncio.wait_for(other, 1)
    assert ("end", "berit-1") in journal.events
    assert ("end", "anna-1") not in journal.events
    slow.set()
    await asyncio.wait_for(first, 1)


async def test_one_users_updates_keep_their_order() -> None:
    processor = PerUserOrder()
    journal = Journal()
    slow = asyncio.Event()
    tasks = [await _submit(processor, message(ANNA), journal.work("anna-1", slow))]
    for n in range(2, 6):
        tasks.append(await _submit(processor, message(ANNA), journal.work(f"anna-{n}")))
    assert journal.events == [("start", "anna-1")]  # the others wait for the first
    slow.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 1)
    ends = [name for kind, name in journal.events if kind == "end"]
    assert ends == [f"anna-{n}" for n in range(1, 6)]
    assert processor.users_waiting == 0  # nothing kept once done


async def test_updates_without_a_user_or_chat_are_not_ordered() -> None:
    processor = PerUserOrder()
    journal = Journal()
    assert ordering_key(object()) is None
    await asyncio.wait_for(processor.process_update(object(), journal.work("job")), 1)
    assert journal.events == [("start", "job"), ("end", "job")]


async def test_a_failing_update_does_not_block_the_users_next_one() -> None:
    processor = PerUserOrder()

    async def fail() -> None:
        raise RuntimeError("boom")

    journal = Journal()
    failing = await _submit(processor, message(ANNA), fail())
    after = await _submit(processor, message(ANNA), journal.work("anna-2"))
    await asyncio.wait_for(asyncio.gather(failing, after, return_exceptions=True), 1)
    assert ("end", "anna-2") in journal.events
    assert processor.users_waiting == 0


async def test_the_bot_uses_it(harness: Harness) -> None:
    assert isinstance(harness.app.update_processor, PerUserOrder)
    assert harness.app.update_processor.max_concurrent_updates > 1
