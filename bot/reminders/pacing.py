"""Telegram's sending limits, kept by one sender: overall, per chat and per group.

Telegram asks bots to send at most about 30 messages a second overall, one a second to the same
chat, and 20 a minute to the same group; beyond that it answers 429 with `retry_after`. The
outbox asks a `Pacer` before every send:

- **overall**: at most `rate` sends start in any window of one second plus `guard`. A sliding
  window, not a token bucket: a bucket lets a burst through on top of the steady rate, and
  Telegram counts whatever arrives within a second. A send's slot is taken when it is granted
  and stamped again when the request really leaves (`leaving`), so time spent waiting for the
  event loop in between does not count; `guard` absorbs the rest of the difference between
  when a request leaves here and when it arrives there.
- **per chat**: a chat gets its next message `chat_interval` after the previous one to it was
  *answered* (so they can never arrive closer than that), and never while one is still on its
  way (so they arrive in order). Only delivered messages count: a failed attempt waits for its
  backoff anyway. Urgent messages (a report to its coordinators, the relay between them and the
  reporter) are conversation, like the bot's own replies, which Telegram lets through in short
  bursts: they are not held back for the spacing, only kept in order.
- **per group** (a negative chat id): at most `group_per_minute` sends start in any window of
  60 seconds plus `guard`.

Time is `time.monotonic` (injectable): the limits are about real seconds, whatever the bot's
clock says. Memory stays flat: per-chat entries are dropped once they no longer hold anything back.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections import deque
from collections.abc import Callable
from time import monotonic as _monotonic

RATE = 30.0
CHAT_INTERVAL = 1.0
GROUP_PER_MINUTE = 20.0
GUARD = 0.05
_WINDOW = 1.0
_GROUP_WINDOW = 60.0
_PRUNE_AT = 4096


class _Slot:
    """When a send started, as counted in a window; re-stamped when it really leaves."""

    __slots__ = ("at",)

    def __init__(self, at: float) -> None:
        self.at = at


class Pacer:
    """When the next message may start, overall and to one chat; see the module docstring."""

    def __init__(
        self,
        rate: float = RATE,
        chat_interval: float = CHAT_INTERVAL,
        group_per_minute: float = GROUP_PER_MINUTE,
        *,
        guard: float = GUARD,
        monotonic: Callable[[], float] = _monotonic,
    ) -> None:
        if rate <= 0 or chat_interval < 0 or group_per_minute <= 0 or guard < 0:
            raise ValueError("rates must be positive, the chat interval and guard not negative")
        self.rate = rate
        self.chat_interval = chat_interval
        self.group_per_minute = group_per_minute
        self._window = _WINDOW + guard
        self._group_window = _GROUP_WINDOW + guard
        self._capacity = max(1, math.floor(rate * _WINDOW))
        self._group_capacity = max(1, math.floor(group_per_minute))
        self._now = monotonic
        self._starts: deque[_Slot] = deque(maxlen=self._capacity)
        self._group_starts: dict[int, deque[_Slot]] = {}
        self._chat_free_at: dict[int, float] = {}
        self._busy: set[int] = set()
        self._started: dict[int, _Slot] = {}  # the slot of the message on its way, per chat

    def __repr__(self) -> str:
        return (
            f"Pacer(rate={self.rate}, chat_interval={self.chat_interval}, "
            f"group_per_minute={self.group_per_minute})"
        )

    # --- asking ---------------------------------------------------------------------------

    def now(self) -> float:
        """The pacer's clock (monotonic seconds)."""
        return self._now()

    def overall_free_at(self) -> float:
        """The monotonic time from which one more message may start, as far as the total goes."""
        if len(self._starts) < self._capacity:
            return -math.inf
        return self._starts[0].at + self._window

    def chat_free_at(self, chat_id: int, urgent: bool = False) -> float:
        """From when `chat_id` may get its next message (inf while one is on its way)."""
        if chat_id in self._busy:
            return math.inf
        free = -math.inf if urgent else self._chat_free_at.get(chat_id, -math.inf)
        if chat_id < 0:
            starts = self._group_starts.get(chat_id)
            if starts is not None and len(starts) >= self._group_capacity:
                free = max(free, starts[0].at + self._group_window)
        return free

    def chat_ready(self, chat_id: int, urgent: bool = False) -> bool:
        return self.chat_free_at(chat_id, urgent) <= self._now()

    # --- telling --------------------------------------------------------------------------

    async def start(self, chat_id: int, urgent: bool = False) -> None:
        """Wait until a message to `chat_id` may start, then count it as started.

        The caller must have checked `chat_ready` (or must accept waiting for the chat too);
        only one coroutine may start messages at a time (the outbox round).
        """
        while True:
            free = max(self.overall_free_at(), self.chat_free_at(chat_id, urgent))
            wait = free - self._now()
            if wait <= 0:
                break
            if math.isinf(wait):
                raise RuntimeError("a message to this chat is still on its way")
            await asyncio.sleep(wait)
        slot = _Slot(self._now())
        self._starts.append(slot)
        self._started[chat_id] = slot
        self._busy.add(chat_id)
        if chat_id < 0:
            starts = self._group_starts.setdefault(chat_id, deque(maxlen=self._group_capacity))
            starts.append(slot)

    def leaving(self, chat_id: int) -> None:
        """The request to `chat_id` leaves now: its slot counts from now, not from the grant.

        Sends leave in the order they were granted, so the windows stay in time order.
        """
        slot = self._started.get(chat_id)
        if slot is not None:
            slot.at = max(slot.at, self._now())

    def done(self, chat_id: int, delivered: bool, *, counted: bool = True) -> None:
        """The message to `chat_id` was answered; `delivered`: Telegram accepted it.

        `counted=False`: the request never reached Telegram (a network error, a 5xx), so its
        start is taken back from the overall window.
        """
        self._busy.discard(chat_id)
        if not counted:
            self._take_back(chat_id)
        self._started.pop(chat_id, None)
        if delivered:
            self._chat_free_at[chat_id] = self._now() + self.chat_interval
        if len(self._chat_free_at) > _PRUNE_AT:
            self._prune()

    def _take_back(self, chat_id: int) -> None:
        started = self._started.pop(chat_id, None)
        if started is None:
            return
        with contextlib.suppress(ValueError):
            self._starts.remove(started)
        group = self._group_starts.get(chat_id)
        if group is not None:
            with contextlib.suppress(ValueError):
                group.remove(started)

    def _prune(self) -> None:
        now = self._now()
        self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}
        self._group_starts = {
            c: s for c, s in self._group_starts.items() if s and s[-1].at + self._group_window > now
        }
