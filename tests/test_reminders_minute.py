"""Reminders on the minute: the job wakes just after each minute of the bot's clock.

The clock is injected and travelled by exactly the wait the job computes
(`seconds_to_next_minute`), so the test runs the passes the job would run, on the moments it would
run them, across both daylight-saving nights of Stockholm, without sleeping.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.devchat.transport import RecordingRequest
from bot.reminders.jobs import WAKE_AFTER, seconds_to_next_minute
from tests.conftest import OFFICE_HOURS, Clock, Harness
from tests.test_reminders_jobs import ANNA, DIGEST_SV, World, edit_routine, tick, with_text


@pytest.fixture
def world(tmp_path: Path, routines_dir: Path) -> World:
    return World(tmp_path, routines_dir, RecordingRequest(), Clock(OFFICE_HOURS))


def test_the_wait_ends_just_after_the_next_minute() -> None:
    now = datetime(2026, 11, 24, 8, 59, 59, 900_000, tzinfo=UTC)
    assert now + timedelta(seconds=seconds_to_next_minute(now)) == datetime(
        2026, 11, 24, 9, 0, 0, 250_000, tzinfo=UTC
    )
    # Woken a little early or right on time: the next pass is the next minute, never this one
    # again a moment later.
    on_time = datetime(2026, 11, 24, 9, 0, 0, 250_000, tzinfo=UTC)
    assert on_time + timedelta(seconds=seconds_to_next_minute(on_time)) == datetime(
        2026, 11, 24, 9, 1, 0, 250_000, tzinfo=UTC
    )


async def _passes_until(h: Harness, end: datetime) -> list[datetime]:
    """Run the job's passes from the clock's moment to `end`, as the job books them; return the
    moments at which a pass sent the digest to Anna."""
    got: list[datetime] = []
    while h.clock() < end:
        h.clock.advance(timedelta(seconds=seconds_to_next_minute(h.clock())))
        before = len(with_text(h.transport, ANNA, DIGEST_SV))
        await tick(h)
        if len(with_text(h.transport, ANNA, DIGEST_SV)) > before:
            got.append(h.clock())
    return got


@pytest.mark.parametrize(
    ("start", "end", "due"),
    [
        # Autumn: 02:30 comes twice (CEST, then CET); the reminder comes at the first, once.
        (
            datetime(2026, 10, 25, 0, 27, 41, 300_000, tzinfo=UTC),
            datetime(2026, 10, 25, 1, 40, tzinfo=UTC),
            datetime(2026, 10, 25, 0, 30, tzinfo=UTC),
        ),
        # Spring: 02:30 never comes; it is taken as 03:30 CEST, right after the jump.
        (
            datetime(2027, 3, 28, 0, 50, 12, 700_000, tzinfo=UTC),
            datetime(2027, 3, 28, 1, 50, tzinfo=UTC),
            datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        ),
    ],
)
async def test_a_cron_reminder_comes_on_its_minute_across_daylight_saving(
    world: World, start: datetime, end: datetime, due: datetime
) -> None:
    edit_routine(world.routines, "solvik", "members: quarterly", 'members: "30 2 * * *"')
    edit_routine(
        world.routines, "solvik", 'quiet_hours: "21:00-08:00"', 'quiet_hours: "12:00-12:01"'
    )
    world.clock.moment = start - timedelta(hours=1)
    async with world.started() as h:
        await h.join(ANNA, "solvik")
        world.clock.moment = start
        await tick(h)  # the pass at start: yesterday's 02:30 was sent an hour ago, at start
        got = await _passes_until(h, end)
    assert len(got) == 1, got  # once, not twice in the repeated hour, not never
    assert got[0] == due + timedelta(seconds=WAKE_AFTER)  # on the minute, not up to 59 s late
