"""Opening hours of contacts: parsing `hours` lines and telling whether a contact is open.

STUB: the signatures are fixed; the implementation is being written.
"""

from __future__ import annotations

from datetime import datetime

from bot.routines.models import Hours


def parse_hours(lines: list[str]) -> Hours:
    """Parse the `hours` list of a contact; raise ValueError with a readable message."""
    raise NotImplementedError


def is_open(hours: Hours, at: datetime, timezone: str) -> bool:
    """Whether `hours` are open at the aware moment `at`, in the organisation's `timezone`."""
    raise NotImplementedError
