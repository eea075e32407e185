"""Flood control: a user who floods the bot is asked once to slow down, and nobody else waits.

The guard's rules are tested on its own with a stepped clock; then through the real dispatch
path, where the flooder's dropped updates cost no Bot API call and no database read, and another
user's question is answered at once, in the middle of the flood.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from bot.config import ConfigError, load_settings
from bot.handlers import flood
from bot.handlers.flood import FloodGuard, Verdict
from bot.storage import Database
from tests.conftest import ROUTINES, Harness, texts

FLOODER = 7_401_001
OTHER = 7_402_002
SLOW_DOWN = "Du skickar fler meddelanden än jag hinner med"


class Ticks:
    """A monotonic clock the test steps."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def verdicts(guard: FloodGuard, user: int, count: int) -> list[Verdict]:
    return [guard.check(user) for _ in range(count)]


# ------------------------------------------------------------------------------ the rules


def test_a_burst_passes_then_one_warning_then_silence() -> None:
    guard = FloodGuard(burst=20, rate=1.0, quiet=10.0, monotonic=Ticks())
    seen = verdicts(guard, FLOODER, 100)
    assert seen[:20] == [Verdict.PASS] * 20
    assert seen[20] == Verdict.WARN
    assert seen[21:] == [Verdict.DROP] * 79
    assert (guard.warned, guard.dropped) == (1, 79)


def test_other_users_have_buckets_of_their_own() -> None:
    guard = FloodGuard(burst=5, rate=1.0, quiet=10.0, monotonic=Ticks())
    verdicts(guard, FLOODER, 50)
    assert verdicts(guard, OTHER, 5) == [Verdict.PASS] * 5


def test_after_the_quiet_time_the_user_is_answered_again_at_the_rate() -> None:
    ticks = Ticks()
    guard = FloodGuard(burst=20, rate=1.0, quiet=10.0, monotonic=ticks)
    verdicts(guard, FLOODER, 21)
    ticks.now += 9.9
    assert guard.check(FLOODER) == Verdict.DROP
    ticks.now += 0.1
    # Ten seconds of refill: ten more, then a new warning (once), then silence again.
    again = verdicts(guard, FLOODER, 12)
    assert again == [Verdict.PASS] * 10 + [Verdict.WARN, Verdict.DROP]


def test_a_steady_typist_is_never_stopped() -> None:
    """One message a second, for ten minutes, as fast as anyone types."""
    ticks = Ticks()
    guard = FloodGuard(burst=20, rate=1.0, quiet=10.0, monotonic=ticks)
    for _ in range(600):
        assert guard.check(FLOODER) == Verdict.PASS
        ticks.now += 1.0


def test_forwarding_a_batch_of_threats_passes() -> None:
    """An official forwards 15 threatening messages at once, twice a minute."""
    ticks = Ticks()
    guard = FloodGuard(monotonic=ticks)
    for _ in range(4):
        assert verdicts(guard, FLOODER, 15) == [Verdict.PASS] * 15
        ticks.now += 30.0


def test_memory_is_bounded_by_the_users_active_lately() -> None:
    ticks = Ticks()
    guard = FloodGuard(burst=2, rate=1.0, quiet=10.0, monotonic=ticks, prune_at=100)
    for user in range(10_000):
        guard.check(user)
        ticks.now += 0.01  # each bucket is full again 2 s (200 users) later
    assert len(guard) <= 500
    # A user in the middle of a quiet time is never forgotten: the silence holds.
    verdicts(guard, FLOODER, 3)
    for user in range(20_000, 21_000):
        guard.check(user)
        ticks.now += 0.001
    assert guard.check(FLOODER) == Verdict.DROP


def test_limits_are_checked() -> None:
    for bad in ({"burst": 0}, {"rate": 0.0}, {"quiet": -1.0}):
        with pytest.raises(ValueError):
            FloodGuard(**bad)  # type: ignore[arg-type]


def test_settings_read_the_limits_and_refuse_nonsense() -> None:
    base = {"TRYGG_ROUTINES": str(ROUTINES)}
    assert load_settings(base).flood_burst == 20
    settings = load_settings({**base, "TRYGG_FLOOD_BURST": "0", "TRYGG_FLOOD_RATE": "2.5"})
    assert (settings.flood_burst, settings.flood_rate) == (0, 2.5)
    with pytest.raises(ConfigError) as error:
        load_settings({**base, "TRYGG_FLOOD_BURST": "-1", "TRYGG_FLOOD_RATE": "nan"})
    assert len(error.value.problems) == 2


# ------------------------------------------------------------------------------ dispatch


def _guard(harness: Harness) -> FloodGuard:
    guard = flood.installed(harness.app)
    assert guard is not None, "register() adds the guard in group -1"
    return guard


async def test_the_guard_runs_before_every_other_handler(harness: Harness) -> None:
    groups = sorted(harness.app.handlers)
    assert groups[0] == flood.GROUP < 0
    assert [type(h).__name__ for h in harness.app.handlers[flood.GROUP]] == ["TypeHandler"]


async def test_a_flood_is_answered_once_and_costs_the_others_nothing(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ticks = Ticks()
    _guard(harness).monotonic = ticks  # no refill during the test, however slow the machine
    await harness.join(OTHER, "solvik")
    await harness.join(FLOODER, "solvik")  # joining (/start) takes one of the burst

    reads: list[int] = []
    real_get_profile = Database.get_profile

    async def counting(self: Database, user_id: int) -> Any:
        reads.append(user_id)
        return await real_get_profile(self, user_id)

    monkeypatch.setattr(Database, "get_profile", counting)

    answered = sorry = 0
    other_waited: list[float] = []
    for n in range(100):
        calls = await harness.send(FLOODER, f"hjälp nummer {n}")
        shown = texts(calls)
        sorry += sum(SLOW_DOWN in text for text in shown)
        answered += bool(shown) and not any(SLOW_DOWN in text for text in shown)
        if n in (30, 60, 90):  # another official asks in the middle of the flood
            start = time.perf_counter()
            mine = await harness.send(OTHER, "jag fick ett hotfullt mejl")
            other_waited.append(time.perf_counter() - start)
            first = texts(mine)[0]
            assert first.startswith("Är du i fara nu? Ring 112.\nJag har fått ett hot"), first
    assert sorry == 1
    assert answered == flood.BURST - 1  # the burst, less the /start of joining
    slow_down = [t for t in texts(harness.transport.sent_to(FLOODER)) if SLOW_DOWN in t]
    assert slow_down[0].startswith("Är du i fara nu? Ring 112.\n")  # 112 first, even here
    # Dropped updates never reached a handler: only the answered ones read the profile.
    assert reads.count(FLOODER) == answered
    assert reads.count(OTHER) == 3
    assert len(other_waited) == 3


async def test_the_flooder_is_answered_again_after_the_quiet_time(harness: Harness) -> None:
    ticks = Ticks()
    guard = _guard(harness)
    guard.monotonic = ticks
    for n in range(guard.burst + 5):
        await harness.send(FLOODER, f"meddelande {n}")
    assert texts(await harness.send(FLOODER, "/kontakt")) == []
    ticks.now += guard.quiet
    calls = await harness.send(FLOODER, "/kontakt")
    assert texts(calls) and texts(calls)[0].startswith("Vad har hänt?")


async def test_buttons_count_too_and_the_warning_is_in_the_users_language(
    harness: Harness,
) -> None:
    _guard(harness).monotonic = Ticks()
    for _ in range(flood.BURST):
        await harness.press(FLOODER, "menu:", language_code="en")
    calls = await harness.press(FLOODER, "menu:", language_code="en")
    assert texts(calls) == [
        "In danger now? Call 112.\nYou are sending more messages than I can keep up with. "
        "Wait 10 seconds and then write again, and I will answer."
    ]
    assert await harness.press(FLOODER, "menu:", language_code="en") == []
