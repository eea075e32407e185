"""Where a routine leaves officials alone: uncovered hours, review, registration, reachability.

Most cases use tests/fixtures/health/luckby.yaml, a routine with gaps on purpose: office hours
only, a day-evening-night after_hours chain, a contact that is always reachable, windows past
midnight, a contact without phone or e-mail, and an after-hours hand-over to a national contact.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.health.gaps import (
    DayRange,
    OrgHealth,
    complement,
    counts,
    day_ranges,
    format_range,
    health_report,
    hour_grid,
    intersect,
    merge,
    organisation_today,
    to_json,
    uncovered_week,
)
from bot.health.heatmap import heatmap_size, render_heatmap
from bot.health.report import describe_ranges, format_hours, render_report
from bot.routines.answer import reachability
from bot.routines.hours import MINUTES_PER_WEEK, is_open, parse_hours
from bot.routines.loader import load_national, load_routine
from bot.routines.models import Duration, Routine, Situation

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "health" / "luckby.yaml"
STOCKHOLM = ZoneInfo("Europe/Stockholm")

DAY = 1440
MON, TUE, WED, THU, FRI, SAT, SUN = (d * DAY for d in range(7))


def h(hours: float) -> int:
    return int(hours * 60)


@pytest.fixture(scope="module")
def luckby() -> Routine:
    return load_routine(FIXTURE, load_national(REPO / "routines" / "_national.yaml"))


def situation(routine: Routine, situation_id: str) -> Situation:
    found = routine.situation(situation_id)
    assert found is not None
    return found


def with_hours(routine: Routine, contact_id: str, lines: list[str]) -> Routine:
    contacts = dict(routine.contacts)
    contacts[contact_id] = replace(contacts[contact_id], hours=parse_hours(lines))
    return replace(routine, contacts=contacts)


# --- uncovered hours ---------------------------------------------------------------------------


def test_office_hours_only_leaves_nights_and_the_weekend_uncovered(luckby: Routine) -> None:
    uncovered = uncovered_week(luckby, situation(luckby, "kontorstid"))
    expected = [(0, h(8))]
    for day in (MON, TUE, WED, THU):
        expected.append((day + h(16), day + DAY + h(8)))
    expected.append((FRI + h(16), MINUTES_PER_WEEK))
    assert uncovered == expected
    assert [format_range(r) for r in day_ranges(uncovered)][:3] == [
        "mon 00:00-08:00",
        "mon 16:00-24:00",
        "tue 00:00-08:00",
    ]
    assert [format_range(r) for r in day_ranges(uncovered)][-2:] == [
        "sat 00:00-24:00",
        "sun 00:00-24:00",
    ]


def test_after_hours_chains_are_followed_until_someone_answers(luckby: Routine) -> None:
    # dag 08-16 -> kvall 16-22 -> natt fri,sat 22-02 (e-mail only, which counts)
    ranges = [
        format_range(r) for r in day_ranges(uncovered_week(luckby, situation(luckby, "kedja")))
    ]
    assert ranges == [
        "mon 00:00-08:00",
        "mon 22:00-24:00",
        "tue 00:00-08:00",
        "tue 22:00-24:00",
        "wed 00:00-08:00",
        "wed 22:00-24:00",
        "thu 00:00-08:00",
        "thu 22:00-24:00",
        "fri 00:00-08:00",
        "sat 02:00-22:00",
        "sun 02:00-24:00",
    ]


def test_a_contact_that_is_always_reachable_covers_the_whole_week(luckby: Routine) -> None:
    assert uncovered_week(luckby, situation(luckby, "akut")) == []


def test_national_contacts_and_contacts_without_phone_or_email_do_not_count(
    luckby: Routine,
) -> None:
    # "tyst" is always open but has no phone or e-mail: the chain stops there, helping no one.
    assert uncovered_week(luckby, situation(luckby, "tyst")) == [(0, MINUTES_PER_WEEK)]
    assert not counts(luckby.contact("tyst"))
    assert not counts(luckby.contact("national.112"))
    assert counts(luckby.contact("natt"))  # e-mail only is enough
    # "vard" hands over to national.1177 after hours: same gaps as office hours only.
    assert uncovered_week(luckby, situation(luckby, "nationell")) == uncovered_week(
        luckby, situation(luckby, "kontorstid")
    )


def test_ranges_past_midnight_continue_on_the_next_day_and_over_sunday(luckby: Routine) -> None:
    # A Sunday night window continues on Monday morning: the week wraps.
    routine = with_hours(luckby, "kontor", ["sun 22:00-02:00"])
    uncovered = uncovered_week(routine, situation(routine, "kontorstid"))
    assert uncovered == [(h(2), SUN + h(22))]
    ranges = [format_range(r) for r in day_ranges(uncovered)]
    assert ranges[0] == "mon 02:00-24:00"
    assert ranges[-1] == "sun 00:00-22:00"
    # Friday night into Saturday, as in the chain's night contact.
    routine = with_hours(luckby, "kontor", ["fri 20:00-03:30"])
    uncovered = uncovered_week(routine, situation(routine, "kontorstid"))
    assert uncovered == [(0, FRI + h(20)), (SAT + h(3.5), MINUTES_PER_WEEK)]


def test_ranges_are_merged_within_a_day_and_cut_at_midnight() -> None:
    assert day_ranges([(h(1), h(2)), (h(2), h(3)), (DAY - 60, DAY + 60)]) == [
        DayRange(0, h(1), h(3)),
        DayRange(0, DAY - 60, DAY),
        DayRange(1, 0, 60),
    ]
    assert format_range(DayRange(6, h(16.5), DAY)) == "sun 16:30-24:00"


def test_interval_arithmetic() -> None:
    assert merge([(5, 10), (0, 5), (20, 30), (25, 26), (40, 40)]) == [(0, 10), (20, 30)]
    assert complement([(0, 10), (20, 30)]) == [(10, 20), (30, MINUTES_PER_WEEK)]
    assert complement([]) == [(0, MINUTES_PER_WEEK)]
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == [(5, 10), (20, 25)]


def test_hour_grid_shows_the_share_of_each_hour() -> None:
    grid = hour_grid([(h(16.5), h(18)), (SUN + h(23), MINUTES_PER_WEEK)])
    assert grid[0][16] == 0.5 and grid[0][17] == 1.0 and grid[0][18] == 0.0
    assert grid[6][23] == 1.0
    assert sum(map(sum, grid)) == 2.5


def test_a_week_across_the_october_dst_change_has_the_same_local_coverage(
    luckby: Routine,
) -> None:
    """Weekly windows are wall-clock times, so the change of 25 October 2026 moves nothing.

    Walk the real week from Wednesday 21 to Wednesday 28 October (169 hours, as the clock goes
    back at 03:00 on Sunday) in UTC, ask the bot's own `is_open` at every half hour, and compare
    with the ordinary week computed once: every moment agrees. The hour 02:00-03:00 on Sunday
    happens twice and is uncovered both times, so that week has one real hour more without a
    contact than the ordinary week's wall-clock count.
    """
    kedja = situation(luckby, "kedja")
    uncovered = uncovered_week(luckby, kedja)

    def is_uncovered(minute: int) -> bool:
        return any(start <= minute < end for start, end in uncovered)

    def covered_at(at: datetime) -> bool:
        ref: str | None = "dag"
        while ref is not None and not ref.startswith("national."):
            contact = luckby.contact(ref)
            if is_open(contact.hours, at, "Europe/Stockholm"):
                return counts(contact)
            ref = contact.after_hours
        return False

    begin = datetime(2026, 10, 21, tzinfo=STOCKHOLM).astimezone(UTC)
    end = datetime(2026, 10, 28, tzinfo=STOCKHOLM).astimezone(UTC)
    assert end - begin == timedelta(hours=169)
    uncovered_real = 0
    at = begin
    while at < end:
        local = at.astimezone(STOCKHOLM)
        minute = local.weekday() * DAY + local.hour * 60 + local.minute
        assert covered_at(at) is not is_uncovered(minute), local
        uncovered_real += 30 if is_uncovered(minute) else 0
        at += timedelta(minutes=30)
    assert uncovered_real == sum(e - s for s, e in uncovered) + 60

    # The answer itself agrees on both readings of the repeated hour.
    for fold in (0, 1):
        moment = datetime(2026, 10, 25, 2, 30, tzinfo=STOCKHOLM, fold=fold)
        reach = reachability(luckby, "dag", moment)
        assert reach is not None and not reach.open_now
        assert all(not r.open_now for r in reach.instead)


# --- the report --------------------------------------------------------------------------------


def test_review_is_due_and_overdue_from_the_due_date_on(luckby: Routine) -> None:
    # reviewed 2025-11-30, every 12 months
    before = health_report(luckby, set(), date(2026, 11, 29))
    assert (before.review_due, before.review_overdue) == (date(2026, 11, 30), False)
    assert health_report(luckby, set(), date(2026, 11, 30)).review_overdue
    assert health_report(luckby, set(), date(2027, 1, 1)).review_overdue
    half_year = replace(
        luckby,
        organisation=replace(
            luckby.organisation, reviewed=date(2026, 8, 31), review_every=Duration(6, "mo")
        ),
    )
    report = health_report(half_year, set(), date(2027, 2, 27))
    assert (report.review_due, report.review_overdue) == (date(2027, 2, 28), False)


def test_today_is_the_organisations_date(luckby: Routine) -> None:
    # 23:30 UTC on 29 November is already 30 November in Stockholm: the review is due.
    now = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)
    assert organisation_today(luckby, now) == date(2026, 11, 30)


def test_unregistered_receivers_and_owner_before_and_after_a_coordinator_joins(
    luckby: Routine,
) -> None:
    assert health_report(luckby, set(), date(2026, 1, 1)).unregistered == (
        "kontor",
        "jour",
        "agare",
    )
    after = health_report(luckby, {"kontor", "jour"}, date(2026, 1, 1))
    assert after.unregistered == ("agare",)
    assert health_report(luckby, {"kontor", "jour", "agare"}, date(2026, 1, 1)).unregistered == ()


def test_owner_who_receives_reports_is_listed_once(luckby: Routine) -> None:
    routine = replace(luckby, organisation=replace(luckby.organisation, owner="kontor"))
    assert health_report(routine, set(), date(2026, 1, 1)).unregistered == ("kontor", "jour")


def test_contacts_without_phone_or_email_are_listed(luckby: Routine) -> None:
    assert health_report(luckby, set(), date(2026, 1, 1)).unreachable == ("tyst",)


def test_json_has_exactly_the_specified_shape(luckby: Routine) -> None:
    report = health_report(luckby, {"kontor"}, date(2026, 12, 1))
    data = to_json([report])
    assert list(data) == ["organisations"]
    [org] = data["organisations"]
    assert list(org) == ["id", "situations", "review", "unregistered", "unreachable"]
    assert org["id"] == "luckby"
    assert list(org["situations"]) == ["akut", "kontorstid", "kedja", "tyst", "nationell"]
    assert org["situations"]["akut"] == {"uncovered": []}
    assert org["situations"]["tyst"]["uncovered"][0] == "mon 00:00-24:00"
    assert org["review"] == {"due": "2026-11-30", "overdue": True}
    assert org["unregistered"] == ["jour", "agare"]
    assert org["unreachable"] == ["tyst"]


def test_the_report_in_words(luckby: Routine) -> None:
    report = health_report(luckby, set(), date(2026, 1, 1))
    sv = render_report(report, luckby, "sv", markup=False)
    assert "Luckby kommun (test) – rutinens hälsa" in sv
    assert "• Övriga situationer (1): alltid någon att nå" in sv and "Akut fara" not in sv
    assert (
        "• Bara kontorstid: 128 h i veckan utan kontakt – "
        "mån–fre 00:00–08:00; mån–fre 16:00–24:00; lör–sön 00:00–24:00"
    ) in sv
    assert "• Bara partiet: 168 h i veckan utan kontakt – hela veckan" in sv
    assert "Granskning: nästa senast 2026-11-30." in sv
    assert "Säkerhetssamordnare (kontor)" in sv and "Ditt parti (tyst)" in sv
    assert "<b>" not in sv
    en = render_report(report, luckby, "en", markup=True)
    assert en.startswith("<b>Luckby kommun (test) – procedure health</b>")
    assert "Mon–Thu 22:00–24:00" in en
    assert format_hours(90, "sv") == "1,5" and format_hours(90, "en") == "1.5"


def test_describe_ranges_groups_days(luckby: Routine) -> None:
    report = health_report(luckby, set(), date(2026, 1, 1))
    kedja = next(s for s in report.situations if s.id == "kedja")
    assert describe_ranges(kedja, "sv") == (
        "mån–fre 00:00–08:00; mån–tors 22:00–24:00; lör 02:00–22:00; sön 02:00–24:00"
    )


def test_the_heatmap_is_a_png_of_the_stated_size(luckby: Routine) -> None:
    from PIL import Image

    report: OrgHealth = health_report(luckby, set(), date(2026, 1, 1))
    png = render_heatmap(report, "sv")
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    assert image.size == heatmap_size(len(report.situations)) == (1800, 840)
    image.verify()
    assert heatmap_size(13) == (1800, 1740)
    assert heatmap_size(1) == (1800, 540)
