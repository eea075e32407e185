"""Opening hours of contacts: parsing `hours` lines and telling whether a contact is open.

An official who is threatened must never be sent to a phone nobody answers, so the bot checks a
contact's hours before offering it and falls back to its `after_hours` contact when it is closed.
Hours are wall-clock times in the organisation's timezone: "08:00" means 08:00 on the office clock,
whatever the UTC offset is that day, so daylight saving time never shifts a window.

Sweden's public holidays, and the three eves that are treated as holidays (midsommarafton,
julafton, nyårsafton), are closed days. A window belongs to the day it starts on: `fri 22:00-02:00`
is open on Saturday at 01:00 only if that Friday was a working day.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays

from bot.i18n import FOREIGN_FALLBACK, LANGUAGES, plain, words
from bot.routines.models import Hours, Window

MINUTES_PER_DAY = 1440
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY
NEXT_OPENING_HORIZON = timedelta(days=14)

_DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAYS = {name: index for index, name in enumerate(_DAY_KEYS)}
_DAY_LIST = "mon, tue, wed, thu, fri, sat or sun"
_EXAMPLE = '"mon-fri 08:00-16:30"'

# Names people write by habit (Swedish abbreviations, full English names): we do not accept them,
# because the format has one spelling, but we say which spelling was meant.
_DAY_HINTS = {
    "mån": "mon",
    "man": "mon",
    "måndag": "mon",
    "tis": "tue",
    "tisdag": "tue",
    "tues": "tue",
    "ons": "wed",
    "onsdag": "wed",
    "tor": "thu",
    "tors": "thu",
    "torsdag": "thu",
    "thur": "thu",
    "thurs": "thu",
    "fre": "fri",
    "fredag": "fri",
    "lör": "sat",
    "lor": "sat",
    "lördag": "sat",
    "sön": "sun",
    "son": "sun",
    "söndag": "sun",
    "weekdays": "mon-fri",
    "vardagar": "mon-fri",
    "daily": "mon-sun",
    "everyday": "mon-sun",
    "alla dagar": "mon-sun",
    "every day": "mon-sun",
}

_DASHES = str.maketrans({"–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-"})
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_DOTTED_TIME = re.compile(r"(\d{1,2})[.,](\d{2})")


class HoursError(ValueError):
    """Bad `hours` lines, with every problem found so a coordinator can fix them in one go.

    `problems` holds `(index, message)` pairs; `index` is the position of the line in the list
    (None when the problem is the list as a whole), so the loader can point at the right line.
    """

    def __init__(self, problems: Sequence[tuple[int | None, str]]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(message for _, message in self.problems))


# --- parsing ---------------------------------------------------------------------------------


def parse_hours(lines: list[str]) -> Hours:
    """Parse the `hours` list of a contact; raise ValueError with a readable message.

    The files are written by hand by people who are not programmers, so reading is forgiving
    (any case, extra spaces, typographic dashes copied from a word processor) while anything
    ambiguous is an error whose message names the bad part and shows a correct line. A single
    string is accepted as a one-line list so that `hours: always` works as well as
    `hours: [always]`.
    """
    items: list[object] = [lines] if isinstance(lines, str) else list(lines)
    if not items:
        raise HoursError(
            [
                (
                    None,
                    f"no opening hours are given; write e.g. [{_EXAMPLE}], "
                    'or ["always"] (or leave hours out) if the contact is always reachable',
                )
            ]
        )
    normalized = [_normalize(item) if isinstance(item, str) else None for item in items]
    if "always" in normalized:
        if len(items) == 1:
            return None
        index = normalized.index("always")
        raise HoursError(
            [
                (
                    index,
                    '"always" must be the only line of hours; remove it, '
                    "or remove the other lines if the contact is always reachable",
                )
            ]
        )
    windows: list[Window] = []
    problems: list[tuple[int | None, str]] = []
    for index, (item, text) in enumerate(zip(items, normalized, strict=True)):
        if text is None:
            problems.append(
                (index, f"line {index + 1} ({item!r}) is not text; write e.g. {_EXAMPLE}")
            )
            continue
        try:
            windows.append(_parse_line(text))
        except ValueError as error:
            shown = str(item).strip()
            problems.append((index, f'"{shown}": {error}' if shown else str(error)))
    if problems:
        raise HoursError(problems)
    return tuple(windows)


def _normalize(line: str) -> str:
    """Lower case, plain hyphens, no spaces around `-` and `,`, single spaces elsewhere."""
    text = line.translate(_DASHES).strip().lower()
    text = re.sub(r"\s*([-,])\s*", r"\1", text)
    return re.sub(r"\s+", " ", text)


def _parse_line(text: str) -> Window:
    if not text:
        raise ValueError(f"an empty line; write e.g. {_EXAMPLE}")
    # The days are everything before the first digit; a stray comma before the times is harmless.
    first_digit = next((i for i, char in enumerate(text) if char.isdigit()), None)
    if first_digit is None:
        raise ValueError(f"the times are missing; write e.g. {_EXAMPLE}")
    days_text, times_text = text[:first_digit].rstrip(" ,"), text[first_digit:]
    if not days_text:
        raise ValueError(f"the days are missing; write e.g. {_EXAMPLE}")
    days = _parse_days(days_text)
    start, end = _parse_times(times_text)
    return Window(days=days, start=start, end=end)


def _parse_days(text: str) -> frozenset[int]:
    if text in _DAY_HINTS:
        return frozenset({_parse_day(text)})  # raises with the hint
    if " " in text:
        suggestion = text.replace(" ", ",")
        raise ValueError(
            f'separate days with a comma, e.g. "{suggestion}", or give a range such as "mon-fri"'
        )
    days: set[int] = set()
    for item in text.split(","):
        if not item:
            raise ValueError(
                f'the day list "{text}" has an empty item; write e.g. "mon,wed,fri 08:00-12:00"'
            )
        parts = item.split("-")
        if len(parts) == 1:
            days.add(_parse_day(parts[0]))
        elif len(parts) == 2 and all(parts):
            first, last = _parse_day(parts[0]), _parse_day(parts[1])
            # A range may wrap past Sunday: fri-mon is Friday, Saturday, Sunday and Monday.
            days.update((first + offset) % 7 for offset in range((last - first) % 7 + 1))
        else:
            raise ValueError(
                f'"{item}" is not a day range; write a range as first-last, e.g. "mon-fri"'
            )
    return frozenset(days)


def _parse_day(name: str) -> int:
    if name in _DAYS:
        return _DAYS[name]
    hint = _DAY_HINTS.get(name) or (name[:3] if name[:3] in _DAYS else None)
    if hint is not None:
        raise ValueError(f'"{name}" is not a day; write "{hint}" (days are {_DAY_LIST})')
    raise ValueError(f'"{name}" is not a day; use {_DAY_LIST}, e.g. {_EXAMPLE}')


def _parse_times(text: str) -> tuple[int, int]:
    parts = text.split("-")
    if len(parts) != 2 or not all(parts) or " " in text:
        raise ValueError('write the times as start-end with a dash, e.g. "08:00-16:30"')
    start, end = _parse_time(parts[0], as_end=False), _parse_time(parts[1], as_end=True)
    if start == end:
        raise ValueError(
            f"the window is empty (it starts and ends at {parts[0]}); "
            'for a whole day write "00:00-24:00"'
        )
    return start, end


def _parse_time(text: str, *, as_end: bool) -> int:
    match = _TIME.fullmatch(text)
    if match is None:
        dotted = _DOTTED_TIME.fullmatch(text)
        if dotted is not None:
            fixed = f"{int(dotted[1]):02d}:{dotted[2]}"
            raise ValueError(f'write times with a colon: "{fixed}" instead of "{text}"')
        raise ValueError(f'"{text}" is not a time; write times as HH:MM, e.g. "08:00-16:30"')
    hour, minute = int(match[1]), int(match[2])
    if hour == 24 and minute == 0:
        if as_end:
            return MINUTES_PER_DAY
        raise ValueError(f'"{text}" can only end a window; start at "00:00" instead')
    if hour > 23:
        raise ValueError(f'"{text}" is not a time; hours go from 00 to 23 (24:00 only as an end)')
    if minute > 59:
        raise ValueError(f'"{text}" is not a time; minutes go from 00 to 59')
    return hour * 60 + minute


# --- holidays --------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def closed_days(year: int) -> frozenset[date]:
    """Sweden's public holidays in `year` plus midsommarafton, julafton and nyårsafton.

    `holidays` counts every Sunday as a Swedish holiday unless told otherwise, which would close a
    contact open "mon-sun", hence include_sundays=False. The three eves are not public holidays
    in law but are treated as such (semesterlagen 7 §), and the package lists them only in its
    `de_facto` category, which older releases lack, so we add them ourselves. Cached per year
    because `is_open` runs for every contact of every answer.
    """
    public = holidays.country_holidays("SE", years=year, include_sundays=False)
    june_19 = date(year, 6, 19)
    midsommarafton = june_19 + timedelta(days=(4 - june_19.weekday()) % 7)  # Fri 19-25 June
    eves = {midsommarafton, date(year, 12, 24), date(year, 12, 31)}
    return frozenset(public.keys()) | frozenset(eves)


def is_holiday(day: date) -> bool:
    """Whether `day` is a closed day (a holiday or one of the three eves) in Sweden."""
    return day in closed_days(day.year)


# --- open or closed --------------------------------------------------------------------------


def is_open(hours: Hours, at: datetime, timezone: str) -> bool:
    """Whether `hours` are open at the aware moment `at`, in the organisation's `timezone`.

    A naive `at` is refused: guessing its zone would silently shift the answer by an hour or two.
    """
    local = _to_local(at, timezone)
    if hours is None:
        return True
    return _open_at_wall(hours, local.date(), local.hour * 60 + local.minute)


def _zone(timezone: str) -> ZoneInfo:
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(
            f'"{timezone}" is not a known timezone, e.g. "Europe/Stockholm"'
        ) from error


def _to_local(at: datetime, timezone: str) -> datetime:
    """`at` in `timezone`, going through UTC so a wall time that does not exist is normalized.

    `astimezone` leaves a datetime untouched when it already has the target tzinfo, so 02:30 on
    the spring-forward night (which never happens) would otherwise be taken at face value.
    """
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("a naive datetime was given; pass an aware one, e.g. datetime.now(UTC)")
    return at.astimezone(UTC).astimezone(_zone(timezone))


def _open_at_wall(hours: Sequence[Window], day: date, minute: int) -> bool:
    """Whether the wall clock reading `minute` on `day` falls in a window of a working day."""
    weekday = day.weekday()
    yesterday = (weekday - 1) % 7
    for window in hours:
        in_today = window.start <= minute and (window.passes_midnight or minute < window.end)
        if in_today and weekday in window.days and not is_holiday(day):
            return True
        from_yesterday = window.passes_midnight and yesterday in window.days
        if from_yesterday and minute < window.end and not is_holiday(day - timedelta(days=1)):
            return True
    return False


def next_opening(hours: Hours, at: datetime, timezone: str) -> datetime | None:
    """The next moment at or after `at` when `hours` are open, in `timezone`, within 14 days.

    Returns `at` (in `timezone`) when already open, so "reachable from" is always this value; None
    when the hours are always open (there is no opening to announce) or do not open in 14 days
    (say, every window falls on holidays). The answer shows this to a closed contact ("opens
    Monday 08:00"), so it must be right across daylight saving changes: the clock may jump into
    the middle of a window, so the moments of those jumps are candidates too.
    """
    zone = _zone(timezone)
    local = _to_local(at, timezone)
    if hours is None:
        return None
    if _open_at_wall(hours, local.date(), local.hour * 60 + local.minute):
        return local
    begin = local.astimezone(UTC)
    limit = begin + NEXT_OPENING_HORIZON
    candidates: set[datetime] = set(_offset_changes(zone, begin, limit))
    for offset in range(NEXT_OPENING_HORIZON.days + 1):
        day = local.date() + timedelta(days=offset)
        for window in hours:
            if day.weekday() in window.days:
                candidates.update(_instants(day, window.start, zone))
    for moment in sorted(c for c in candidates if begin < c <= limit):
        wall = moment.astimezone(zone)
        if _open_at_wall(hours, wall.date(), wall.hour * 60 + wall.minute):
            return wall
    return None


def _instants(day: date, minute: int, zone: ZoneInfo) -> list[datetime]:
    """The UTC instants at which the wall clock in `zone` reads `minute` on `day`.

    None in a spring-forward gap, two in a fall-back overlap. Comparisons are done in UTC because
    Python compares two datetimes of the same zone by wall time, ignoring `fold`.
    """
    wall = datetime.combine(day, time(minute // 60, minute % 60))
    found: list[datetime] = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == wall and instant not in found:
            found.append(instant)
    return found


def _offset_changes(zone: ZoneInfo, begin: datetime, end: datetime) -> list[datetime]:
    """The UTC instants in (begin, end] at which the UTC offset of `zone` changes, to the second."""
    changes: list[datetime] = []
    step = 3600
    low_bound, high_bound = math.floor(begin.timestamp()), math.ceil(end.timestamp())
    for moment in range(low_bound, high_bound, step):
        after = min(moment + step, high_bound)
        if _offset(zone, moment) != _offset(zone, after):
            low, high = moment, after  # offset(low) is the old one, offset(high) the new one
            while high - low > 1:
                middle = (low + high) // 2
                if _offset(zone, middle) == _offset(zone, low):
                    low = middle
                else:
                    high = middle
            changes.append(datetime.fromtimestamp(high, UTC))
    return changes


def _offset(zone: ZoneInfo, timestamp: int) -> timedelta | None:
    return datetime.fromtimestamp(timestamp, zone).utcoffset()


# --- describing and analysing ----------------------------------------------------------------


def describe(hours: Hours, lang: str) -> str:
    """A short text for the answer, e.g. "mån–fre 08:00–16:30" or "Mon–Fri 08:00–16:30".

    Windows with the same times are shown once with all their days, so a coordinator who wrote
    "mon-tue" and "thu" on separate lines reads one "mån–tis, tors". A language the bot does not
    speak gets English, the better guess for someone who does not read Swedish.
    """
    key = lang if lang in LANGUAGES else FOREIGN_FALLBACK
    if hours is None:
        return plain("hours.always", key)
    if not hours:
        return plain("hours.never", key)
    by_times: dict[tuple[int, int], set[int]] = {}
    for window in hours:
        by_times.setdefault((window.start, window.end), set()).update(window.days)
    groups = sorted(by_times.items(), key=lambda item: (_first_day(item[1]), item[0]))
    parts = [
        f"{_describe_days(days, key)} {_clock(start)}–{_clock(end)}"
        for (start, end), days in groups
    ]
    return "; ".join(parts)


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def _day_runs(days: Iterable[int]) -> list[list[int]]:
    """Runs of consecutive days in week order, a run may wrap from Sunday to Monday."""
    chosen = set(days)
    if len(chosen) == 7:
        return [list(range(7))]
    # Start after a missing day so that a run over Sunday-Monday is not cut in two.
    first = next(d for d in range(7) if (d - 1) % 7 not in chosen and d in chosen)
    runs: list[list[int]] = []
    for offset in range(7):
        day = (first + offset) % 7
        if day not in chosen:
            continue
        if runs and (runs[-1][-1] + 1) % 7 == day:
            runs[-1].append(day)
        else:
            runs.append([day])
    return runs


def _first_day(days: Iterable[int]) -> int:
    return _day_runs(days)[0][0]


def _describe_days(days: Iterable[int], key: str) -> str:
    names = words("weekday.short", key)
    runs = _day_runs(days)
    if len(runs[0]) == 7:
        return plain("hours.every_day", key)
    return ", ".join(
        names[run[0]] if len(run) == 1 else f"{names[run[0]]}–{names[run[-1]]}" for run in runs
    )


def open_minutes_of_week(hours: Hours) -> list[tuple[int, int]]:
    """Open intervals of an ordinary week (no holidays) as [start, end) minutes since Monday 00:00.

    Used to find gaps in who can be reached. Intervals are merged where they overlap or touch and
    lie within [0, 10080): a window passing Sunday midnight continues at 0 (Monday 00:00), so a
    stretch over Sunday midnight appears as one interval ending at 10080 and one starting at 0.
    """
    if hours is None:
        return [(0, MINUTES_PER_WEEK)]
    intervals: list[tuple[int, int]] = []
    for window in hours:
        length = (window.end - window.start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        for day in window.days:
            start = day * MINUTES_PER_DAY + window.start
            end = start + length
            if end <= MINUTES_PER_WEEK:
                intervals.append((start, end))
            else:
                intervals.append((start, MINUTES_PER_WEEK))
                intervals.append((0, end - MINUTES_PER_WEEK))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def in_quiet_hours(at_local: time, start: time, end: time) -> bool:
    """Whether the local time of day `at_local` is in the quiet window [start, end).

    The window may pass midnight (21:00-08:00). start == end means no quiet hours at all, since a
    24-hour quiet window would hold back every reminder. Any tzinfo on the times is ignored: the
    caller has already converted to the organisation's local time.
    """
    now, start, end = (t.replace(tzinfo=None) for t in (at_local, start, end))
    if start == end:
        return False
    if start < end:
        return start <= now < end
    return now >= start or now < end
