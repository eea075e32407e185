"""Telegram's sending limits, kept by one sender: overall, per chat and per group.

Telegram asks bots to send at most about 30 messages a second overall, one a second to the same
chat, and 20 a minute to the same group; beyond that it answers 429 with `retry_after`. The
outbox asks a `Pacer` before every send:

- **overall**: at most `rate` messages in any window of one second plus `guard`, counted from
  when Telegram may have received them. A request is received somewhere between when it leaves
  and when its answer comes, and a stall (a busy CPU, a slow network) can push that moment
  anywhere in between; so a send counts as in the window from when it is granted until one
  window after its *answer*. Then no window of arrivals can ever hold more than `rate`, however
  requests bunch up on the way: if it did, the last one granted among them would have seen all
  the others still under way or answered less than a window before it left. After a stall the
  pace picks up one window after the stalled answers, instead of bursting on top of them. It
  costs the round-trip time per window (30 a second becomes about 27 at 100 ms), which is the
  price of never being answered 429. A sliding window, not a token bucket (aiolimiter, which
  python-telegram-bot's `AIORateLimiter` uses): a bucket that filled up during a stall lets a
  full burst through on top of the messages sent just before it.
- **per chat**: a chat gets its next message `chat_interval` after the previous one to it was
  *answered* (so they can never arrive closer than that), and never while one is still on its
  way (so they arrive in order). Only delivered messages count: a failed attempt waits for its
  backoff anyway. Urgent messages (a report to its coordinators, the relay between them and the
  reporter) are conversation, like the bot's own replies, which Telegram lets through in short
  bursts: they are not held back for the spacing, only kept in order.
- **per group** (a negative chat id): at most `group_per_minute` messages in any window of
  60 seconds plus `guard`, counted from their answers in the same way.

Time is `time.monotonic` (injectable): the limits are about real seconds, whatever the bot's
clock says. Memory stays flat: per-chat entries are dropped once they no longer hold anything back.
"""

from __future__ import annotations

import asyncio
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
        # Answers of counted sends, oldest first (the clock only goes forward): only the
        # latest `capacity` can hold the next send back.
        self._answers: deque[float] = deque(maxlen=self._capacity)
        self._group_answers: dict[int, deque[float]] = {}
        self._chat_free_at: dict[int, float] = {}
        self._busy: set[int] = set()
        self._started: set[int] = set()  # chats with a counted message on its way
        self._answered = asyncio.Event()

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
        """The monotonic time from which one more message may start, as far as the total goes
        (inf while `rate` messages are on their way)."""
        allowed = self._capacity - 1 - len(self._started)  # answers that may stay in the window
        if allowed < 0:
            return math.inf
        if len(self._answers) <= allowed:
            return -math.inf
        return self._answers[len(self._answers) - allowed - 1] + self._window

    def chat_free_at(self, chat_id: int, urgent: bool = False) -> float:
        """From when `chat_id` may get its next message (inf while one is on its way)."""
        if chat_id in self._busy:
            return math.inf
        free = -math.inf if urgent else self._chat_free_at.get(chat_id, -math.inf)
        if chat_id < 0:
            answers = self._group_answers.get(chat_id)
            if answers is not None and len(answers) >= self._group_capacity:
                free = max(free, answers[0] + self._group_window)
        return free

    def chat_ready(self, chat_id: int, urgent: bool = False) -> bool:
        return self.chat_free_at(chat_id, urgent) <= self._now()

    # --- telling --------------------------------------------------------------------------

    async def start(self, chat_id: int, urgent: bool = False) -> None:
        """Wait until a message to `chat_id` may start, then count it as under way.

        The caller must have checked `chat_ready` (or must accept waiting for the chat too);
        only one coroutine may start messages at a time (the outbox round).
        """
        while True:
            overall = self.overall_free_at()
            if math.isinf(overall) and overall > 0:  # `rate` on their way: wait for an answer
                self._answered.clear()
                await self._answered.wait()
                continue
            free = max(overall, self.chat_free_at(chat_id, urgent))
            wait = free - self._now()
            if wait <= 0:
                break
            if math.isinf(wait):
                raise RuntimeError("a message to this chat is still on its way")
            await asyncio.sleep(wait)
        self._started.add(chat_id)
        self._busy.add(chat_id)

    def done(self, chat_id: int, delivered: bool, *, counted: bool = True) -> None:
        """The message to `chat_id` was answered; `delivered`: Telegram accepted it.

        `counted=False`: the request never reached Telegram (a network error, a 5xx), so it is
        taken back from the windows.
        """
        self._busy.discard(chat_id)
        if chat_id in self._started:
            self._started.discard(chat_id)
            if counted:
                now = self._now()
                self._answers.append(now)
                if chat_id < 0:
                    group = self._group_answers.setdefault(
                        chat_id, deque(maxlen=self._group_capacity)
                    )
                    group.append(now)
            self._answered.set()
        if delivered:
            self._chat_free_at[chat_id] = self._now() + self.chat_interval
        if len(self._chat_free_at) > _PRUNE_AT:
            self._prune()

    def _prune(self) -> None:
        now = self._now()
        self._chat_free_at = {c: t for c, t in self._chat_free_at.items() if t > now}
        self._group_answers = {
            c: a for c, a in self._group_answers.items() if a and a[-1] + self._group_window > now
        }
