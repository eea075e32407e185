"""The outbox: every message to another person is queued in the database and sent from here.

`sender` sends what is queued (exactly once, through Bot API outages; it is the one module here
that speaks to Telegram), `pacing` keeps the sends within Telegram's limits. Building an item to
queue (`message`) and the sender itself are re-exported here, so the rest of the bot imports
`bot.outbox`; `bot.app` schedules its job (`schedule`).
"""

from bot.outbox.sender import (
    BACKOFF_MAX,
    BACKOFF_START,
    BATCH,
    DEFAULT_INTERVAL,
    GIVE_UP_AFTER,
    JOB_NAME,
    KICK_WAIT,
    MAX_IN_FLIGHT,
    PROGRESS_EVERY,
    Outbox,
    SendStats,
    backoff,
    message,
    schedule,
)

__all__ = [
    "BACKOFF_MAX",
    "BACKOFF_START",
    "BATCH",
    "DEFAULT_INTERVAL",
    "GIVE_UP_AFTER",
    "JOB_NAME",
    "KICK_WAIT",
    "MAX_IN_FLIGHT",
    "PROGRESS_EVERY",
    "Outbox",
    "SendStats",
    "backoff",
    "message",
    "schedule",
]
