"""Opening hours: parsing, open/closed across DST and holidays, next opening, descriptions."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.routines.hours import (
    HoursError,
    closed_days,
    describe,
    in_quiet_hours,
    is_holiday,
    is_open,
    next_opening,
    open_minutes_of_week,
    parse_hours,
)
from bot.routines.models import Window

SE = "Europe/Stockholm"
STOCKHOLM = ZoneInfo(SE)
OFFICE = ["mon-fri 08:00-16:30"]
WEEKDAYS = frozenset(range(5))


def local(
    year: int, month: int, day: int, hour: int, minute: int, second: int = 0, *, fold: int = 0
) -> datetime:
    """An aware moment on the Stockholm wall clock."""
    return datetime(year, month, day, hour, minute, second, tzinfo=STOCKHOLM, fold=fold)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def windows(lines: list[str]) -> tuple[Window, ...]:
    """Parsed hours that are known not to be `always`."""
    hours = parse_hours(lines)
    assert hours is not None
    return hours


def open_at(lines: list[str], at: datetime, timezone: str = SE) -> bool:
    return is_open(parse_hours(lines), at, timezone)


# --- parsing: valid forms --------------------------------------------------------------------


def test_parse_range() -> None:
    assert parse_hours(OFFICE) == (Window(WEEKDAYS, 8 * 60, 16 * 60 + 30),)


def test_parse_single_day_list_and_list_with_ranges() -> None:
    assert parse_hours(["sat 10:00-14:00"]) == (Window(frozenset({5}), 600, 840),)
    assert parse_hours(["mon,wed,fri 09:00-12:00"]) == (Window(frozenset({0, 2, 4}), 540, 720),)
    assert parse_hours(["mon-tue,thu,sat-sun 09:00-12:00"]) == (
        Window(frozenset({0, 1, 3, 5, 6}), 540, 720),
    )


def test_parse_wrapping_day_range() -> None:
    (window,) = windows(["fri-mon 10:00-12:00"])
    assert window.days == frozenset({4, 5, 6, 0})
    (window,) = windows(["tue-mon 10:00-12:00"])
    assert window.days == frozenset(range(7))


def test_parse_is_case_insensitive_and_tolerates_spaces_and_dashes() -> None:
    expected = parse_hours(["mon-fri 08:00-16:30", "sat,sun 10:00-14:00"])
    assert parse_hours(["  MON - Fri   08:00 - 16:30 ", "Sat , SUN 10:00-14:00"]) == expected
    # En dashes copied from a word processor look the same as hyphens to the person typing.
    assert parse_hours(["mon–fri 08:00–16:30", "sat,sun 10:00-14:00"]) == expected
    # A single-digit hour and a stray comma before the times are harmless.
    assert parse_hours(["mon-fri 8:00-16:30", "sat,sun, 10:00-14:00"]) == expected


def test_parse_past_midnight_and_24_00() -> None:
    (night,) = windows(["fri 22:00-02:00"])
    assert (night.start, night.end, night.passes_midnight) == (1320, 120, True)
    (whole,) = windows(["mon-sun 00:00-24:00"])
    assert (whole.start, whole.end, whole.passes_midnight) == (0, 1440, False)
    (evening,) = windows(["mon 18:00-24:00"])
    assert evening.end == 1440


@pytest.mark.parametrize("lines", [["always"], ["  ALWAYS "]])
def test_parse_always(lines: list[str]) -> None:
    assert parse_hours(lines) is None


def test_parse_accepts_a_single_string() -> None:
    # `hours: always` in YAML is a string, not a list; it means the same as `[always]`.
    assert parse_hours("always") is None  # type: ignore[arg-type]
    assert parse_hours("mon-fri 08:00-16:30") == parse_hours(OFFICE)  # type: ignore[arg-type]


def test_parse_several_lines_keep_their_order() -> None:
    hours = parse_hours(["mon-thu 08:00-16:30", "fri 08:00-15:00"])
    assert hours == (
        Window(frozenset({0, 1, 2, 3}), 480, 990),
        Window(frozenset({4}), 480, 900),
    )


# --- parsing: errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", 'an empty line; write e.g. "mon-fri 08:00-16:30"'),
        ("mon-fri", '"mon-fri": the times are missing; write e.g. "mon-fri 08:00-16:30"'),
        ("08:00-16:30", '"08:00-16:30": the days are missing; write e.g. "mon-fri 08:00-16:30"'),
        (
            "mon-fry 08:00-16:30",
            '"mon-fry 08:00-16:30": "fry" is not a day; use mon, tue, wed, thu, fri, sat or sun,'
            ' e.g. "mon-fri 08:00-16:30"',
        ),
        (
            "mån-fre 08:00-16:30",
            '"mån-fre 08:00-16:30": "mån" is not a day; write "mon"'
            " (days are mon, tue, wed, thu, fri, sat or sun)",
        ),
        (
            "monday 08:00-16:30",
            '"monday 08:00-16:30": "monday" is not a day; write "mon"'
            " (days are mon, tue, wed, thu, fri, sat or sun)",
        ),
        (
            "weekdays 08:00-16:30",
            '"weekdays 08:00-16:30": "weekdays" is not a day; write "mon-fri"'
            " (days are mon, tue, wed, thu, fri, sat or sun)",
        ),
        (
            "alla dagar 08:00-16:30",
            '"alla dagar 08:00-16:30": "alla dagar" is not a day; write "mon-sun"'
            " (days are mon, tue, wed, thu, fri, sat or sun)",
        ),
        (
            "mon wed 08:00-12:00",
            '"mon wed 08:00-12:00": separate days with a comma, e.g. "mon,wed",'
            ' or give a range such as "mon-fri"',
        ),
        (
            "mon,,wed 08:00-12:00",
            '"mon,,wed 08:00-12:00": the day list "mon,,wed" has an empty item;'
            ' write e.g. "mon,wed,fri 08:00-12:00"',
        ),
        (
            "mon-wed-fri 08:00-12:00",
            '"mon-wed-fri 08:00-12:00": "mon-wed-fri" is not a day range;'
            ' write a range as first-last, e.g. "mon-fri"',
        ),
        (
            "mon-fri 08.00-16.30",
            '"mon-fri 08.00-16.30": write times with a colon: "08:00" instead of "08.00"',
        ),
        (
            "mon-fri 8-16",
            '"mon-fri 8-16": "8" is not a time; write times as HH:MM, e.g. "08:00-16:30"',
        ),
        (
            "mon-fri 08:00 16:30",
            '"mon-fri 08:00 16:30": write the times as start-end with a dash, e.g. "08:00-16:30"',
        ),
        (
            "mon-fri 08:00-",
            '"mon-fri 08:00-": write the times as start-end with a dash, e.g. "08:00-16:30"',
        ),
        (
            "mon 25:00-26:00",
            '"mon 25:00-26:00": "25:00" is not a time;'
            " hours go from 00 to 23 (24:00 only as an end)",
        ),
        (
            "mon 08:00-24:30",
            '"mon 08:00-24:30": "24:30" is not a time;'
            " hours go from 00 to 23 (24:00 only as an end)",
        ),
        (
            "mon 08:60-09:00",
            '"mon 08:60-09:00": "08:60" is not a time; minutes go from 00 to 59',
        ),
        (
            "mon 24:00-02:00",
            '"mon 24:00-02:00": "24:00" can only end a window; start at "00:00" instead',
        ),
        (
            "mon 08:00-08:00",
            '"mon 08:00-08:00": the window is empty (it starts and ends at 08:00);'
            ' for a whole day write "00:00-24:00"',
        ),
    ],
)
def test_parse_error_names_the_bad_part_and_shows_an_example(line: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_hours([line])
    assert str(caught.value) == message


def test_parse_error_empty_list() -> None:
    with pytest.raises(ValueError, match=r"no opening hours are given; write e\.g\."):
        parse_hours([])


def test_parse_error_always_with_other_lines() -> None:
    with pytest.raises(HoursError, match='"always" must be the only line') as caught:
        parse_hours(["mon-fri 08:00-16:30", "always"])
    assert caught.value.problems[0][0] == 1


def test_parse_error_not_text() -> None:
    with pytest.raises(ValueError, match=r"line 2 \(800\) is not text"):
        parse_hours(["mon-fri 08:00-16:30", 800])  # type: ignore[list-item]


def test_parse_reports_every_bad_line_with_its_index() -> None:
    with pytest.raises(HoursError) as caught:
        parse_hours(["mon-fri 08:00-16:30", "mon-fry 08:00-16:30", "sat 10:00-10:00"])
    error = caught.value
    assert isinstance(error, ValueError)
    assert [index for index, _ in error.problems] == [1, 2]
    assert '"fry" is not a day' in str(error)
    assert "the window is empty" in str(error)


# --- is_open: ordinary days and midnight -----------------------------------------------------


def test_open_on_a_normal_friday() -> None:
    assert open_at(OFFICE, local(2026, 6, 12, 10, 0))
    assert open_at(OFFICE, local(2026, 6, 12, 8, 0))
    assert open_at(OFFICE, local(2026, 6, 12, 16, 29, 59))
    assert not open_at(OFFICE, local(2026, 6, 12, 16, 30))
    assert not open_at(OFFICE, local(2026, 6, 12, 7, 59))
    assert not open_at(OFFICE, local(2026, 6, 13, 10, 0))  # Saturday


def test_always_is_open() -> None:
    assert is_open(None, local(2026, 12, 24, 3, 0), SE)
    assert is_open(parse_hours(["always"]), local(2026, 6, 19, 12, 0), SE)


def test_range_past_midnight_belongs_to_the_day_it_starts() -> None:
    night = ["fri 22:00-02:00"]
    assert not open_at(night, local(2026, 6, 12, 21, 59))
    assert open_at(night, local(2026, 6, 12, 22, 0))
    assert open_at(night, local(2026, 6, 13, 1, 59))  # Saturday morning, Friday's window
    assert not open_at(night, local(2026, 6, 13, 2, 0))
    assert not open_at(night, local(2026, 6, 12, 1, 0))  # Friday morning: Thursday has none
    assert not open_at(night, local(2026, 6, 13, 23, 0))  # Saturday night


def test_range_past_midnight_wraps_from_sunday_to_monday() -> None:
    night = ["sun 20:00-06:00"]
    assert open_at(night, local(2026, 6, 14, 23, 0))  # Sunday
    assert open_at(night, local(2026, 6, 15, 5, 59))  # Monday
    assert not open_at(night, local(2026, 6, 15, 6, 0))
    assert not open_at(night, local(2026, 6, 15, 23, 0))


def test_window_ending_at_midnight() -> None:
    assert open_at(["mon 18:00-24:00"], local(2026, 6, 15, 23, 59))
    assert not open_at(["mon 18:00-24:00"], local(2026, 6, 16, 0, 0))
    assert open_at(["mon 18:00-00:00"], local(2026, 6, 15, 23, 59))
    assert not open_at(["mon 18:00-00:00"], local(2026, 6, 16, 0, 0))


# --- is_open: holidays -----------------------------------------------------------------------


def test_midsommarafton_is_closed_though_a_friday() -> None:
    assert not open_at(OFFICE, local(2026, 6, 19, 10, 0))
    assert not open_at(OFFICE, local(2027, 6, 25, 10, 0))  # and the next year's


def test_julafton_and_nyarsafton_are_closed() -> None:
    assert not open_at(OFFICE, local(2026, 12, 24, 10, 0))  # Thursday
    assert not open_at(OFFICE, local(2026, 12, 31, 10, 0))  # Thursday
    assert open_at(OFFICE, local(2026, 12, 30, 10, 0))  # an ordinary Wednesday


def test_public_holidays_are_closed() -> None:
    every_day = ["mon-sun 08:00-16:00"]
    assert not open_at(every_day, local(2026, 6, 6, 10, 0))  # national day, a Saturday
    assert not open_at(OFFICE, local(2028, 6, 6, 10, 0))  # national day on a Tuesday
    assert not open_at(OFFICE, local(2026, 4, 3, 10, 0))  # Good Friday
    assert not open_at(OFFICE, local(2026, 4, 6, 10, 0))  # Easter Monday
    assert not open_at(OFFICE, local(2026, 5, 14, 10, 0))  # Ascension Day


def test_ordinary_sundays_are_not_holidays() -> None:
    # The holidays package counts every Sunday as a Swedish holiday unless told otherwise.
    assert open_at(["mon-sun 08:00-16:00"], local(2026, 6, 14, 10, 0))
    assert not is_holiday(date(2026, 6, 14))


def test_closed_days_of_2026() -> None:
    assert closed_days(2026) == {
        date(2026, 1, 1),
        date(2026, 1, 6),
        date(2026, 4, 3),
        date(2026, 4, 5),
        date(2026, 4, 6),
        date(2026, 5, 1),
        date(2026, 5, 14),
        date(2026, 5, 24),
        date(2026, 6, 6),
        date(2026, 6, 19),
        date(2026, 6, 20),
        date(2026, 10, 31),
        date(2026, 12, 24),
        date(2026, 12, 25),
        date(2026, 12, 26),
        date(2026, 12, 31),
    }


def test_night_window_follows_the_day_it_starts_on() -> None:
    night = ["mon-sun 22:00-02:00"]
    # Thursday 18 June is a working day: its window runs into midsommarafton.
    assert open_at(night, local(2026, 6, 19, 1, 0))
    # Midsommarafton's own window is closed, and so is its tail on Saturday morning.
    assert not open_at(night, local(2026, 6, 19, 23, 0))
    assert not open_at(night, local(2026, 6, 20, 1, 0))
    # Midsommardagen (Saturday) is closed; Sunday's window opens again.
    assert not open_at(night, local(2026, 6, 21, 1, 0))
    assert open_at(night, local(2026, 6, 21, 23, 0))


def test_holiday_lookups_are_cached() -> None:
    closed_days.cache_clear()
    for hour in range(24):
        open_at(OFFICE, local(2026, 6, 12, hour, 0))
    info = closed_days.cache_info()
    assert info.misses == 1
    assert info.hits > 0


# --- is_open: timezones and daylight saving time ---------------------------------------------


def test_naive_datetime_is_rejected() -> None:
    with pytest.raises(ValueError, match="naive"):
        is_open(parse_hours(OFFICE), datetime(2026, 6, 12, 10, 0), SE)
    with pytest.raises(ValueError, match="naive"):
        is_open(None, datetime(2026, 6, 12, 10, 0), SE)
    with pytest.raises(ValueError, match="naive"):
        next_opening(parse_hours(OFFICE), datetime(2026, 6, 12, 10, 0), SE)


def test_unknown_timezone_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a known timezone"):
        is_open(None, utc(2026, 6, 12, 10, 0), "Europe/Stockholmm")


def test_moment_is_converted_to_the_organisation_timezone() -> None:
    # 06:30 UTC is 08:30 in Stockholm (summer time, +02:00) but 09:30 in Helsinki (+03:00).
    assert open_at(OFFICE, utc(2026, 6, 12, 6, 30))
    assert not open_at(["fri 09:00-10:00"], utc(2026, 6, 12, 6, 30))
    assert open_at(["fri 09:00-10:00"], utc(2026, 6, 12, 6, 30), "Europe/Helsinki")
    # 14:45 UTC is 16:45 in Stockholm (closed) and 17:45 in Helsinki.
    helsinki = ZoneInfo("Europe/Helsinki")
    assert not open_at(OFFICE, datetime(2026, 6, 12, 17, 45, tzinfo=helsinki))
    assert open_at(OFFICE, datetime(2026, 6, 12, 16, 15, tzinfo=helsinki))  # 15:15 in Stockholm


def test_spring_forward_night() -> None:
    # 2026-03-29: Stockholm goes from 02:00 CET straight to 03:00 CEST (at 01:00 UTC).
    early = ["sun 00:00-04:00"]
    assert open_at(early, utc(2026, 3, 28, 23, 0))  # 00:00 CET
    assert open_at(early, utc(2026, 3, 29, 0, 59))  # 01:59 CET
    assert open_at(early, utc(2026, 3, 29, 1, 0))  # 03:00 CEST
    assert open_at(early, utc(2026, 3, 29, 1, 59))  # 03:59 CEST
    assert not open_at(early, utc(2026, 3, 29, 2, 0))  # 04:00 CEST: three real hours


def test_spring_forward_wall_time_that_does_not_exist() -> None:
    # 02:30 never happens that night; the aware value means 01:30 UTC, which is 03:30 CEST.
    ghost = local(2026, 3, 29, 2, 30)
    assert ghost.astimezone(UTC) == utc(2026, 3, 29, 1, 30)
    assert not open_at(["sun 02:00-03:00"], ghost)
    assert open_at(["sun 03:00-04:00"], ghost)
    # A window inside the missing hour is never open that day.
    assert not any(
        open_at(["sun 02:00-03:00"], utc(2026, 3, 28, 23, 0) + timedelta(minutes=m))
        for m in range(0, 24 * 60, 5)
    )


def test_fall_back_night() -> None:
    # 2026-10-25: Stockholm goes from 03:00 CEST back to 02:00 CET (at 01:00 UTC).
    early = ["sun 00:00-04:00"]
    assert open_at(early, utc(2026, 10, 24, 22, 0))  # 00:00 CEST
    assert open_at(early, utc(2026, 10, 25, 0, 30))  # 02:30 CEST
    assert open_at(early, utc(2026, 10, 25, 1, 30))  # 02:30 CET
    assert open_at(early, utc(2026, 10, 25, 2, 59))  # 03:59 CET
    assert not open_at(early, utc(2026, 10, 25, 3, 0))  # 04:00 CET: five real hours
    # Both occurrences of 02:30 fall in a 02:00-03:00 window.
    assert open_at(["sun 02:00-03:00"], local(2026, 10, 25, 2, 30, fold=0))
    assert open_at(["sun 02:00-03:00"], local(2026, 10, 25, 2, 30, fold=1))
    assert not open_at(["sun 02:00-03:00"], local(2026, 10, 25, 3, 0))


# --- next_opening ----------------------------------------------------------------------------


def test_next_opening_after_friday_close_is_monday_morning() -> None:
    opens = next_opening(parse_hours(OFFICE), local(2026, 6, 12, 17, 0), SE)
    assert opens == local(2026, 6, 15, 8, 0)
    assert opens is not None
    assert opens.tzinfo == STOCKHOLM


def test_next_opening_skips_holidays() -> None:
    hours = parse_hours(OFFICE)
    # Thursday before midsommar: Friday and Saturday are closed, Monday opens.
    assert next_opening(hours, local(2026, 6, 18, 17, 0), SE) == local(2026, 6, 22, 8, 0)
    # Christmas: 24, 25 (Fri), weekend, then Monday 28 December.
    assert next_opening(hours, local(2026, 12, 23, 16, 30), SE) == local(2026, 12, 28, 8, 0)


def test_next_opening_before_opening_the_same_day() -> None:
    hours = parse_hours(OFFICE)
    assert next_opening(hours, local(2026, 6, 15, 6, 0), SE) == local(2026, 6, 15, 8, 0)


def test_next_opening_when_open_is_now() -> None:
    at = utc(2026, 6, 15, 8, 0)
    opens = next_opening(parse_hours(OFFICE), at, SE)
    assert opens == at
    assert opens is not None
    assert opens.tzinfo == STOCKHOLM


def test_next_opening_none_when_always_or_never() -> None:
    assert next_opening(None, local(2026, 6, 12, 17, 0), SE) is None
    assert next_opening((), local(2026, 6, 12, 17, 0), SE) is None
    # Open only on Fridays, and both Fridays of the next 14 days are holidays (Christmas Day and
    # New Year's Day 2027): it does not open within reach.
    hours = parse_hours(["fri 10:00-11:00"])
    assert next_opening(hours, local(2026, 12, 18, 11, 0), SE) is None
    assert next_opening(hours, local(2026, 12, 18, 9, 0), SE) == local(2026, 12, 18, 10, 0)


def test_next_opening_is_within_14_days() -> None:
    # Julafton is a Thursday in 2026; the next Thursdays are 31 December (nyårsafton, closed)
    # and 7 January 2027 10:00, exactly 14 days on: just inside. From a minute earlier, outside.
    hours = parse_hours(["thu 10:00-11:00"])
    assert next_opening(hours, local(2026, 12, 24, 10, 0), SE) == local(2027, 1, 7, 10, 0)
    assert next_opening(hours, local(2026, 12, 24, 9, 59), SE) is None


def test_next_opening_after_a_night_window() -> None:
    hours = parse_hours(["fri 22:00-02:00"])
    # 19 June is midsommarafton, so the next opening is a week later.
    assert next_opening(hours, local(2026, 6, 13, 2, 0), SE) == local(2026, 6, 26, 22, 0)


def test_next_opening_across_spring_forward() -> None:
    # A window starting in the missing hour opens when the clock jumps to 03:00.
    hours = parse_hours(["sun 02:30-05:00"])
    opens = next_opening(hours, local(2026, 3, 29, 1, 0), SE)
    assert opens is not None
    assert opens.astimezone(UTC) == utc(2026, 3, 29, 1, 0)
    assert (opens.hour, opens.minute) == (3, 0)


def test_next_opening_across_fall_back() -> None:
    # The clock goes back from 03:00 CEST to 02:00 CET, into the middle of the window again.
    hours = parse_hours(["sun 01:30-02:15"])
    opens = next_opening(hours, local(2026, 10, 25, 2, 30, fold=0), SE)
    assert opens is not None
    assert opens.astimezone(UTC) == utc(2026, 10, 25, 1, 0)
    assert (opens.hour, opens.minute, opens.fold) == (2, 0, 1)
    # And a window starting at 02:00 opens twice that night.
    hours = parse_hours(["sun 02:00-02:45"])
    opens = next_opening(hours, local(2026, 10, 25, 2, 50, fold=0), SE)
    assert opens is not None
    assert opens.astimezone(UTC) == utc(2026, 10, 25, 1, 0)


# --- describe --------------------------------------------------------------------------------


def test_describe_office_hours() -> None:
    hours = parse_hours(OFFICE)
    assert describe(hours, "sv") == "mån–fre 08:00–16:30"
    assert describe(hours, "en") == "Mon–Fri 08:00–16:30"


def test_describe_always() -> None:
    assert describe(None, "sv") == "dygnet runt"
    assert describe(None, "en") == "around the clock"


def test_describe_several_windows() -> None:
    hours = parse_hours(["mon-thu 08:00-16:30", "fri 08:00-15:00", "sat,sun 10:00-14:00"])
    assert describe(hours, "sv") == "mån–tors 08:00–16:30; fre 08:00–15:00; lör–sön 10:00–14:00"
    assert describe(hours, "en") == "Mon–Thu 08:00–16:30; Fri 08:00–15:00; Sat–Sun 10:00–14:00"


def test_describe_merges_days_with_the_same_times() -> None:
    hours = parse_hours(["mon-tue 08:00-12:00", "thu 08:00-12:00", "wed,fri 13:00-15:00"])
    assert describe(hours, "en") == "Mon–Tue, Thu 08:00–12:00; Wed, Fri 13:00–15:00"


def test_describe_wrapping_days_every_day_and_midnight() -> None:
    assert describe(parse_hours(["fri-mon 22:00-02:00"]), "sv") == "fre–mån 22:00–02:00"
    assert describe(parse_hours(["mon-sun 00:00-24:00"]), "sv") == "alla dagar 00:00–24:00"
    assert describe(parse_hours(["sun,mon 09:00-10:00"]), "en") == "Sun–Mon 09:00–10:00"


def test_describe_unknown_language_falls_back_to_english() -> None:
    assert describe(parse_hours(OFFICE), "fi") == "Mon–Fri 08:00–16:30"


# --- open_minutes_of_week --------------------------------------------------------------------


def test_open_minutes_of_office_week() -> None:
    day = 1440
    assert open_minutes_of_week(parse_hours(OFFICE)) == [
        (d * day + 480, d * day + 990) for d in range(5)
    ]


def test_open_minutes_merge_overlapping_and_touching_windows() -> None:
    hours = parse_hours(
        ["mon 08:00-12:00", "mon 11:00-13:00", "mon 13:00-14:00", "mon 15:00-16:00"]
    )
    assert open_minutes_of_week(hours) == [(480, 840), (900, 960)]
    # A night window touching the next morning's window makes one stretch.
    hours = parse_hours(["mon 22:00-08:00", "tue 08:00-16:00"])
    assert open_minutes_of_week(hours) == [(1320, 1440 + 960)]


def test_open_minutes_wrap_past_sunday_midnight() -> None:
    hours = parse_hours(["sun 22:00-02:00", "mon 02:00-03:00"])
    assert open_minutes_of_week(hours) == [(0, 180), (9960, 10080)]


def test_open_minutes_whole_week() -> None:
    assert open_minutes_of_week(None) == [(0, 10080)]
    assert open_minutes_of_week(parse_hours(["mon-sun 00:00-24:00"])) == [(0, 10080)]
    assert open_minutes_of_week(()) == []


# --- in_quiet_hours --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "quiet"),
    [
        (time(20, 59), False),
        (time(21, 0), True),
        (time(23, 59), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_past_midnight(now: time, quiet: bool) -> None:
    assert in_quiet_hours(now, time(21, 0), time(8, 0)) is quiet


def test_quiet_hours_within_a_day_and_empty() -> None:
    assert in_quiet_hours(time(13, 0), time(12, 0), time(14, 0))
    assert not in_quiet_hours(time(14, 0), time(12, 0), time(14, 0))
    assert not in_quiet_hours(time(11, 59), time(12, 0), time(14, 0))
    assert not in_quiet_hours(time(12, 0), time(12, 0), time(12, 0))


def test_quiet_hours_ignore_tzinfo() -> None:
    aware = time(22, 0, tzinfo=STOCKHOLM)
    assert in_quiet_hours(aware, time(21, 0), time(8, 0))
