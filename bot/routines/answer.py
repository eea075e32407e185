"""The answer to "whom do I contact?": a situation's steps resolved for one moment.

Pure domain logic: which contacts a situation names, whether each is reachable now, and whom to
call instead when one is closed. Rendering (HTML, buttons) happens at the Telegram edge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.routines.hours import is_open, next_opening
from bot.routines.models import NATIONAL_PREFIX, Contact, National, Routine, Situation, Step

EMERGENCY_REF = NATIONAL_PREFIX + "112"


@dataclass(frozen=True)
class Reachability:
    """A contact at one moment; `instead` is the after-hours chain offered while it is closed."""

    contact: Contact
    open_now: bool
    opens_at: datetime | None
    instead: tuple[Reachability, ...] = ()


@dataclass(frozen=True)
class ResolvedStep:
    step: Step
    reach: Reachability | None


@dataclass(frozen=True)
class Answer:
    situation: Situation
    steps: tuple[ResolvedStep, ...]
    organisation: str | None
    default_language: str


Source = Routine | National


def situations_for(source: Source) -> tuple[Situation, ...]:
    """The situations an official sees: the organisation's own, then national ones it lacks.

    Urgent situations come first so that immediate danger is always the first button.
    """
    own = list(source.situations)
    if isinstance(source, Routine):
        known = {s.id for s in own}
        own += [s for s in source.national.situations if s.id not in known]
    return tuple(sorted(own, key=lambda s: not s.urgent))


def find_situation(source: Source, situation_id: str) -> Situation | None:
    return next((s for s in situations_for(source) if s.id == situation_id), None)


def _lookup(source: Source, ref: str) -> Contact | None:
    if isinstance(source, Routine):
        try:
            return source.contact(ref)
        except KeyError:
            return None
    return source.contacts.get(ref.removeprefix(NATIONAL_PREFIX))


def _timezone(source: Source) -> str:
    return source.organisation.timezone if isinstance(source, Routine) else source.timezone


def reachability(source: Source, ref: str, at: datetime) -> Reachability | None:
    """Whether the contact `ref` is reachable at `at`, with its after-hours chain when closed."""
    tz = _timezone(source)
    chain: list[Reachability] = []
    seen: set[str] = set()
    first: Reachability | None = None
    current: str | None = ref
    while current is not None and current not in seen:
        seen.add(current)
        contact = _lookup(source, current)
        if contact is None:
            break
        open_now = is_open(contact.hours, at, tz)
        reach = Reachability(
            contact=contact,
            open_now=open_now,
            opens_at=None if open_now else next_opening(contact.hours, at, tz),
        )
        if first is None:
            first = reach
        else:
            chain.append(reach)
        if open_now:
            break
        current = _qualify(contact.after_hours, current)
    if first is None:
        return None
    return Reachability(first.contact, first.open_now, first.opens_at, tuple(chain))


def _qualify(ref: str | None, within: str) -> str | None:
    """After-hours refs inside the national file are to national contacts."""
    if ref is None:
        return None
    if within.startswith(NATIONAL_PREFIX) and not ref.startswith(NATIONAL_PREFIX):
        return NATIONAL_PREFIX + ref
    return ref


class _MinuteMemo:
    """The answers of the current minute, by source and situation object.

    An answer depends on its moment only through office hours, which are whole minutes: within
    a minute, every moment gives the same answer (`opens_at` is None while open, and a closed
    contact's next opening is a whole minute or a clock change, which falls on one too). So
    the many people who ask in the same minute share one answer. The entry keeps its source
    and situation alive, so an `id()` cannot be reused while it is cached; the memo starts
    again every minute, and a reload makes new objects, which miss.
    """

    _LIMIT = 4096

    def __init__(self) -> None:
        self._minute: datetime | None = None
        self._entries: dict[tuple[int, int], tuple[Source, Situation, Answer]] = {}

    def get(self, source: Source, situation: Situation, at: datetime) -> Answer:
        minute = at.replace(second=0, microsecond=0)
        if minute != self._minute or len(self._entries) >= self._LIMIT:
            self._minute = minute
            self._entries = {}
        key = (id(source), id(situation))
        entry = self._entries.get(key)
        if entry is not None and entry[0] is source and entry[1] is situation:
            return entry[2]
        found = _answer(source, situation, minute)
        self._entries[key] = (source, situation, found)
        return found


_memo = _MinuteMemo()


def answer(source: Source, situation: Situation, at: datetime) -> Answer:
    """Resolve every step of `situation` for the moment `at`.

    Immediate danger always starts with 112, whatever a file says: it is prepended here too, so
    the promise holds even for a situation built outside the loader.
    """
    return _memo.get(source, situation, at)


def _answer(source: Source, situation: Situation, at: datetime) -> Answer:
    steps: list[Step] = list(situation.steps)
    if situation.urgent and (not steps or steps[0].contact != EMERGENCY_REF):
        steps.insert(0, Step(contact=EMERGENCY_REF))
    resolved = tuple(
        ResolvedStep(s, reachability(source, s.contact, at) if s.contact else None) for s in steps
    )
    if isinstance(source, Routine):
        return Answer(
            situation, resolved, source.organisation.name, source.organisation.default_language
        )
    return Answer(situation, resolved, None, source.default_language)
