"""Storage: one aiosqlite connection, migrations by `PRAGMA user_version`, and all queries.

Import from here; the rest of the bot sees frozen dataclasses, never rows or SQL.
"""

from bot.storage.db import (
    Database,
    InviteFailure,
    InviteRow,
    Membership,
    Redemption,
    Role,
    StorageError,
    User,
    from_db_time,
    invite_refusal,
    to_db_time,
)
from bot.storage.migrations import MIGRATIONS, MigrationError

__all__ = [
    "MIGRATIONS",
    "Database",
    "InviteFailure",
    "InviteRow",
    "Membership",
    "MigrationError",
    "Redemption",
    "Role",
    "StorageError",
    "User",
    "from_db_time",
    "invite_refusal",
    "to_db_time",
]
