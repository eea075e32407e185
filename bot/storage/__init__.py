"""Storage: the connections, migrations by `PRAGMA user_version`, and all queries.

Import from here; the rest of the bot sees frozen dataclasses, never rows or SQL. Inside, the
queries live by table group (`members`, `reports`, `outbox`, `reminders`, `stats`) as mixins of
one `Database` (`db`), on a core of connection, transactions and keys (`core`); the records they
return are in `records`, which imports no domain package.
"""

from bot.storage.core import (
    COORDINATOR_PENDING_PREFIX,
    from_db_time,
    to_db_time,
)
from bot.storage.db import Database
from bot.storage.members import invite_refusal
from bot.storage.migrations import (
    MIGRATIONS,
    MigrationError,
    migrate,
    schema_version,
    split_statements,
)
from bot.storage.records import (
    FIRST_STEP,
    IMPACTS,
    REPEATED,
    CountRow,
    Draft,
    DuplicateReference,
    InviteFailure,
    InviteRow,
    Membership,
    OutboxItem,
    OutboxRow,
    Redemption,
    Report,
    Role,
    State,
    StorageError,
    User,
)

__all__ = [
    "COORDINATOR_PENDING_PREFIX",
    "FIRST_STEP",
    "IMPACTS",
    "MIGRATIONS",
    "REPEATED",
    "CountRow",
    "Database",
    "Draft",
    "DuplicateReference",
    "InviteFailure",
    "InviteRow",
    "Membership",
    "MigrationError",
    "OutboxItem",
    "OutboxRow",
    "Redemption",
    "Report",
    "Role",
    "State",
    "StorageError",
    "User",
    "from_db_time",
    "invite_refusal",
    "migrate",
    "schema_version",
    "split_statements",
    "to_db_time",
]
