"""Where a routine leaves officials alone: the uncovered hours of an ordinary week, and more.

An official who follows a situation's steps is helped only when one of the organisation's own
contacts answers. This module finds, for every situation, the minutes of an ordinary week
(Monday 00:00 to Sunday 24:00, no holidays) when none does, following `after_hours` chains the
way the answer does: a contact that is open is offered and the chain stops there; a closed one
hands over to its `after_hours` contact. A contact counts only if it is the organisation's own
(national contacts are everyone's fallback, not the routine's work) and has a phone or an
e-mail address; an open contact without either stops the chain without helping.

Weekly windows are wall-clock times in the organisation's timezone, so the result is in local
time and a daylight-saving change does not move it: the week of the October change has the same
uncovered wall-clock hours as any other (the repeated hour 02:00-03:00 counts once, as the clock
shows it). Holidays are left out on purpose: they close office-hours contacts, so the real gaps
of a holiday week are larger than the ordinary week's.

Intervals are `(start, end)` minutes since Monday 00:00, half-open, sorted and merged, within
[0, 10080).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.routines.hours import MINUTES_PER_DAY, MINUTES_PER_WEEK, open_minutes_of_week
from bot.routines.models import Contact, Routine, Situation, Text

Interval = tuple[int, int]

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
HOURS_PER_DAY = 24


# --- interval arithmetic over one week ---------------------------------------------------------


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, with overlapping or touching intervals joined and empty ones dropped."""
    merged: list[Interval] = []
    for start, end in sorted(i for i in intervals if i[0] < i[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def complement(intervals: Sequence[Interval]) -> list[Interval]:
    """The minutes of the week not in `intervals` (which must be merged)."""
    gaps: list[Interval] = []
    cursor = 0
    for start, end in intervals:
        if start > cursor:
            gaps.append((cursor, start))
        cursor = max(cursor, end)
    if cursor < MINUTES_PER_WEEK:
        gaps.append((cursor, MINUTES_PER_WEEK))
    return gaps


def intersect(left: Sequence[Interval], right: Sequence[Interval]) -> list[Interval]:
    """The minutes in both merged interval lists."""
    found: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start, end = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if start < end:
            found.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return found


def total(intervals: Iterable[Interval]) -> int:
    return sum(end - start for start, end in intervals)


# --- who counts, and when a situation is covered -----------------------------------------------


def counts(contact: Contact) -> bool:
    """Whether reaching `contact` helps: the organisation's own, with a phone or an e-mail."""
    return not contact.is_national and (contact.phone is not None or contact.email is not None)


def chain_coverage(routine: Routine, ref: str) -> list[Interval]:
    """When the step naming `ref` reaches a contact that counts, after-hours chain followed."""
    return _chain(routine, ref, frozenset())


def _chain(routine: Routine, ref: str, seen: frozenset[str]) -> list[Interval]:
    try:
        contact = routine.contact(ref)
    except KeyError:  # the loader resolves every reference; a hand-built routine may not
        return []
    if contact.is_national:  # a national chain stays national: nothing further counts
        return []
    open_minutes = open_minutes_of_week(contact.hours)
    helped = open_minutes if counts(contact) else []
    seen = seen | {ref}
    after = contact.after_hours
    if after is None or after in seen:  # the loader refuses loops; stay safe without it
        return helped
    rest = _chain(routine, after, seen)
    return merge([*helped, *intersect(complement(open_minutes), rest)])


def covered_week(routine: Routine, situation: Situation) -> list[Interval]:
    """The minutes of an ordinary week when some step of `situation` reaches a contact."""
    found: list[Interval] = []
    for step in situation.steps:
        if step.contact is not None:
            found.extend(chain_coverage(routine, step.contact))
    return merge(found)


def uncovered_week(routine: Routine, situation: Situation) -> list[Interval]:
    """The minutes of an ordinary week when no own contact of `situation` can be reached."""
    return complement(covered_week(routine, situation))


# --- presenting intervals ----------------------------------------------------------------------


@dataclass(frozen=True)
class DayRange:
    """Part of one day, in minutes since that day's midnight; `end` may be 1440 (24:00)."""

    day: int
    start: int
    end: int


def day_ranges(intervals: Iterable[Interval]) -> list[DayRange]:
    """Intervals cut at midnight, so that each range lies within one day (merged per day)."""
    ranges: list[DayRange] = []
    for start, end in merge(intervals):
        cursor = start
        while cursor < end:
            day = cursor // MINUTES_PER_DAY
            stop = min(end, (day + 1) * MINUTES_PER_DAY)
            base = day * MINUTES_PER_DAY
            ranges.append(DayRange(day, cursor - base, stop - base))
            cursor = stop
    return ranges


def clock(minute: int) -> str:
    """`HH:MM`, with 1440 as `24:00`."""
    return f"{minute // 60:02d}:{minute % 60:02d}"


def format_range(found: DayRange) -> str:
    """The machine form of a range: `mon 16:00-24:00`."""
    return f"{DAY_KEYS[found.day]} {clock(found.start)}-{clock(found.end)}"


def hour_grid(intervals: Iterable[Interval]) -> list[list[float]]:
    """7 rows (Monday first) of 24 hours: the share of each hour inside `intervals`, 0 to 1."""
    grid = [[0.0] * HOURS_PER_DAY for _ in range(7)]
    for start, end in merge(intervals):
        for hour in range(start // 60, (end + 59) // 60):
            overlap = min(end, (hour + 1) * 60) - max(start, hour * 60)
            grid[hour // HOURS_PER_DAY][hour % HOURS_PER_DAY] += overlap / 60
    return grid


# --- the report of one organisation ------------------------------------------------------------


@dataclass(frozen=True)
class SituationGaps:
    id: str
    title: Text
    urgent: bool
    uncovered: tuple[Interval, ...]

    @property
    def uncovered_minutes(self) -> int:
        return total(self.uncovered)

    def ranges(self) -> list[DayRange]:
        return day_ranges(self.uncovered)


@dataclass(frozen=True)
class OrgHealth:
    """Findings for one organisation; gaps are findings, not errors."""

    org_id: str
    name: str
    timezone: str
    situations: tuple[SituationGaps, ...]
    review_due: date
    review_overdue: bool
    unregistered: tuple[str, ...]
    unreachable: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        """The organisation's object of `trygg gaps --format json`."""
        return {
            "id": self.org_id,
            "situations": {
                s.id: {"uncovered": [format_range(r) for r in s.ranges()]} for s in self.situations
            },
            "review": {"due": self.review_due.isoformat(), "overdue": self.review_overdue},
            "unregistered": list(self.unregistered),
            "unreachable": list(self.unreachable),
        }


def needs_coordinator(routine: Routine) -> list[str]:
    """Contacts a registered coordinator should answer for: receivers of reports, then the owner."""
    wanted = [c.id for c in routine.receiving_contacts()]
    owner = routine.organisation.owner
    if owner not in wanted and owner in routine.contacts:
        wanted.append(owner)
    return wanted


def unreachable_contacts(routine: Routine) -> list[str]:
    """The organisation's contacts with neither a phone nor an e-mail address, in file order."""
    return [c.id for c in routine.contacts.values() if c.phone is None and c.email is None]


def review_overdue(routine: Routine, today: date) -> bool:
    """Due on the due date itself, as /rutin says: from then on the review is overdue."""
    return routine.organisation.review_due <= today


def organisation_today(routine: Routine, now: datetime) -> date:
    """The date at the aware moment `now` in the organisation's timezone."""
    return now.astimezone(ZoneInfo(routine.organisation.timezone)).date()


def health_report(routine: Routine, registered: Collection[str], today: date) -> OrgHealth:
    """Everything `trygg gaps` and /halsa report for one organisation.

    `registered` holds the contact ids that have at least one coordinator; `today` is the date in
    the organisation's timezone.
    """
    situations = tuple(
        SituationGaps(s.id, s.title, s.urgent, tuple(uncovered_week(routine, s)))
        for s in routine.situations
    )
    return OrgHealth(
        org_id=routine.id,
        name=routine.organisation.name,
        timezone=routine.organisation.timezone,
        situations=situations,
        review_due=routine.organisation.review_due,
        review_overdue=review_overdue(routine, today),
        unregistered=tuple(c for c in needs_coordinator(routine) if c not in registered),
        unreachable=tuple(unreachable_contacts(routine)),
    )


class CoordinatorLookup(Protocol):
    """What finding registered coordinators needs of the database (`Database` has it)."""

    async def coordinators_for_contact(self, org_id: str, contact_id: str) -> Sequence[Any]: ...


async def registered_contacts(lookup: CoordinatorLookup, routine: Routine) -> set[str]:
    """The contacts of `routine` that need a coordinator and have at least one registered."""
    found: set[str] = set()
    for contact_id in needs_coordinator(routine):
        if await lookup.coordinators_for_contact(routine.id, contact_id):
            found.add(contact_id)
    return found


def to_json(reports: Iterable[OrgHealth]) -> dict[str, Any]:
    """The whole output of `trygg gaps --format json`."""
    return {"organisations": [report.to_json() for report in reports]}
