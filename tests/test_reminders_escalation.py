"""Acknowledgement reminders like an on-call tool: repeated up to a cap, then escalated; one
acknowledgement, by whoever got the button, stops them all at once.

Through the real application on the recording transport, with the clock travelled.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from bot.devchat.transport import RecordingRequest
from bot.routines.loader import RoutineError, load_national, load_routine
from tests.conftest import OFFICE_HOURS, ROUTINES, Clock, buttons
from tests.test_reminders_jobs import (
    DIREKTOR,
    KARIN,
    World,
    edit_routine,
    submit,
    tick,
    with_text,
)


@pytest.fixture
def world(tmp_path: Path, routines_dir: Path) -> World:
    return World(tmp_path, routines_dir, RecordingRequest(), Clock(OFFICE_HOURS))


async def test_reminders_repeat_then_escalate_and_an_acknowledgement_stops_them_all(
    world: World,
) -> None:
    edit_routine(world.routines, "solvik", "ack_within: 24h", "ack_within: 1h\n  ack_every: 30m")
    async with world.started() as h:
        await h.join(KARIN, "solvik", "coordinator", "sakerhet")
        await h.join(DIREKTOR, "solvik", "coordinator", "kommundirektor")
        report = await submit(h, contact_me=False)
        reminder = f"Rapport {report.ref} är inte kvitterad"
        escalation = f"Rapport {report.ref} har inte kvitterats"

        h.clock.advance(timedelta(minutes=59))
        assert await tick(h) == 0
        for n in (1, 2, 3):  # at 1 h, 1 h 30, 2 h: the cap of three (the default)
            h.clock.advance(timedelta(minutes=1 if n == 1 else 30))
            assert await tick(h) == 1
            assert len(with_text(h.transport, KARIN, reminder)) == n
            assert await tick(h) == 0  # the job runs every minute: never twice
        assert with_text(h.transport, DIREKTOR, escalation) == []

        h.clock.advance(timedelta(minutes=30))  # the cap reached: the director is called
        assert await tick(h) == 1
        [called] = with_text(h.transport, DIREKTOR, escalation)
        assert ("Kvittera", f"case:ack.{report.ref}") in buttons([called])
        assert len(with_text(h.transport, KARIN, reminder)) == 3  # no fourth

        # The director acknowledges with the same button: nobody is reminded again.
        await h.press(DIREKTOR, f"case:ack.{report.ref}")
        stored = await h.services.db.get_report(report.ref)
        assert stored is not None and stored.state.value == "acknowledged"
        h.clock.advance(timedelta(days=3))
        assert await tick(h, "ack") == 0 and await tick(h, "escalate") == 0
        assert len(with_text(h.transport, KARIN, reminder)) == 3
        assert len(with_text(h.transport, DIREKTOR, escalation)) == 1


async def test_an_acknowledgement_stops_a_reminder_waiting_for_quiet_hours_to_end(
    world: World,
) -> None:
    edit_routine(world.routines, "solvik", "ack_within: 24h", "ack_within: 12h")
    async with world.started() as h:
        await h.join(KARIN, "solvik", "coordinator", "sakerhet")
        report = await submit(h, contact_me=False)
        h.clock.advance(timedelta(hours=12))  # 22:00 or so: inside quiet hours, held back
        assert await tick(h, "ack") == 1
        reminder = f"Rapport {report.ref} är inte kvitterad"
        assert with_text(h.transport, KARIN, reminder) == []
        await h.press(KARIN, f"case:ack.{report.ref}")
        h.clock.advance(timedelta(hours=12))  # the morning: the held reminder is not sent
        await tick(h)
        assert with_text(h.transport, KARIN, reminder) == []


def test_the_routine_file_accepts_and_checks_the_new_keys(tmp_path: Path) -> None:
    national = load_national(ROUTINES / "_national.yaml")
    source = (ROUTINES / "solvik.yaml").read_text("utf-8")
    good = tmp_path / "solvik.yaml"
    good.write_text(source.replace("ack_within: 24h", "ack_within: 4h\n  ack_repeat: 5"), "utf-8")
    reminders = load_routine(good, national).reminders
    assert (reminders.ack_repeat, reminders.ack_every) == (5, None)
    bad = tmp_path / "bad" / "solvik.yaml"
    bad.parent.mkdir()
    bad.write_text(
        source.replace("ack_within: 24h", "ack_within: 4h\n  ack_repeat: 0\n  ack_every: soon"),
        "utf-8",
    )
    with pytest.raises(RoutineError) as caught:
        load_routine(bad, national)
    message = str(caught.value)
    assert "reminders.ack_repeat" in message and "from 1 to 20" in message
    assert "reminders.ack_every" in message and "not a duration" in message
