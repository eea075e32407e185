"""Rendered answers and situation menus, kept while nothing they show can have changed.

An answer depends on the routine, the situation, the language, the time zone, the room left for
a footer, and who can be reached at this moment (and from when the others can). The last one is
what `answer()` computes per update, cheaply; rendering it into a phone-sized message is the
costly part, and is the same for every official of an organisation who asks within the same
period of opening hours. So the key holds that reachability state itself: when a contact opens
or closes, or the hour of "can be reached from mån 08:00" moves, the key changes and the answer
is rendered again. There is no timer to invalidate.

A routine reload makes new `Routine` objects, and the cache is keyed by the object's identity
(checked, not only its `id()`, so a recycled address can never serve another routine's text),
so a reload invalidates every answer of that organisation at once. Membership changes need no
invalidation: the member's routine and language are part of the key.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from bot.i18n import Html
from bot.routines.answer import Answer, Reachability, Source
from bot.routines.models import Situation

T = TypeVar("T")

# Enough for every situation of a few hundred organisations in two languages and a few states;
# an entry is one rendered message of at most a few kilobytes.
MAX_ENTRIES = 4096

_Reach = tuple[str, bool, datetime | None, tuple[object, ...]]


def _reach_key(reach: Reachability | None) -> _Reach | None:
    if reach is None:
        return None
    chain = tuple(_reach_key(alternative) for alternative in reach.instead)
    return (reach.contact.id, reach.open_now, reach.opens_at, chain)


def reachability_state(result: Answer) -> tuple[_Reach | None, ...]:
    """What of `result` changes with the clock: each step's contact, open or not, and when."""
    return tuple(_reach_key(step.reach) for step in result.steps)


class _Lru:
    """A small least-recently-used map whose entries remember the routine they were made of."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[Hashable, tuple[Source, Any]] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, source: Source, key: Hashable, make: Callable[[], T]) -> T:
        entry = self._entries.get(key)
        if entry is not None and entry[0] is source:
            self._entries.move_to_end(key)
            self.hits += 1
            value: T = entry[1]
            return value
        self.misses += 1
        value = make()
        self._entries[key] = (source, value)  # holding the source keeps its id() from reuse
        self._entries.move_to_end(key)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return value

    def clear(self) -> None:
        self._entries.clear()


class RenderCache:
    """Rendered answers and menus; one per application, in `Services`. It imports no telegram:
    the handlers hand it the callables that build their messages."""

    def __init__(self, size: int = MAX_ENTRIES) -> None:
        self._answers = _Lru(size)
        self._menus = _Lru(size // 8 or 1)
        self._keyboards = _Lru(size // 4 or 1)

    def answer(
        self,
        source: Source,
        result: Answer,
        lang: str,
        timezone: str,
        reserve: int,
        render: Callable[[], Html],
    ) -> Html:
        """`render()`'s text for this routine, situation, language and reachability state."""
        key = (
            id(source),
            result.situation.id,
            lang,
            timezone,
            reserve,
            reachability_state(result),
        )
        return self._answers.get(source, key, render)

    def menu(
        self, source: Source, situations: Sequence[Situation], lang: str, build: Callable[[], T]
    ) -> T:
        """The situation menu of this routine in this language (a keyboard is immutable)."""
        key = (id(source), lang, tuple(s.id for s in situations))
        return self._menus.get(source, key, build)

    def keyboard(self, source: Source, key: Hashable, build: Callable[[], T]) -> T:
        """A keyboard of this routine that `key` (its kind, situation, language...) tells
        apart from the others; kept as one object, which the sending side serialises once."""
        return self._keyboards.get(source, (id(source), key), build)

    @property
    def hits(self) -> int:
        return self._answers.hits + self._menus.hits + self._keyboards.hits

    @property
    def misses(self) -> int:
        return self._answers.misses + self._menus.misses + self._keyboards.misses

    def clear(self) -> None:
        self._answers.clear()
        self._menus.clear()
        self._keyboards.clear()
