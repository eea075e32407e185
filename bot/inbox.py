"""The inbox: every update is stored before Telegram hears it arrived, and deleted once handled.

python-telegram-bot's `Updater` confirms fetched updates with the offset of its next
`getUpdates`, which it sends as soon as it has put the batch on `Application.update_queue`,
long before the updates are handled. A `kill -9` in between lost them. The webhook server
answers Telegram 200 once the update is on the same queue, with the same effect.

So the queue itself is the inbox's door: `InboxQueue.put` (which both the `Updater`, before
its next `getUpdates`, and the webhook handler, before its 200, await) writes the update,
sealed with `bot.crypto.Sealer` because it holds free text, to the `inbox` table and commits,
and only then lets it through. Telegram is therefore told an update arrived only after it is
on disk, in polling and in webhook mode alike, without a polling loop of our own.

- **Idempotent by update_id.** `Database.inbox_store` keeps the highest id ever stored; an
  update Telegram sends again (its confirmation was lost in a crash) is dropped, whether it is
  still waiting in the inbox or was handled and deleted.
- **In each user's order.** `InboxOrder` is `PerUserOrder` (bot/handlers/ordering.py) that
  deletes the row once the update was handled; rows left by a crash are put on the queue in
  update order by `replay`, before polling or the webhook starts.
- **Gone once handled.** The row is deleted right after its handling (error handler included);
  `secure_delete` overwrites the freed pages. An update is handled twice only when the process
  dies after handling it and before that delete commits (a few milliseconds): its answer may
  then come twice, while what it queued in the outbox does not (dedupe keys).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from telegram import Bot, Update

from bot.context import TryggContext
from bot.crypto import Sealer, SealError
from bot.handlers.flood import BURST, RATE, FloodGuard
from bot.handlers.ordering import PerUserOrder
from bot.storage import Database

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


class InboxQueue(asyncio.Queue[object]):
    """`Application.update_queue` that stores each `Update` in the inbox before it is queued.

    Until `attach` (post_init opens the database), updates pass straight through; nothing
    fetches updates before that.
    """

    def __init__(self) -> None:
        super().__init__()
        self._db: Database | None = None
        self._sealer: Sealer | None = None
        self._clock: Clock | None = None
        self._stored: set[int] = set()  # update ids in the inbox table, to delete once handled
        self.replayed: set[int] = set()  # left by a crash and handled now: not a flood
        self.undeleted: set[int] = set()  # handled, but the delete failed: tried again later

    def attach(self, db: Database, sealer: Sealer, clock: Clock) -> None:
        self._db, self._sealer, self._clock = db, sealer, clock

    @property
    def db(self) -> Database | None:
        return self._db

    async def put(self, item: object) -> None:
        """Store an update, then queue it; one seen before is dropped (see module doc)."""
        if isinstance(item, Update) and self._db is not None:
            assert self._sealer is not None and self._clock is not None
            payload = self._sealer.seal_json(item.to_dict())
            try:
                new = await self._db.inbox_store(item.update_id, payload, self._clock())
            except Exception as error:
                # A full disk, a locked file: answering now beats not answering at all, and the
                # handlers give their own apology for what they cannot store.
                log.warning("inbox: update not stored (%s), handled anyway", type(error).__name__)
            else:
                if not new:
                    log.debug("inbox: update already received, dropped")
                    return
                self._stored.add(item.update_id)
        await super().put(item)

    def handled(self, update_id: int) -> bool:
        """Forget `update_id`; whether it was in the inbox table (and must be deleted there)."""
        if update_id in self._stored:
            self._stored.discard(update_id)
            return True
        return False

    async def replay(self, bot: Bot) -> int:
        """Queue what a crash left in the inbox, oldest first; return how many."""
        if self._db is None or self._sealer is None:
            return 0
        await self._db.inbox_tidy()
        count = 0
        for update_id, payload in await self._db.inbox_pending():
            try:
                update = Update.de_json(self._sealer.unseal_json(payload), bot)
            except (SealError, ValueError, TypeError, KeyError) as error:
                # Unreadable (another key, damage): it can never be handled, keep no text.
                log.warning("inbox: update unreadable (%s), dropped", type(error).__name__)
                await self._db.inbox_done(update_id)
                continue
            self._stored.add(update_id)
            self.replayed.add(update_id)
            await super().put(update)
            count += 1
        if count:
            log.info("inbox: %d updates left unhandled by the last run are handled now", count)
        return count


class InboxOrder(PerUserOrder):
    """Each user's updates in order (`PerUserOrder`), and the inbox row deleted once handled."""

    def __init__(self, inbox: InboxQueue, max_concurrent_updates: int | None = None) -> None:
        if max_concurrent_updates is None:
            super().__init__()
        else:
            super().__init__(max_concurrent_updates)
        self._inbox = inbox
        self._to_delete: set[int] = set()
        self._deleting: asyncio.Future[None] | None = None

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle `update` in its user's turn, then forget it."""
        try:
            await super().do_process_update(update, coroutine)
        except asyncio.CancelledError:
            raise  # stopped before it was handled: the next start handles it
        except Exception as error:  # handled, if badly: redoing it would fail the same way
            log.warning("inbox: handling an update failed (%s)", type(error).__name__)
        await self._forget(update)

    async def _forget(self, update: object) -> None:
        """Delete the handled update's row; handlers that finish while a delete runs share the
        next one (one commit for a burst, as the outbox records its answers)."""
        db = self._inbox.db
        if not isinstance(update, Update) or db is None:
            return
        if not self._inbox.handled(update.update_id):  # never stored (the disk was full)
            return
        self._to_delete.add(update.update_id)
        if self._deleting is None or self._deleting.done():
            self._deleting = asyncio.ensure_future(self._delete_loop(db))
        await asyncio.shield(self._deleting)

    async def _delete_loop(self, db: Database) -> None:
        while self._to_delete:
            ids = self._to_delete | self._inbox.undeleted
            self._to_delete = set()
            try:
                await db.inbox_done(*sorted(ids))
            except Exception as error:  # locked or full: tried with the next, or at next start
                self._inbox.undeleted |= ids
                log.warning("inbox: could not delete handled updates (%s)", type(error).__name__)
                return
            self._inbox.undeleted -= ids


class InboxFloodGuard(FloodGuard):
    """Flood control that lets through the updates a crash left in the inbox.

    They were sent over the time before the crash, not at once: counted now, a reporter's
    backlog of form steps plus their next taps would look like a flood and be dropped.
    """

    def __init__(self, inbox: InboxQueue, burst: int = BURST, rate: float = RATE) -> None:
        super().__init__(burst, rate)
        self._inbox = inbox

    async def __call__(self, update: object, context: TryggContext) -> None:
        """Pass a replayed update; judge every other one as `FloodGuard` does."""
        if isinstance(update, Update) and update.update_id in self._inbox.replayed:
            self._inbox.replayed.discard(update.update_id)
            return
        await super().__call__(update, context)
