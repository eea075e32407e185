"""What falls due when: every kind of reminder, its period key, daylight saving and quiet hours.

Pure: a routine, a moment, and the answer. Times are written as Stockholm wall-clock times
(`at(...)`) and checked as UTC instants, so a daylight-saving mistake shows up as an hour.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest

from bot.reminders.schedule import (
    FILE_GRACE,
    GAP_FILE,
    Due,
    ack_due,
    ack_moments,
    collect_due,
    digest_due,
    event_moment,
    events_due,
    followup_due,
    gaps_due,
    local_moment,
    quiet_until,
    review_due,
)
from bot.reports.model import Report, State
from bot.routines.loader import load_national, load_routine
from bot.routines.models import Duration, Event, Organisation, Reminders, Routine, Text
from tests.conftest import ROUTINES

STOCKHOLM = ZoneInfo("Europe/Stockholm")
DAY = Duration(24, "h")
FOLLOWUPS = (Duration(2, "d"), Duration(14, "d"))
SPRING = date(2026, 3, 29)  # 02:00 CET -> 03:00 CEST
AUTUMN = date(2026, 10, 25)  # 03:00 CEST -> 02:00 CET


def at(year: int, month: int, day: int, hour: int = 0, minute: int = 0, fold: int = 0) -> datetime:
    """A Stockholm wall-clock time as a UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=STOCKHOLM, fold=fold).astimezone(UTC)


@cache
def solvik() -> Routine:
    national = load_national(ROUTINES / "_national.yaml")
    return load_routine(ROUTINES / "solvik.yaml", national)


def routine(
    members: str = "quarterly",
    *,
    reviewed: date | None = None,
    events: tuple[Event, ...] = (),
    quiet: tuple[time, time] = (time(21), time(8)),
    ack_within: Duration = DAY,
    escalate_to: tuple[str, ...] = ("kommundirektor",),
    followup: tuple[Duration, ...] = FOLLOWUPS,
) -> Routine:
    base = solvik()
    org: Organisation = base.organisation
    if reviewed is not None:
        org = replace(org, reviewed=reviewed)
    reminders = Reminders(
        members=members,
        ack_within=ack_within,
        escalate_to=escalate_to,
        followup=followup,
        quiet_start=quiet[0],
        quiet_end=quiet[1],
        events=events,
    )
    return replace(base, organisation=org, reminders=reminders)


def report(
    created: datetime,
    *,
    state: State = State.NEW,
    contact_me: bool = True,
    reminded: datetime | None = None,
    escalated: datetime | None = None,
) -> Report:
    return Report(
        id=7,
        ref="R-ABC234",
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
        state=state,
        created_at=created,
        reminded_at=reminded,
        escalated_at=escalated,
    )


def keys(found: list[Due]) -> list[str]:
    return [d.key for d in found]


# --- digests -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "now", "key", "began"),
    [
        ("quarterly", at(2026, 11, 24, 10), "digest:solvik:2026-Q4", at(2026, 10, 1, 9)),
        ("quarterly", at(2026, 10, 1, 8, 59), "digest:solvik:2026-Q3", at(2026, 7, 1, 9)),
        ("quarterly", at(2026, 10, 1, 9), "digest:solvik:2026-Q4", at(2026, 10, 1, 9)),
        ("quarterly", at(2027, 1, 1, 8), "digest:solvik:2026-Q4", at(2026, 10, 1, 9)),
        ("monthly", at(2026, 11, 24, 10), "digest:solvik:2026-11", at(2026, 11, 1, 9)),
        ("monthly", at(2026, 11, 1, 8), "digest:solvik:2026-10", at(2026, 10, 1, 9)),
        ("weekly", at(2026, 11, 24, 10), "digest:solvik:2026-W48", at(2026, 11, 23, 9)),
        ("weekly", at(2026, 11, 23, 8), "digest:solvik:2026-W47", at(2026, 11, 16, 9)),
        ("weekly", at(2027, 1, 4, 9), "digest:solvik:2027-W01", at(2027, 1, 4, 9)),
        ("0 9 1 */3 *", at(2026, 11, 24, 10), "digest:solvik:2026-10-01T09:00", at(2026, 10, 1, 9)),
        ("30 18 * * 2", at(2026, 11, 24, 18, 30), "digest:solvik:2026-11-24T18:30", None),
    ],
)
def test_digest_periods(schedule: str, now: datetime, key: str, began: datetime | None) -> None:
    due = digest_due(routine(schedule), now)
    assert due is not None
    assert due.key == key
    assert due.at == (began if began is not None else now)
    assert due.at <= now


def test_never_sends_no_digest() -> None:
    assert digest_due(routine("never"), at(2026, 11, 24, 10)) is None


def test_a_weekly_digest_keeps_nine_oclock_across_both_daylight_saving_changes() -> None:
    spring = digest_due(routine("weekly"), at(2026, 3, 30, 12))
    autumn = digest_due(routine("weekly"), at(2026, 10, 26, 12))
    assert spring is not None and autumn is not None
    assert spring.at == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)  # 09:00 CEST
    assert autumn.at == datetime(2026, 10, 26, 8, 0, tzinfo=UTC)  # 09:00 CET


@pytest.mark.parametrize("day", [SPRING, AUTUMN])
def test_a_daily_cron_fires_once_a_day_at_nine_over_a_change(day: date) -> None:
    daily = routine("0 9 * * *")
    seen: dict[str, datetime] = {}
    moment = datetime.combine(day - timedelta(days=1), time(), UTC)
    while moment < datetime.combine(day + timedelta(days=2), time(), UTC):
        due = digest_due(daily, moment)
        assert due is not None
        seen.setdefault(due.key, due.at)
        moment += timedelta(minutes=10)
    for key, began in seen.items():
        assert began.astimezone(STOCKHOLM).time() == time(9), key
    assert f"digest:solvik:{day.isoformat()}T09:00" in seen
    assert len(seen) == 4  # the day before the first moment, and three days at nine


def test_a_cron_time_skipped_in_spring_goes_out_once_after_the_jump() -> None:
    night = routine("30 2 * * *")
    assert local_moment(datetime(2026, 3, 29, 2, 30), "Europe/Stockholm") == at(2026, 3, 29, 3, 30)
    before = digest_due(night, at(2026, 3, 29, 3, 10))
    assert before is not None and before.key == "digest:solvik:2026-03-28T02:30"
    after = digest_due(night, at(2026, 3, 29, 3, 30))
    assert after is not None and after.key == "digest:solvik:2026-03-29T02:30"


def test_a_cron_time_repeated_in_autumn_counts_once() -> None:
    night = routine("30 2 * * *")
    first = digest_due(night, at(2026, 10, 25, 2, 45, fold=0))
    second = digest_due(night, at(2026, 10, 25, 2, 45, fold=1))  # the same wall time, an hour on
    assert first is not None and second is not None
    assert first.key == second.key == "digest:solvik:2026-10-25T02:30"
    assert first.at == second.at == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


def test_downtime_over_many_periods_gives_one_digest_the_latest() -> None:
    weekly = routine("weekly")
    sent: set[str] = set()
    last_run = at(2026, 9, 1, 12)
    for now in (last_run, at(2026, 11, 24, 10)):  # down from September to late November
        due = digest_due(weekly, now)
        assert due is not None
        sent.add(due.key)
    assert sent == {"digest:solvik:2026-W36", "digest:solvik:2026-W48"}


# --- events ------------------------------------------------------------------------------------


def test_an_event_is_due_before_its_day_and_until_it_ends() -> None:
    election = Event(date(2026, 9, 13), Duration(7, "d"), Text({"sv": "Valet"}, "sv"))
    same_day = Event(date(2026, 9, 13), Duration(1, "d"), Text({"sv": "I morgon"}, "sv"))
    monthly = Event(date(2026, 12, 31), Duration(1, "mo"), Text({"sv": "Nyår"}, "sv"))
    evening = Event(date(2026, 9, 13), Duration(12, "h"), Text({"sv": "Kväll"}, "sv"))
    r = routine(events=(election, same_day, monthly, evening))
    assert event_moment(election, "Europe/Stockholm") == at(2026, 9, 6, 9)
    assert event_moment(monthly, "Europe/Stockholm") == at(2026, 11, 30, 9)
    assert event_moment(evening, "Europe/Stockholm") == at(2026, 9, 12, 21)
    assert events_due(r, at(2026, 9, 6, 8, 59)) == []
    assert keys(events_due(r, at(2026, 9, 6, 9))) == ["event:solvik:2026-09-13"]
    assert keys(events_due(r, at(2026, 9, 13, 23, 59))) == [
        "event:solvik:2026-09-13",
        "event:solvik:2026-09-13#2",
        "event:solvik:2026-09-13#3",
    ]
    assert events_due(r, at(2026, 9, 14, 0, 0)) == []  # the day is over: too late
    assert keys(events_due(r, at(2026, 12, 1, 9))) == ["event:solvik:2026-12-31"]


# --- review ------------------------------------------------------------------------------------


def test_review_thirty_and_seven_days_before_on_the_day_and_weekly_after() -> None:
    r = routine(reviewed=date(2026, 9, 1))  # 12mo: due 2027-09-01, a Wednesday
    assert review_due(r, at(2027, 8, 2, 8, 59)) is None
    expected = [
        (at(2027, 8, 2, 9), "review:solvik:2027-09-01:-30d", "-30d"),
        (at(2027, 8, 25, 8), "review:solvik:2027-09-01:-30d", "-30d"),
        (at(2027, 8, 25, 9), "review:solvik:2027-09-01:-7d", "-7d"),
        (at(2027, 9, 1, 9), "review:solvik:2027-09-01:0d", "0d"),
        (at(2027, 9, 8, 8), "review:solvik:2027-09-01:0d", "0d"),
        (at(2027, 9, 8, 9), "review-weekly:solvik:2027-W36", "weekly"),
        (at(2027, 10, 6, 9), "review-weekly:solvik:2027-W40", "weekly"),
        (at(2027, 10, 12, 23), "review-weekly:solvik:2027-W40", "weekly"),
    ]
    for now, key, detail in expected:
        due = review_due(r, now)
        assert due is not None and (due.key, due.detail) == (key, detail), now


def test_review_weekly_reminders_keep_nine_oclock_over_the_autumn_change() -> None:
    r = routine(reviewed=date(2025, 10, 18))  # due 2026-10-18; weekly from 25 Oct
    due = review_due(r, at(2026, 10, 25, 12))
    assert due is not None and due.at == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)


# --- reports -----------------------------------------------------------------------------------


def test_an_unacknowledged_report_is_reminded_repeatedly_then_escalated_once() -> None:
    r = routine(ack_within=Duration(4, "h"))  # ack_repeat 3: every 80 minutes
    came = at(2026, 11, 24, 10)
    assert ack_due(r, report(came), came + timedelta(hours=3, minutes=59)) == []
    assert keys(ack_due(r, report(came), came + timedelta(hours=4))) == ["ack:R-ABC234:1"]
    second = came + timedelta(hours=5, minutes=20)
    assert keys(ack_due(r, report(came), second)) == ["ack:R-ABC234:2"]
    third = ack_due(r, report(came), came + timedelta(hours=7))
    assert keys(third) == ["ack:R-ABC234:3"] and third[0].detail == "3"
    both = ack_due(r, report(came), came + timedelta(hours=8))  # the cap, then escalation
    assert keys(both) == ["ack:R-ABC234:3", "escalate:R-ABC234"]
    assert keys(ack_due(r, report(came), came + timedelta(days=9))) == [
        "ack:R-ABC234:3",
        "escalate:R-ABC234",
    ]  # never a fourth: the job drops keys it recorded
    done = report(came, reminded=came, escalated=came)
    assert keys(ack_due(r, done, came + timedelta(days=9))) == ["ack:R-ABC234:3"]
    assert ack_due(r, report(came, state=State.ACKNOWLEDGED), came + timedelta(days=9)) == []
    nobody = routine(ack_within=Duration(4, "h"), escalate_to=())
    assert keys(ack_due(nobody, report(came), came + timedelta(days=1))) == ["ack:R-ABC234:3"]


def test_ack_repeat_and_ack_every_set_the_rhythm() -> None:
    base = routine(ack_within=Duration(2, "h"))
    came = at(2026, 11, 24, 10)
    r = replace(base, reminders=replace(base.reminders, ack_repeat=2, ack_every=Duration(30, "m")))
    reminded, escalate_at = ack_moments(r.reminders, came)
    assert reminded == [came + timedelta(hours=2), came + timedelta(hours=2, minutes=30)]
    assert escalate_at == came + timedelta(hours=3)
    one = replace(base, reminders=replace(base.reminders, ack_repeat=1))
    # One reminder, as before reminders repeated: the escalation twice ack_within after.
    two_hours, four_hours = came + timedelta(hours=2), came + timedelta(hours=4)
    assert ack_moments(one.reminders, came) == ([two_hours], four_hours)


def test_follow_ups_with_the_reporter_latest_only_while_open() -> None:
    r = routine()
    came = at(2026, 11, 24, 10)
    assert followup_due(r, report(came), came + timedelta(days=1)) is None
    two = followup_due(r, report(came), came + timedelta(days=2))
    assert two is not None and (two.key, two.detail) == ("followup:R-ABC234:2d", "2d")
    late = followup_due(r, report(came), came + timedelta(days=40))  # down: only the last
    assert late is not None and late.key == "followup:R-ABC234:14d"
    assert followup_due(r, report(came, contact_me=False), came + timedelta(days=3)) is None
    closed = report(came, state=State.CLOSED)
    assert followup_due(r, closed, came + timedelta(days=3)) is None


# --- gaps --------------------------------------------------------------------------------------


def test_gaps_weekly_on_monday_and_a_failing_file_after_a_day() -> None:
    now = at(2026, 11, 25, 12)  # a Wednesday
    found = gaps_due("solvik", "Europe/Stockholm", now, ["sakerhet", "kommundirektor"])
    assert keys(found) == ["gap:solvik:sakerhet:2026-W48", "gap:solvik:kommundirektor:2026-W48"]
    assert {d.at for d in found} == {at(2026, 11, 23, 9)}
    fresh = gaps_due("solvik", "Europe/Stockholm", now, [], now - timedelta(hours=2))
    assert fresh == []  # someone may be editing it right now
    broken = gaps_due("solvik", "Europe/Stockholm", now, [], now - FILE_GRACE)
    assert [(d.key, d.detail) for d in broken] == [("gap-file:solvik:2026-W48", GAP_FILE)]
    monday_early = gaps_due("solvik", "Europe/Stockholm", at(2026, 11, 30, 8), ["sakerhet"])
    assert keys(monday_early) == ["gap:solvik:sakerhet:2026-W48"]


def test_collect_due_gathers_every_kind() -> None:
    r = routine("weekly", reviewed=date(2025, 11, 1))
    now = at(2026, 11, 25, 12)
    came = now - timedelta(days=3)
    found = collect_due(r, now, reports=[report(came)], unregistered=["kommundirektor"])
    assert sorted(d.kind for d in found) == [
        "ack",
        "digest",
        "escalate",
        "followup",
        "gap",
        "review",
    ]


# --- quiet hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("quiet", "now", "until"),
    [
        ((time(21), time(8)), at(2026, 11, 24, 20, 59), None),
        ((time(21), time(8)), at(2026, 11, 24, 21), at(2026, 11, 25, 8)),
        ((time(21), time(8)), at(2026, 11, 24, 23, 30), at(2026, 11, 25, 8)),
        ((time(21), time(8)), at(2026, 11, 25, 3), at(2026, 11, 25, 8)),
        ((time(21), time(8)), at(2026, 11, 25, 8), None),
        ((time(12), time(13)), at(2026, 11, 25, 12, 30), at(2026, 11, 25, 13)),
        ((time(12), time(13)), at(2026, 11, 25, 13, 30), None),
        # The spring-forward night is an hour shorter: 9 wall-clock hours, 8 real ones.
        ((time(21), time(8)), at(2026, 3, 28, 23), at(2026, 3, 29, 8)),
        ((time(21), time(8)), at(2026, 10, 24, 23), at(2026, 10, 25, 8)),
    ],
)
def test_quiet_hours_hold_reminders_until_their_end(
    quiet: tuple[time, time], now: datetime, until: datetime | None
) -> None:
    assert quiet_until(routine(quiet=quiet).reminders, "Europe/Stockholm", now) == until


def test_the_short_spring_night_ends_at_eight_local() -> None:
    until = quiet_until(routine().reminders, "Europe/Stockholm", at(2026, 3, 28, 22))
    assert until == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)  # 08:00 CEST
    assert until - at(2026, 3, 28, 22) == timedelta(hours=9)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        digest_due(routine(), datetime(2026, 11, 24, 10))
