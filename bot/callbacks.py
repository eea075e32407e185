"""Callback data of inline buttons: made and parsed in one place.

Buttons carry no state beyond an action and one argument, so a button still works after a
restart, and anything not made here (forged, from an old version) parses to None and gets a
clear answer instead of a crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DATA = re.compile(r"^(?P<action>[a-z]{1,8}):(?P<arg>[A-Za-z0-9_.-]{0,60})$")
ACTIONS = frozenset(
    {"sit", "lang", "join", "forget", "menu", "rep", "case", "relay", "mine", "remind", "stats"}
)


@dataclass(frozen=True)
class Callback:
    action: str
    arg: str


def _make(action: str, arg: str = "") -> str:
    data = f"{action}:{arg}"
    if not _DATA.match(data) or action not in ACTIONS:
        raise ValueError(f"invalid callback data {data!r}")
    return data


def situation(situation_id: str) -> str:
    return _make("sit", situation_id)


def language(lang: str) -> str:
    return _make("lang", lang)


def join(code: str) -> str:
    """Confirm joining with an invite code; `-` declines."""
    return _make("join", code)


def forget(confirm: bool) -> str:
    return _make("forget", "yes" if confirm else "no")


def menu() -> str:
    return _make("menu")


def report(arg: str) -> str:
    """A button of the report form: `start.<situation>`, `set.<field>.<code>`, `send`, ..."""
    return _make("rep", arg)


def case(arg: str) -> str:
    """A coordinator's button under a report: `ack.<ref>`, `reply.<ref>`, `close.<ref>`."""
    return _make("case", arg)


def relay(arg: str) -> str:
    """A reporter's button under a relayed message: `answer.<ref>`, `share.<ref>`."""
    return _make("relay", arg)


def mine(arg: str) -> str:
    """A button of /mina: `add.<ref>`, `del.<ref>`, `delyes.<ref>`."""
    return _make("mine", arg)


def reminders(on: bool) -> str:
    """The switch under /paminnelser: turn the member's reminders on or off."""
    return _make("remind", "on" if on else "off")


def stats(arg: str) -> str:
    """A button under /statistik: `xlsx`, the Excel file."""
    return _make("stats", arg)


def parse(data: str | None) -> Callback | None:
    """The callback behind `data`, or None when the bot did not make it."""
    if not data:
        return None
    found = _DATA.match(data)
    if found is None or found["action"] not in ACTIONS:
        return None
    return Callback(found["action"], found["arg"])
