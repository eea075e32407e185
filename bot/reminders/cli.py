"""`trygg remind --org ID`: queue the routine digest to every member of an organisation now.

It only writes to the outbox in the database (`TRYGG_DATA_DIR`); the running bot's outbox job
finds the messages within its interval (5 seconds) and sends them at Telegram's pace. Without a
running bot they wait in the database until it starts.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from bot.config import Settings
from bot.crypto import Sealer
from bot.datadir import open_database, prepare_data_dir
from bot.outbox import DEFAULT_INTERVAL
from bot.outbox.pacing import RATE
from bot.reminders.jobs import queue_digest
from bot.reminders.schedule import local_now
from bot.routines.registry import RoutineRegistry


async def remind(org_id: str, settings: Settings, now: datetime | None = None) -> int:
    """Queue the digest of `org_id`; print how many; exit status 0, or 2 for an unknown org."""
    registry = RoutineRegistry(settings.routines_dir)
    registry.reload()
    routine = registry.get(org_id)
    if routine is None:
        known = ", ".join(r.id for r in registry.organisations()) or "none"
        print(f"trygg: no organisation {org_id!r} is loaded (known: {known})", file=sys.stderr)
        return 2
    data_dir = prepare_data_dir(settings.data_dir, settings.key_file)
    moment = datetime.now(UTC) if now is None else now
    sealer = Sealer(data_dir.secret_key)
    async with await open_database(data_dir) as db:
        count, not_before = await queue_digest(db, sealer, routine, moment)
    print(f"queued {count} digest(s) to the members of {org_id}")
    when = f"within {DEFAULT_INTERVAL:.0f} seconds"
    if not_before is not None:
        at = local_now(not_before, routine.organisation.timezone).strftime("%Y-%m-%d %H:%M")
        when = f"after the quiet hours, at {at} ({routine.organisation.timezone})"
    print(
        f"(the running bot sends them {when}, at most {RATE:.0f} a second)",
        file=sys.stderr,
    )
    return 0
