"""Flood control: a user who sends too much is asked, once, to slow down, and nobody else waits.

Each user has a token bucket: `burst` updates at once, refilled at `rate` a second. An update
that finds the bucket empty gets one polite answer (with 112, since someone in danger may be
typing fast), and then every update of that user is dropped for `quiet` seconds, before any
handler reads the database. Updates are handled one at a time (`concurrent_updates(False)`), so
a dropped update costs the others next to nothing; the guard itself does no I/O except for the
one answer.

The guard runs as a `TypeHandler` in group -1, ahead of every other handler (see
`bot.handlers.register`), and stops a dropped update with `ApplicationHandlerStop`. Its clock is
injected (`monotonic`), so tests step through time. Buckets of users who have been quiet long
enough to be full again are forgotten, so memory stays bounded by the users active in the last
`burst / rate` seconds.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import ApplicationHandlerStop, BaseHandler, TypeHandler

from bot.context import TryggApp, TryggContext
from bot.handlers.common import reply
from bot.i18n import normalise_language, t

log = logging.getLogger(__name__)

BURST = 20
"""Updates a user may send at once: a batch of forwarded threats fits."""
RATE = 1.0
"""Updates a second a user may send on top of the burst, as a fast typist does."""
QUIET = 10.0
"""Seconds a flooding user's updates are dropped after the one answer."""
PRUNE_AT = 4096
"""Buckets held before idle ones are forgotten."""


class Verdict(enum.Enum):
    PASS = "pass"  # handle the update
    WARN = "warn"  # the bucket just ran dry: answer once, drop it
    DROP = "drop"  # within the quiet time: drop it without a word


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    quiet_until: float = float("-inf")


class FloodGuard:
    """Per-user token buckets; `check` decides, the guard as a callback acts on the decision."""

    def __init__(
        self,
        burst: int = BURST,
        rate: float = RATE,
        quiet: float = QUIET,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        prune_at: int = PRUNE_AT,
    ) -> None:
        if burst < 1 or rate <= 0 or quiet < 0:
            raise ValueError("burst must be at least 1, rate positive and quiet not negative")
        self.burst = burst
        self.rate = rate
        self.quiet = quiet
        self.monotonic = monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._prune_at = prune_at
        self._min_prune_at = prune_at
        self.warned = 0
        self.dropped = 0

    def __repr__(self) -> str:
        return (
            f"FloodGuard(burst={self.burst}, rate={self.rate}, quiet={self.quiet}, "
            f"users={len(self._buckets)}, warned={self.warned}, dropped={self.dropped})"
        )

    def __len__(self) -> int:
        """The users whose buckets are held."""
        return len(self._buckets)

    def check(self, user_id: int) -> Verdict:
        """Take one token of `user_id`'s bucket, or say why not."""
        now = self.monotonic()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= self._prune_at:
                self._prune(now)
            bucket = self._buckets[user_id] = _Bucket(float(self.burst), now)
        else:
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
        if now < bucket.quiet_until:
            self.dropped += 1
            return Verdict.DROP
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict.PASS
        bucket.quiet_until = now + self.quiet
        self.warned += 1
        return Verdict.WARN

    def _prune(self, now: float) -> None:
        """Forget the buckets that are full again and not in a quiet time."""
        full = float(self.burst)
        idle = [
            user_id
            for user_id, bucket in self._buckets.items()
            if now >= bucket.quiet_until
            and bucket.tokens + max(0.0, now - bucket.stamp) * self.rate >= full
        ]
        for user_id in idle:
            del self._buckets[user_id]
        # Everyone still held is active: look again only once as many more have come.
        self._prune_at = max(self._min_prune_at, 2 * len(self._buckets))

    async def __call__(self, update: object, context: TryggContext) -> None:
        """Let the update through, or answer once and stop it (ApplicationHandlerStop)."""
        if not isinstance(update, Update) or update.effective_user is None:
            return
        verdict = self.check(update.effective_user.id)
        if verdict is Verdict.PASS:
            return
        if verdict is Verdict.WARN:
            # Counts and durations only: who is flooding is not the log's business.
            log.warning("flood: a user is sending too fast; dropping them for %.0f s", self.quiet)
            await self._slow_down(update, context)
        raise ApplicationHandlerStop

    async def _slow_down(self, update: Update, context: TryggContext) -> None:
        user = update.effective_user
        assert user is not None
        lang = normalise_language(user.language_code)
        stored = await context.services.db.get_user(user.id)
        if stored is not None and stored.lang_chosen and stored.lang:
            lang = stored.lang
        try:
            await reply(update, t("flood.slow_down", lang, seconds=round(self.quiet)))
        except TelegramError as error:
            log.warning("flood: could not ask a user to slow down (%s)", type(error).__name__)


GROUP = -1
"""The handler group of the guard: before group 0, where every other handler is."""


def handler(guard: FloodGuard) -> TypeHandler[Update, TryggContext, None]:
    """The guard as a handler of every update, for group `GROUP`."""
    return TypeHandler(Update, guard)


def installed(app: TryggApp) -> FloodGuard | None:
    """The guard `register` added to `app`, if any (tests adjust its clock and limits)."""
    found: list[BaseHandler[Update, TryggContext, None]] = list(app.handlers.get(GROUP, []))
    for candidate in found:
        if isinstance(candidate, TypeHandler) and isinstance(candidate.callback, FloodGuard):
            return candidate.callback
    return None
