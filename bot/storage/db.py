"""All SQL of trygg: typed queries that return frozen dataclasses, over two connections to one
file (aiosqlite's, and a plain one on the event loop's thread for what takes microseconds).

The rest of the bot never sees a row or a cursor. Keeping every statement in this module means a
reviewer can check in one place what is stored about people who are being threatened, and that
deleting it really deletes it.

Three rules hold throughout:
- Time comes in as an argument (`now`), never from the clock here, so tests and the scheduler
  decide what "now" is. Stored times are fixed-width ISO-8601 UTC strings, which compare in SQL
  in the same order as the moments they stand for.
- Every public method is one unit of work, one transaction: it runs inline without an await, or
  on aiosqlite's thread under a lock, so two coroutines never interleave statements inside each
  other's transaction.
- Deleted means gone from the file: `secure_delete` zeroes freed content, and every method that
  deletes personal data (`forget_user`, `forget_owner`, `delete_report`, `purge_reports`)
  checkpoints the write-ahead log with TRUNCATE afterwards, so older copies of the pages do not
  linger there either. `vacuum` rebuilds the whole file on top of that.

No Telegram id is stored in clear (schema v5). Methods still take the user id, as the handlers
know it; here it becomes the member's *member key* (a keyed hash, `Sealer.member_key`) to find
them, and their chat id is stored sealed, to write to them. "Blocked" is a state of the member
(`users.blocked_on`). A queued message names its recipient the same way, and carries the id of
the report it is about, whoever it goes to, so forgetting a report forgets what is queued about
it. Times are stored only as precisely as a reminder needs: a member's first contact and join as
the month, a report as the day (with `ack_from`, the moment, while its acknowledgement reminder
may still fall due), a link and a draft as the day.

Reports never refer to a Telegram user. The only way back from a report to a person is its row
in `report_links`, kept only when the reporter asked to be contacted, holding an owner tag (a
keyed hash under another key than the member key) and the sealed chat id. Queued messages
(`outbox`) are sealed as well, and emptied once sent.
"""

from __future__ import annotations

from bot.storage.core import _Core
from bot.storage.inbox import InboxQueries
from bot.storage.members import MembersQueries
from bot.storage.outbox import OutboxQueries
from bot.storage.reminders import ReminderQueries
from bot.storage.reports import ReportQueries
from bot.storage.stats import StatsQueries


class Database(
    MembersQueries,
    ReportQueries,
    ReminderQueries,
    OutboxQueries,
    StatsQueries,
    InboxQueries,
    _Core,
):
    """The bot's connections to its SQLite file. Create it with `await Database.open(path)`.

    Its queries live by table group, one mixin each: members and invites (`members.py`); reports,
    drafts, links and pending inputs (`reports.py`); the outbox (`outbox.py`); reminders
    (`reminders.py`); statistics (`stats.py`). The connection, transactions and keys are in
    `core.py`, the records it returns in `records.py`.
    """
