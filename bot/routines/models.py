"""Domain objects of a routine file (format 1): plain frozen dataclasses.

They know nothing of YAML, Telegram or SQL. The loader builds them after validation, so every
object here is already known to be consistent: references resolve, phones parse, texts have the
default language.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Literal, TypeVar

from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES

NATIONAL_PREFIX = "national."
DEFAULT_TIMEZONE = "Europe/Stockholm"
SUPPORTED_LANGUAGES = LANGUAGES  # the languages of the bot's own words (bot/i18n)

DurationUnit = Literal["s", "m", "h", "d", "w", "mo"]
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_D = TypeVar("_D", date, datetime)


@dataclass(frozen=True)
class Text:
    """A text in one or more languages; `default` is the organisation's default language."""

    values: Mapping[str, str]
    default: str

    def get(self, lang: str) -> str:
        """The text in `lang`, else in the default language, else any language."""
        if lang in self.values:
            return self.values[lang]
        if self.default in self.values:
            return self.values[self.default]
        return next(iter(self.values.values()))


@dataclass(frozen=True)
class Duration:
    """A whole number of a unit, as written in the file (`24h`, `12mo`)."""

    amount: int
    unit: DurationUnit

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"

    def add_to(self, moment: datetime) -> datetime:
        """`moment` plus this duration; months are calendar months, clamped to the month's end."""
        if self.unit == "mo":
            return add_months(moment, self.amount)
        return moment + self.as_timedelta()

    def add_to_date(self, day: date) -> date:
        """`day` plus this duration, for review dates and event lead times."""
        if self.unit == "mo":
            return add_months(day, self.amount)
        return day + timedelta(days=self.as_timedelta().days)

    def as_timedelta(self) -> timedelta:
        """Exact length; a month counts as 30 days where an exact length is needed."""
        if self.unit == "mo":
            return timedelta(days=30 * self.amount)
        return timedelta(seconds=_SECONDS[self.unit] * self.amount)


def add_months(moment: _D, months: int) -> _D:
    """Calendar arithmetic: 31 Jan + 1 month is the last day of February."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


@dataclass(frozen=True)
class Window:
    """One line of `hours`: the days it starts on (0 = Monday) and minutes since midnight.

    `end` is at most 1440 (24:00). When `end <= start` the window passes midnight and ends on the
    next day, so `fri 22:00-02:00` is open Friday night until Saturday 02:00.
    """

    days: frozenset[int]
    start: int
    end: int

    @property
    def passes_midnight(self) -> bool:
        return self.end <= self.start


# None means "always reachable" (no hours given, or `always`).
Hours = tuple[Window, ...] | None


@dataclass(frozen=True)
class Phone:
    """A parsed phone number: shown in national format, dialled as E.164."""

    raw: str
    e164: str
    national: str


@dataclass(frozen=True)
class Contact:
    """Someone to call or write to. `id` is `national.<id>` for national contacts."""

    id: str
    name: Text
    person: str | None = None
    phone: Phone | None = None
    email: str | None = None
    hours: Hours = None
    after_hours: str | None = None
    receives_reports: bool = False
    note: Text | None = None

    @property
    def is_national(self) -> bool:
        return self.id.startswith(NATIONAL_PREFIX)


@dataclass(frozen=True)
class Step:
    """One step of a situation's answer: a contact reference or a text (exactly one is set)."""

    contact: str | None = None
    text: Text | None = None


@dataclass(frozen=True)
class Situation:
    """A situation an official may be in, with the steps to take, in order."""

    id: str
    title: Text
    steps: tuple[Step, ...]
    urgent: bool = False
    match: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """A dated reminder to all members, sent `before` ahead of `date`."""

    date: date
    before: Duration
    text: Text


@dataclass(frozen=True)
class Reminders:
    members: str = "quarterly"
    ack_within: Duration = Duration(24, "h")
    escalate_to: tuple[str, ...] = ()
    ack_repeat: int = 3  # acknowledgement reminders at most, before the escalation
    ack_every: Duration | None = None  # between them; None: ack_within / ack_repeat
    followup: tuple[Duration, ...] = (Duration(2, "d"), Duration(14, "d"))
    quiet_start: time = time(21, 0)
    quiet_end: time = time(8, 0)
    events: tuple[Event, ...] = ()


@dataclass(frozen=True)
class Organisation:
    id: str
    name: str
    kind: Literal["kommun", "region"]
    reviewed: date
    owner: str
    code: str | None = None
    timezone: str = DEFAULT_TIMEZONE
    languages: tuple[str, ...] = (DEFAULT_LANGUAGE,)
    review_every: Duration = Duration(12, "mo")

    @property
    def default_language(self) -> str:
        return self.languages[0]

    @property
    def review_due(self) -> date:
        return self.review_every.add_to_date(self.reviewed)


@dataclass(frozen=True)
class National:
    """`routines/_national.yaml`: the contacts and situations every official sees."""

    contacts: Mapping[str, Contact]
    situations: tuple[Situation, ...]
    languages: tuple[str, ...] = SUPPORTED_LANGUAGES
    timezone: str = DEFAULT_TIMEZONE
    source: Path | None = None

    @property
    def default_language(self) -> str:
        return self.languages[0]

    def situation(self, situation_id: str) -> Situation | None:
        return next((s for s in self.situations if s.id == situation_id), None)


@dataclass(frozen=True)
class Routine:
    """One organisation's routine, with the national contacts it refers to resolved."""

    organisation: Organisation
    contacts: Mapping[str, Contact]
    situations: tuple[Situation, ...]
    national: National
    reminders: Reminders = Reminders()
    retention: Duration = Duration(24, "mo")
    source: Path | None = None

    @property
    def id(self) -> str:
        return self.organisation.id

    def contact(self, ref: str) -> Contact:
        """Resolve a reference (`sakerhet` or `national.112`); the loader checked it exists."""
        if ref.startswith(NATIONAL_PREFIX):
            return self.national.contacts[ref.removeprefix(NATIONAL_PREFIX)]
        return self.contacts[ref]

    def situation(self, situation_id: str) -> Situation | None:
        return next((s for s in self.situations if s.id == situation_id), None)

    def receiving_contacts(self) -> list[Contact]:
        return [c for c in self.contacts.values() if c.receives_reports]
