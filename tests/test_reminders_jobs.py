"""Reminders through the real application: queued once, sent once, across restarts and outages.

The clock is travelled, never slept: a test sets the moment, runs a pass of the reminders job
(`run_due`, as the job does every minute) and a round of the outbox, and counts what each chat
got on the recording transport.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.app import build_application, running
from bot.cli import main
from bot.config import Settings
from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.devchat.transport import Call, RecordingRequest
from bot.outbox.pacing import Pacer
from bot.reminders.jobs import JOB_NAME, run_due
from bot.reports.model import Report, State
from bot.storage import Database, Role
from tests.conftest import OFFICE_HOURS, Clock, Harness, buttons, texts

STOCKHOLM = ZoneInfo("Europe/Stockholm")

ANNA, BO, CECILIA = 7_310_001, 7_310_002, 7_310_003  # members of Solvik
BERIT = 7_320_002  # member of Region Norrmark
KARIN = 7_340_004  # Solvik's coordinator, bound to the owner `sakerhet`
DIREKTOR = 7_340_005  # a coordinator bound to `kommundirektor`, named in escalate_to
REPORTER = 7_390_009

DIGEST_SV = "Din rutin vid hot och hat"
DIGEST_EN = "Your procedure for threats and hate"


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM).astimezone(UTC)


@dataclass
class World:
    """A data directory, routines, a transport and a clock that outlive one run of the bot."""

    tmp_path: Path
    routines: Path
    transport: RecordingRequest
    clock: Clock

    @asynccontextmanager
    async def started(self) -> AsyncIterator[Harness]:
        settings = Settings(
            data_dir=self.tmp_path / "data", routines_dir=self.routines, reload_interval=3600
        )
        app = build_application(
            settings,
            request=self.transport,
            updates_request=self.transport.updates_request(),
            clock=self.clock,
        )
        async with running(app):
            harness = Harness(app, self.transport, self.clock, self.routines)
            # One second between two messages to a chat is real time, which these tests travel
            # past on their clock; the pacing has tests of its own (test_reminders_pacing.py).
            harness.services.outbox.pacer = Pacer(chat_interval=0.0)
            yield harness


@pytest.fixture
def world(tmp_path: Path, routines_dir: Path) -> World:
    return World(tmp_path, routines_dir, RecordingRequest(), Clock(OFFICE_HOURS))


@pytest.fixture
async def h(world: World) -> AsyncIterator[Harness]:
    async with world.started() as harness:
        yield harness


async def tick(h: Harness, kind: str | None = None) -> int:
    """One pass of the reminders job at the clock's moment, then an outbox round: how many
    messages the pass queued (of `kind`, or all)."""
    stats = await run_due(h.services)
    await h.services.outbox.send_due(h.app.bot)
    return stats.total if kind is None else stats.queued[kind]


def with_text(transport: RecordingRequest, chat: int, fragment: str) -> list[Call]:
    return [c for c in transport.sent_to(chat) if fragment in str(c.params.get("text", ""))]


def edit_routine(routines: Path, org: str, old: str, new: str) -> None:
    path = routines / f"{org}.yaml"
    text = path.read_text("utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), "utf-8")


async def reload(h: Harness) -> None:
    h.services.registry.reload()
    assert not h.services.registry.problems()


def new_report(h: Harness, *, contact_me: bool, ref: str = "R-ABC234") -> Report:
    return Report(
        id=0,
        ref=ref,
        org_id="solvik",
        type="hot",
        channel="epost",
        month="2026-11",
        repeated=False,
        perpetrator="okand",
        police="nej",
        impacts=(),
        gender=None,
        description=None,
        contact_me=contact_me,
        state=State.NEW,
        created_at=h.clock(),
    )


async def submit(h: Harness, *, contact_me: bool, ref: str = "R-ABC234") -> Report:
    """A report as the form stores it, with the link to the reporter when they asked for one."""
    services = h.services
    link = None
    if contact_me:
        link = (services.sealer.owner_tag(REPORTER), services.sealer.seal_chat(REPORTER))
    report = new_report(h, contact_me=contact_me, ref=ref)
    return await services.db.submit_report(report, link, [], REPORTER, h.clock())


# --- digests -----------------------------------------------------------------------------------


async def test_a_digest_reaches_each_member_once_also_across_a_restart(world: World) -> None:
    async with world.started() as h:
        assert h.app.job_queue is not None
        assert [j.name for j in h.app.job_queue.get_jobs_by_name(JOB_NAME)] == [JOB_NAME]
        for user in (ANNA, BO, CECILIA):
            await h.join(user, "solvik")
        await h.join(BERIT, "region-norrmark")
        await h.send(BO, "/sprak")
        await h.press(BO, "lang:en")
        # The fourth quarter's digest was handled at start, before anyone joined: nothing now.
        assert await tick(h) == 0
        world.clock.moment = at(2027, 1, 1, 9, 0)  # both routines' next digest
        assert await tick(h) == 4
        assert await tick(h) == 0  # the job runs every minute: nothing twice
    async with world.started() as h:  # a restart runs a pass at start, then the job goes on
        assert await tick(h) == 0
        world.clock.advance(timedelta(hours=1))
        assert await tick(h) == 0
    for user in (ANNA, CECILIA, BERIT):
        assert len(with_text(world.transport, user, DIGEST_SV)) == 1, user
    assert with_text(world.transport, BO, DIGEST_SV) == []
    [english] = with_text(world.transport, BO, DIGEST_EN)
    [anna] = with_text(world.transport, ANNA, DIGEST_SV)
    html = str(anna.params["text"])
    assert "112" in html and "tel:" not in html  # numbers as plain text that phones detect
    assert "+46 70 174 06 12" in html  # the duty officer, first contact of acute danger
    assert "Säkerhetssamordnare" in html and "+46 980 31 92 10" in html
    assert anna.result["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "menu:"
    assert "Security coordinator" in str(english.params["text"])
    assert "Region Norrmark" in str(with_text(world.transport, BERIT, DIGEST_SV)[0].params["text"])


async def test_downtime_over_several_periods_sends_one_digest(h: Harness) -> None:
    await h.join(ANNA, "solvik")
    h.clock.moment = at(2027, 11, 20, 12)  # the bot was "down" for a year: four quarters
    assert await tick(h) == 1
    assert await tick(h) == 0
    assert len(with_text(h.transport, ANNA, DIGEST_SV)) == 1


async def test_a_daily_digest_over_both_daylight_saving_changes(h: Harness) -> None:
    edit_routine(h.routines, "solvik", "members: quarterly", 'members: "0 9 * * *"')
    await reload(h)
    await h.join(ANNA, "solvik")
    for first, last in (
        (at(2027, 3, 27, 0), at(2027, 3, 30, 0)),
        (at(2027, 10, 30, 0), at(2027, 11, 2, 0)),
    ):
        h.clock.moment = first
        sent_at: list[datetime] = []
        while h.clock() < last:
            if await tick(h):
                sent_at.append(h.clock())
            h.clock.advance(timedelta(hours=1))
        # The first pass sends the day before's; then each day at nine, local time.
        assert [m.astimezone(STOCKHOLM).strftime("%d %H:%M") for m in sent_at[1:]] == [
            f"{d:02d} 09:00" for d in ((27, 28, 29) if first.month == 3 else (30, 31, 1))
        ]


async def test_members_turn_reminders_off_and_on(h: Harness) -> None:
    await h.join(ANNA, "solvik")
    await h.join(BO, "solvik")
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    calls = await h.send(ANNA, "/paminnelser")
    assert "Påminnelser om rutinen är på" in texts(calls)[0]
    assert "en gång i kvartalet" in texts(calls)[0]
    assert buttons(calls) == [("Stäng av påminnelserna", "remind:off")]
    calls = await h.press(ANNA, "remind:off")
    assert "påminnelserna är av" in texts(calls)[0]
    assert buttons(calls) == [("Slå på påminnelserna", "remind:on")]
    membership = await h.services.db.get_membership(ANNA)
    assert membership is not None and not membership.digest_enabled

    coordinator = await h.send(KARIN, "/reminders")
    assert "går inte att stänga av" in texts(coordinator)[0]
    stranger = await h.send(CECILIA, "/paminnelser")
    assert "Be din säkerhetssamordnare om en inbjudningslänk" in texts(stranger)[0]
    assert "Den knappen gäller inte" in texts(await h.press(ANNA, "remind:maybe"))[0]

    h.clock.moment = at(2027, 1, 1, 10)
    assert await tick(h, "digest") == 2  # Bo and Karin
    assert with_text(h.transport, ANNA, DIGEST_SV) == []
    await h.press(ANNA, "remind:on")
    h.clock.moment = at(2027, 4, 1, 10)
    assert await tick(h, "digest") == 3
    assert len(with_text(h.transport, ANNA, DIGEST_SV)) == 1


async def test_remind_now_is_for_coordinators_and_can_be_repeated(h: Harness) -> None:
    await h.join(ANNA, "solvik")
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    refused = await h.send(ANNA, "/paminn")
    assert texts(refused) == ["Det kommandot är för säkerhetssamordnare."]
    assert await h.services.db.outbox_pending() == 0

    calls = await h.send(KARIN, "/paminn")
    assert "till alla i Solviks kommun (fiktiv) (mottagare: 2)" in texts(calls)[0]
    await h.services.outbox.send_due(h.app.bot)
    h.clock.advance(timedelta(minutes=5))
    await h.send(KARIN, "/remind")
    await h.services.outbox.send_due(h.app.bot)
    assert len(with_text(h.transport, ANNA, DIGEST_SV)) == 2
    assert len(with_text(h.transport, KARIN, DIGEST_SV)) == 2

    h.clock.moment = at(2026, 11, 24, 22, 30)  # quiet hours: it waits until the morning
    quiet = await h.send(KARIN, "/paminn")
    assert "tysta timmar" in texts(quiet)[0] and "2026-11-25 08:00" in texts(quiet)[0]
    await h.services.outbox.send_due(h.app.bot)
    assert len(with_text(h.transport, ANNA, DIGEST_SV)) == 2
    h.clock.moment = at(2026, 11, 25, 8, 0)
    await h.services.outbox.send_due(h.app.bot)
    assert len(with_text(h.transport, ANNA, DIGEST_SV)) == 3


async def test_a_member_who_blocked_the_bot_is_skipped_from_then_on(h: Harness) -> None:
    await h.join(ANNA, "solvik")
    await h.join(BO, "solvik")
    h.transport.block_user(ANNA)
    h.clock.moment = at(2027, 1, 1, 10)
    await tick(h)
    assert await h.services.db.is_blocked(ANNA)
    assert len(with_text(h.transport, BO, DIGEST_SV)) == 1
    h.clock.moment = at(2027, 4, 1, 10)
    assert await tick(h) == 1  # only Bo is queued
    tried = [c for c in h.transport.calls("sendMessage") if c.chat_id == ANNA and c.status == 403]
    assert len(tried) == 1  # Telegram was asked once
    # Pressing the switch shows the chat is open again.
    h.transport.block_user(ANNA, blocked=False)
    await h.press(ANNA, "remind:on")
    assert not await h.services.db.is_blocked(ANNA)


async def test_telegram_429_and_5xx_delay_a_digest_but_each_member_gets_it_once(
    h: Harness,
) -> None:
    members = (ANNA, BO, CECILIA)
    for user in members:
        await h.join(user, "solvik")
    h.transport.fail_next("sendMessage", retry_after=3)
    h.clock.moment = at(2027, 1, 1, 10)
    assert await run_due(h.services) is not None
    stats = await h.services.outbox.send_due(h.app.bot)
    assert (stats.sent, stats.throttled) == (0, True)
    h.clock.advance(timedelta(seconds=3))
    h.transport.fail_next("sendMessage", 502, times=1)
    stats = await h.services.outbox.send_due(h.app.bot)
    assert stats.retried == 1
    h.clock.advance(timedelta(seconds=5))
    await h.services.outbox.send_due(h.app.bot)
    for user in members:
        assert len(with_text(h.transport, user, DIGEST_SV)) == 1, user
    failed = [c.status for c in h.transport.calls("sendMessage") if not c.ok]
    assert sorted(failed) == [429, 502]


async def test_a_crash_before_the_commit_leaves_nothing_and_the_next_pass_does_it(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await h.join(ANNA, "solvik")
    h.clock.moment = at(2027, 1, 1, 10)
    db = h.services.db
    original = db.record_broadcast

    async def crash(*args: object, **kwargs: object) -> int | None:
        raise OSError("the disk went away")

    monkeypatch.setattr(db, "record_broadcast", crash)
    assert (await run_due(h.services)).total == 0
    assert await db.reminders_recorded(["digest:solvik:2027-Q1"]) == set()
    monkeypatch.setattr(db, "record_broadcast", original)
    assert await tick(h) == 1
    assert await db.reminders_recorded(["digest:solvik:2027-Q1"]) == {"digest:solvik:2027-Q1"}


# --- coordinators ------------------------------------------------------------------------------


async def test_review_reminder_waits_for_the_end_of_quiet_hours(h: Harness) -> None:
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    await h.join(ANNA, "solvik")
    edit_routine(h.routines, "solvik", "reviewed: 2026-09-01", "reviewed: 2025-12-25")
    await reload(h)  # due 2026-12-25: thirty days before is 25 November
    h.clock.moment = at(2026, 11, 25, 9, 0)
    edit_routine(h.routines, "solvik", 'quiet_hours: "21:00-08:00"', 'quiet_hours: "08:30-12:00"')
    await reload(h)
    assert await tick(h, "review") == 1
    assert with_text(h.transport, KARIN, "ska ses över senast 2026-12-25") == []  # quiet
    h.clock.moment = at(2026, 11, 25, 12, 0)
    assert await tick(h, "review") == 0
    [review] = with_text(h.transport, KARIN, "ska ses över senast 2026-12-25")
    assert "om 30 dagar" in str(review.params["text"])
    assert with_text(h.transport, ANNA, "ses över") == []  # members are not told
    h.clock.moment = at(2026, 12, 18, 12, 0)
    assert await tick(h, "review") == 1
    h.clock.moment = at(2027, 1, 8, 12, 0)  # two weeks late: one weekly reminder
    assert await tick(h, "review") == 1
    assert with_text(h.transport, KARIN, "för 14 dagar sedan")


async def test_an_unacknowledged_report_is_reminded_then_escalated(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    report = await submit(h, contact_me=False)
    h.clock.advance(timedelta(hours=23))
    assert await tick(h) == 0
    h.clock.advance(timedelta(hours=1))
    assert await tick(h) == 1
    [reminder] = with_text(h.transport, KARIN, f"Rapport {report.ref} är inte kvitterad")
    assert ("Kvittera", f"case:ack.{report.ref}") in buttons([reminder])
    stored = await h.services.db.get_report(report.ref)
    assert stored is not None and stored.reminded_at is not None

    caplog.set_level(logging.WARNING, logger="bot")
    h.clock.advance(timedelta(hours=24))
    # Karin's last reminder (the third, the second passed while "down"); the escalation
    # reaches nobody: nobody is registered for kommundirektor or ksordf.
    assert await tick(h) == 1
    assert "escalate for solvik reaches no one" in caplog.text
    assert "kommundirektor,ksordf" in caplog.text
    stored = await h.services.db.get_report(report.ref)
    assert stored is not None and stored.escalated_at is not None

    await h.join(DIREKTOR, "solvik", "coordinator", "kommundirektor")
    second = await submit(h, contact_me=False, ref="R-DEF567")
    h.clock.advance(timedelta(hours=48))
    assert await tick(h) == 2  # Karin's reminder, the director's escalation
    [escalation] = with_text(h.transport, DIREKTOR, f"Rapport {second.ref} har inte kvitterats")
    assert "eskalering" in str(escalation.params["text"])
    assert await tick(h) == 0
    for text in caplog.messages:
        assert str(KARIN) not in text and report.ref not in text


async def test_a_reporter_who_asked_to_be_contacted_is_followed_up(h: Harness) -> None:
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    report = await submit(h, contact_me=True)
    await h.services.db.acknowledge(report.ref, "sakerhet", h.clock())
    h.clock.advance(timedelta(days=2))
    assert await tick(h) == 1
    [first] = with_text(h.transport, REPORTER, "Hur mår du?")
    html = str(first.params["text"])
    assert f"rapport {report.ref}" in html and "+46 980 31 92 10" in html
    assert buttons([first]) == [("Svara", f"relay:answer.{report.ref}")]
    h.clock.advance(timedelta(days=40))  # both later ones passed while "down": one message
    assert await tick(h, "followup") == 1
    assert len(with_text(h.transport, REPORTER, "Hur mår du?")) == 2

    # The answer button works as under a coordinator's message.
    await h.press(REPORTER, f"relay:answer.{report.ref}")
    await h.send(REPORTER, "Jag behöver prata med någon")
    await h.press(REPORTER, f"relay:send.{report.ref}")  # after seeing it as Karin will
    await h.services.outbox.send_due(h.app.bot)
    assert with_text(h.transport, KARIN, "Jag behöver prata med någon")

    closed = await submit(h, contact_me=True, ref="R-DEF567")  # closed before its follow-up
    await h.services.db.close_report(closed.ref, h.clock())
    h.clock.advance(timedelta(days=3))
    assert await tick(h, "followup") == 0


async def test_gaps_are_told_to_the_owners_coordinators_weekly(h: Harness) -> None:
    await h.join(KARIN, "solvik", "coordinator", "sakerhet")
    h.clock.moment = at(2026, 11, 30, 9, 0)  # the next Monday
    assert await tick(h) == 1
    [gap] = with_text(h.transport, KARIN, "Luckor i rutinen")
    html = str(gap.params["text"])
    assert "Kommundirektör" in html and "--contact kommundirektor" in html
    assert "--contact sakerhet" not in html
    assert await tick(h) == 0
    h.clock.advance(timedelta(days=7))
    assert await tick(h) == 1

    # A file that fails to load for a day is a gap too (the last good version is still served).
    (h.routines / "solvik.yaml").write_text("schema: 1\norganisation: [\n", "utf-8")
    h.services.registry.reload()
    assert h.services.registry.get("solvik") is not None
    h.clock.moment = max(h.clock(), datetime.now(UTC)) + timedelta(days=2)
    assert await tick(h, "gap") == 1
    assert (
        "Rutinfilen solvik.yaml går inte att läsa in sedan" in texts(h.transport.sent_to(KARIN))[-1]
    )


# --- the command line --------------------------------------------------------------------------


async def test_trygg_remind_queues_the_digest_for_the_running_bot(
    tmp_path: Path,
    routines_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = tmp_path / "cli-data"
    monkeypatch.setenv("TRYGG_DATA_DIR", str(data))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TRYGG_FAKE_NOW", raising=False)
    prepared = prepare_data_dir(data)  # the key of the data directory, as the CLI uses
    async with await Database.open(prepared.db_path, Sealer(prepared.secret_key)) as db:
        for user in (ANNA, BO):
            await db.join(user, "solvik", Role.MEMBER, None, OFFICE_HOURS)
        await db.join(BERIT, "region-norrmark", Role.MEMBER, None, OFFICE_HOURS)
    assert await _in_thread(["remind", "--org", "solvik"]) == 0
    out = capsys.readouterr()
    assert out.out.strip() == "queued 2 digest(s) to the members of solvik"
    assert "the running bot sends them" in out.err
    async with await Database.open(prepare_data_dir(data).db_path) as db:
        assert await db.outbox_pending() == 2
    assert await _in_thread(["remind", "--org", "nowhere"]) == 2
    assert "no organisation 'nowhere'" in capsys.readouterr().err


async def _in_thread(argv: list[str]) -> int:
    """`main` runs its own event loop, so it cannot run inside the test's."""
    import asyncio

    return await asyncio.to_thread(main, argv)


def test_dates_in_this_file_are_what_they_claim() -> None:
    assert at(2027, 1, 1, 9).astimezone(STOCKHOLM).date() == date(2027, 1, 1)
