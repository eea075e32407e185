"""What users do, logged as counts at intervals: never one line per event.

A line "a member joined solvik" followed 0.2 s later by "report submitted for solvik" tells
whoever reads the log who reported. So joins, reports, deletions and forgettings are only
counted here, and `log_activity` writes one line per interval with the counts, whatever
happened in it (zeros included, so that the line itself tells nothing either).
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any

log = logging.getLogger(__name__)

INTERVAL_SECONDS = 3600
"""How often the counts are logged: wide enough that a count names no one by its timing."""

JOB_NAME = "activity-log"

EVENTS = ("joins", "reports", "deleted_reports", "forgotten")
"""Every kind counted, in the order the line gives them."""

_counts: Counter[str] = Counter()


def count(event: str) -> None:
    """Count one `event` (one of `EVENTS`) for the next line."""
    if event not in EVENTS:
        raise ValueError(f"unknown activity {event!r}")
    _counts[event] += 1


def take_line() -> str:
    """The line for the interval that ends now; the counts start again from zero."""
    line = "last interval: " + ", ".join(f"{_counts[e]} {e.replace('_', ' ')}" for e in EVENTS)
    _counts.clear()
    return line


async def log_activity(context: Any = None) -> None:
    """Job: log the counts of the interval (scheduled every `INTERVAL_SECONDS`)."""
    log.info("%s", take_line())
