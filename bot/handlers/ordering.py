"""Updates of one user in order, different users side by side.

python-telegram-bot either handles every update one after the other (`concurrent_updates(False)`)
or all of them at once. One after the other is safe but makes everyone wait for the slowest
update in the queue: a report being sent waits for its outbox round, which keeps Telegram's pace
of one message a second per chat, and every other person's question waits behind it (measured
by `bench/bench_load_e2e.py`: p99 100–390 ms at 36 updates a second, against 43–48 ms with this
processor). All at once would let two taps of one person race through the report form.

`PerUserOrder` takes the middle: an update waits only for the earlier updates of the same user
(or, without a user, of the same chat). Tasks are started in the order the updates arrive and
the locks are fair (first come, first served), so each user's updates are handled in the order
Telegram sent them. The database serialises its own work (one connection, one lock per unit of
work), so handlers of different users only overlap while they wait for Telegram or the outbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

MAX_CONCURRENT = 64
"""Updates under way at once, at most (the rest wait their turn in arrival order)."""


@dataclass
class _Turn:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    waiting: int = 0


def ordering_key(update: object) -> int | None:
    """Whose updates must keep their order: the user's, else the chat's, else nobody's."""
    if not isinstance(update, Update):
        return None
    if update.effective_user is not None:
        return update.effective_user.id
    if update.effective_chat is not None:
        return update.effective_chat.id
    return None


class PerUserOrder(BaseUpdateProcessor):
    """An update processor that keeps each user's updates in order and runs users side by side."""

    def __init__(self, max_concurrent_updates: int = MAX_CONCURRENT) -> None:
        super().__init__(max_concurrent_updates)
        self._turns: dict[int, _Turn] = {}

    def __repr__(self) -> str:
        return f"PerUserOrder(max={self.max_concurrent_updates}, users={len(self._turns)})"

    @property
    def users_waiting(self) -> int:
        """Users with an update under way or waiting (their locks are forgotten when done)."""
        return len(self._turns)

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle `update` once the earlier updates of its user are done."""
        key = ordering_key(update)
        if key is None:
            await coroutine
            return
        turn = self._turns.setdefault(key, _Turn())
        turn.waiting += 1
        try:
            async with turn.lock:
                await coroutine
        finally:
            turn.waiting -= 1
            if turn.waiting == 0:
                del self._turns[key]

    async def initialize(self) -> None:
        """Nothing to open."""

    async def shutdown(self) -> None:
        """Nothing to close."""
