"""Schema migrations, applied in order and counted by `PRAGMA user_version`.

`MIGRATIONS[n]` turns a database at version `n` into one at version `n + 1`. The list only grows:
a migration that has shipped is never edited, because databases in the field already ran it. Each
migration runs in one `BEGIN IMMEDIATE` transaction together with the bump of `user_version`, so a
crash or an error leaves the database at the version before, never half migrated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

import aiosqlite

# Version 1: users, their single membership and invite codes (the contact feature).
# STRICT tables refuse values of the wrong type, so a bug shows up as an error, not as a text
# "1" that compares unequal to the integer 1 months later.
_V1 = """
CREATE TABLE users (
    user_id     INTEGER PRIMARY KEY,  -- the Telegram user id: needed to send reminders later
    lang        TEXT,
    lang_chosen INTEGER NOT NULL DEFAULT 0 CHECK (lang_chosen IN (0, 1)),
    created_at  TEXT NOT NULL
) STRICT;

CREATE TABLE memberships (
    user_id        INTEGER PRIMARY KEY REFERENCES users (user_id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('member', 'coordinator', 'national')),
    contact_id     TEXT,
    joined_at      TEXT NOT NULL,
    digest_enabled INTEGER NOT NULL DEFAULT 1 CHECK (digest_enabled IN (0, 1))
) STRICT;

CREATE INDEX memberships_by_org ON memberships (org_id, role, contact_id);

-- code_hash is an HMAC of the code: the plain code, which is a credential, is never stored.
CREATE TABLE invites (
    code_hash  TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL,
    role       TEXT NOT NULL CHECK (role IN ('member', 'coordinator', 'national')),
    contact_id TEXT,
    uses_left  INTEGER CHECK (uses_left IS NULL OR uses_left >= 0),  -- NULL: unlimited
    expires_at TEXT,                                                  -- NULL: never
    created_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"""

# Version 2: incident reports, their drafts, the link back to a reporter who asked to be
# contacted, what a chat's next free text is for, and the outbox of messages still to send.
# Nothing in `reports` refers to a Telegram user: the only way from a report to a person is a row
# of `report_links`, whose chat id is sealed (bot/crypto.py) and whose owner is an HMAC tag.
_V2 = """
-- A half-filled report, one per user, saved after every step so it survives a restart. `data` is
-- JSON of the form's values (the description in it is already redacted) and the editing flag.
CREATE TABLE drafts (
    user_id    INTEGER PRIMARY KEY,  -- not a reference: a user may fill in a report before joining
    org_id     TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL
) STRICT;

CREATE INDEX drafts_by_age ON drafts (updated_at);

-- AUTOINCREMENT: an id is never reused after a purge, so a stale id (in a queued message or a
-- pending input) can never come to mean another report.
CREATE TABLE reports (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    ref             TEXT NOT NULL UNIQUE,
    org_id          TEXT NOT NULL,
    type            TEXT NOT NULL,
    channel         TEXT NOT NULL,
    month           TEXT NOT NULL CHECK (month GLOB '[0-9][0-9][0-9][0-9]-[0-9][0-9]'),
    repeated        INTEGER NOT NULL CHECK (repeated IN (0, 1)),
    perpetrator     TEXT NOT NULL,
    police          TEXT NOT NULL,
    impacts         TEXT NOT NULL,  -- comma-separated codes, '' for none
    gender          TEXT,
    description     TEXT,           -- redacted before it gets here
    contact_me      INTEGER NOT NULL CHECK (contact_me IN (0, 1)),
    state           TEXT NOT NULL CHECK (state IN ('new', 'acknowledged', 'closed')),
    created_at      TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by TEXT,           -- a contact id of the routine, never a person
    closed_at       TEXT,
    reminded_at     TEXT,
    escalated_at    TEXT
) STRICT;

CREATE INDEX reports_by_org_state ON reports (org_id, state);
CREATE INDEX reports_by_created ON reports (created_at);

-- Only for reporters who asked to be contacted, and only while the follow-up lasts.
CREATE TABLE report_links (
    report_id   INTEGER PRIMARY KEY REFERENCES reports (id) ON DELETE CASCADE,
    owner_tag   TEXT NOT NULL,   -- HMAC of the user id: finds "my reports", names no one
    chat_sealed BLOB NOT NULL,   -- the chat id, encrypted with the secret key
    shared      INTEGER NOT NULL DEFAULT 0 CHECK (shared IN (0, 1)),
    created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX report_links_by_owner ON report_links (owner_tag);

-- What the next free text of a chat is for (a coordinator's reply, a reporter's answer or added
-- information). `key` is the owner tag of whoever will write, never a plain id.
CREATE TABLE pending_inputs (
    key        TEXT PRIMARY KEY,
    action     TEXT NOT NULL,
    report_id  INTEGER NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    created_at TEXT NOT NULL
) STRICT;

CREATE INDEX pending_inputs_by_report ON pending_inputs (report_id);

-- Messages to send, sent once each: `dedupe` makes enqueueing idempotent, and a row is marked
-- sent only after Telegram accepted it. `chat_id` NULL means the reporter of `report_id`, whose
-- chat is looked up (and unsealed) only when sending. The payload is sealed JSON, emptied once
-- sent or given up.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe          TEXT NOT NULL UNIQUE,
    chat_id         INTEGER,
    report_id       INTEGER REFERENCES reports (id) ON DELETE CASCADE,
    payload         BLOB NOT NULL,
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    dead_reason     TEXT,  -- a short code ('blocked', 'bad_request', ...), never message text
    CHECK (chat_id IS NOT NULL OR report_id IS NOT NULL)
) STRICT;

CREATE INDEX outbox_due ON outbox (urgent DESC, next_attempt_at)
    WHERE sent_at IS NULL AND dead_reason IS NULL;
CREATE INDEX outbox_by_report ON outbox (report_id);

-- Chats that answered 403 (the bot was blocked). Coordinators' chats only: a reporter's chat id is
-- never written here, or anywhere else, in plain.
CREATE TABLE blocked_chats (
    chat_id INTEGER PRIMARY KEY,
    since   TEXT NOT NULL
) STRICT;
"""

# Version 3: reminders. A row per reminder period acted on (`digest:solvik:2026-Q4`,
# `ack:R-ABC123:1`, ...), written in the same transaction as the messages it queued, so a period
# is queued once, across restarts, however often the job runs. The key names an organisation, a
# report reference or a week, never a person.
_V3 = """
CREATE TABLE reminders_sent (
    key     TEXT PRIMARY KEY,
    sent_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;
"""

# Version 4: statistics. Counts of reports per organisation, month and coded field, kept by
# triggers in the same transaction as every insert, delete or change of a report, so they always
# equal what `reports` holds (a purged report leaves its counts too). `/statistik` and `trygg
# stats` read these, a few hundred rows per organisation and year, instead of the reports. A
# count names no one; bot/stats/suppress.py decides which may be shown. `dim` is 'all' (code
# ''), 'type', 'channel', 'police' or 'impact' (a report counts once per impact it names; the
# comma list becomes JSON for json_each). The backfill counts the reports already stored.
_V4 = """
CREATE TABLE report_counts (
    org_id TEXT NOT NULL,
    month  TEXT NOT NULL,
    dim    TEXT NOT NULL,
    code   TEXT NOT NULL,
    n      INTEGER NOT NULL CHECK (n > 0),
    PRIMARY KEY (org_id, month, dim, code)
) STRICT, WITHOUT ROWID;

-- The national view sums every organisation by month: this index holds all it reads, in order.
CREATE INDEX report_counts_by_month ON report_counts (month, dim, code, org_id, n);

-- The export reads one organisation's reports of a range of months.
CREATE INDEX reports_by_org_month ON reports (org_id, month);

CREATE TRIGGER report_counts_insert AFTER INSERT ON reports BEGIN
    INSERT INTO report_counts (org_id, month, dim, code, n)
    SELECT NEW.org_id, NEW.month, c.dim, c.code, 1 FROM (
        SELECT 'all' AS dim, '' AS code
        UNION ALL SELECT 'type', NEW.type
        UNION ALL SELECT 'channel', NEW.channel
        UNION ALL SELECT 'police', NEW.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(NEW.impacts, ',', '","') || '"]') WHERE value != ''
    ) AS c WHERE true
    ON CONFLICT (org_id, month, dim, code) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER report_counts_delete AFTER DELETE ON reports BEGIN
    DELETE FROM report_counts
    WHERE org_id = OLD.org_id AND month = OLD.month AND n = 1 AND (dim, code) IN (
        SELECT 'all', '' UNION ALL SELECT 'type', OLD.type
        UNION ALL SELECT 'channel', OLD.channel UNION ALL SELECT 'police', OLD.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(OLD.impacts, ',', '","') || '"]') WHERE value != ''
    );
    UPDATE report_counts SET n = n - 1
    WHERE org_id = OLD.org_id AND month = OLD.month AND (dim, code) IN (
        SELECT 'all', '' UNION ALL SELECT 'type', OLD.type
        UNION ALL SELECT 'channel', OLD.channel UNION ALL SELECT 'police', OLD.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(OLD.impacts, ',', '","') || '"]') WHERE value != ''
    );
END;

-- No code changes these columns today; if some ever does, the counts move with the report.
CREATE TRIGGER report_counts_update
AFTER UPDATE OF org_id, month, type, channel, police, impacts ON reports BEGIN
    DELETE FROM report_counts
    WHERE org_id = OLD.org_id AND month = OLD.month AND n = 1 AND (dim, code) IN (
        SELECT 'all', '' UNION ALL SELECT 'type', OLD.type
        UNION ALL SELECT 'channel', OLD.channel UNION ALL SELECT 'police', OLD.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(OLD.impacts, ',', '","') || '"]') WHERE value != ''
    );
    UPDATE report_counts SET n = n - 1
    WHERE org_id = OLD.org_id AND month = OLD.month AND (dim, code) IN (
        SELECT 'all', '' UNION ALL SELECT 'type', OLD.type
        UNION ALL SELECT 'channel', OLD.channel UNION ALL SELECT 'police', OLD.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(OLD.impacts, ',', '","') || '"]') WHERE value != ''
    );
    INSERT INTO report_counts (org_id, month, dim, code, n)
    SELECT NEW.org_id, NEW.month, c.dim, c.code, 1 FROM (
        SELECT 'all' AS dim, '' AS code
        UNION ALL SELECT 'type', NEW.type
        UNION ALL SELECT 'channel', NEW.channel
        UNION ALL SELECT 'police', NEW.police
        UNION ALL SELECT 'impact', value
            FROM json_each('["' || replace(NEW.impacts, ',', '","') || '"]') WHERE value != ''
    ) AS c WHERE true
    ON CONFLICT (org_id, month, dim, code) DO UPDATE SET n = n + 1;
END;

INSERT INTO report_counts (org_id, month, dim, code, n)
SELECT org_id, month, dim, code, COUNT(*) FROM (
    SELECT org_id, month, 'all' AS dim, '' AS code FROM reports
    UNION ALL SELECT org_id, month, 'type', type FROM reports
    UNION ALL SELECT org_id, month, 'channel', channel FROM reports
    UNION ALL SELECT org_id, month, 'police', police FROM reports
    UNION ALL SELECT r.org_id, r.month, 'impact', j.value
        FROM reports r, json_each('["' || replace(r.impacts, ',', '","') || '"]') j
        WHERE j.value != ''
)
GROUP BY org_id, month, dim, code;
"""

# Version 5: no Telegram id in clear (issue 14). A member is stored under a keyed hash of their
# user id (`member_key`, bot/crypto.py), the chat to write to is sealed, and "blocked" is a state
# of the member (`users.blocked_on`), not a table of chat ids. A queued message names its
# recipient the same way. Join and creation times are kept as a month and a day. The old tables
# are renamed `legacy_*` here; turning their ids into keys needs the secret key, which SQL does
# not have, so `Database.open` converts and drops them right after (bot/storage/db.py,
# `_convert_legacy`), in one transaction. A database whose tables hold no rows is done at once.
_V5 = """
DROP INDEX memberships_by_org;
DROP INDEX drafts_by_age;
DROP INDEX outbox_due;
DROP INDEX outbox_by_report;
ALTER TABLE memberships RENAME TO legacy_memberships;
ALTER TABLE users RENAME TO legacy_users;
ALTER TABLE drafts RENAME TO legacy_drafts;
ALTER TABLE outbox RENAME TO legacy_outbox;
ALTER TABLE blocked_chats RENAME TO legacy_blocked_chats;

CREATE TABLE users (
    member_key  TEXT PRIMARY KEY,     -- keyed hash of the Telegram user id, names no one
    chat_sealed BLOB NOT NULL,        -- the private chat id, sealed: to send reminders later
    lang        TEXT,
    lang_chosen INTEGER NOT NULL DEFAULT 0 CHECK (lang_chosen IN (0, 1)),
    created_at  TEXT NOT NULL,        -- the first of the month: never when exactly
    blocked_on  TEXT                  -- the day the bot was blocked (403), NULL while it is not
) STRICT;

CREATE TABLE memberships (
    member_key     TEXT PRIMARY KEY REFERENCES users (member_key) ON DELETE CASCADE,
    org_id         TEXT NOT NULL,
    role           TEXT NOT NULL CHECK (role IN ('member', 'coordinator', 'national')),
    contact_id     TEXT,
    joined_at      TEXT NOT NULL,     -- the first of the month: a join must not date a report
    digest_enabled INTEGER NOT NULL DEFAULT 1 CHECK (digest_enabled IN (0, 1))
) STRICT;

CREATE INDEX memberships_by_org ON memberships (org_id, role, contact_id);

CREATE TABLE drafts (
    member_key TEXT PRIMARY KEY,      -- not a reference: a user may fill in a report before joining
    org_id     TEXT NOT NULL,
    step       TEXT NOT NULL,
    data       TEXT NOT NULL,
    updated_at TEXT NOT NULL          -- the day: old drafts are purged after days
) STRICT;

CREATE INDEX drafts_by_age ON drafts (updated_at);

-- `member_key` NULL means the reporter of `report_id` (its sealed link). A message about a report
-- carries its `report_id` whoever it goes to, so forgetting the report forgets the message.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedupe          TEXT NOT NULL UNIQUE,
    member_key      TEXT,
    chat_sealed     BLOB,
    report_id       INTEGER REFERENCES reports (id) ON DELETE CASCADE,
    payload         BLOB NOT NULL,
    urgent          INTEGER NOT NULL DEFAULT 0 CHECK (urgent IN (0, 1)),
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    dead_reason     TEXT,
    CHECK ((member_key IS NULL) = (chat_sealed IS NULL)),
    CHECK (member_key IS NOT NULL OR report_id IS NOT NULL)
) STRICT;

CREATE INDEX outbox_due ON outbox (urgent DESC, next_attempt_at)
    WHERE sent_at IS NULL AND dead_reason IS NULL;
CREATE INDEX outbox_by_report ON outbox (report_id);
CREATE INDEX outbox_by_member ON outbox (member_key);

-- Messages to reporters hold no id: they move as they are.
INSERT INTO outbox (id, dedupe, member_key, chat_sealed, report_id, payload, urgent, attempts,
                    next_attempt_at, created_at, sent_at, dead_reason)
SELECT id, dedupe, NULL, NULL, report_id, payload, urgent, attempts, next_attempt_at, created_at,
       sent_at, dead_reason
FROM legacy_outbox WHERE chat_id IS NULL;
DELETE FROM legacy_outbox WHERE chat_id IS NULL;

-- A report is dated by its day; the exact moment is kept only while the acknowledgement
-- reminder counts from it (`ack_from`, cleared when the report is acknowledged or closed).
ALTER TABLE reports ADD COLUMN ack_from TEXT;
UPDATE reports SET ack_from = created_at WHERE state = 'new';
UPDATE reports SET created_at = substr(created_at, 1, 10) || 'T00:00:00.000000+00:00';
UPDATE report_links SET created_at = substr(created_at, 1, 10) || 'T00:00:00.000000+00:00';
UPDATE reports SET
    acknowledged_at = substr(acknowledged_at, 1, 10) || 'T00:00:00.000000+00:00',
    closed_at = substr(closed_at, 1, 10) || 'T00:00:00.000000+00:00',
    reminded_at = substr(reminded_at, 1, 10) || 'T00:00:00.000000+00:00',
    escalated_at = substr(escalated_at, 1, 10) || 'T00:00:00.000000+00:00';
"""


# Version 6: a reporter's relay answer waits, anonymised and sealed, until they press Send
# (issue 14.5): they see first what the coordinator will receive. NULL for other pending inputs.
_V6_STAGED_ANSWER = """
ALTER TABLE pending_inputs ADD COLUMN payload BLOB;
"""


# Version 7: "don't know" and "still going on" as answers. The answer about repetition as its code;
# `repeated` stays (1 for ja and pagar) so older readers still work. A month the reporter did
# not know: `month` holds the month the report was sent, `month_code` says so.
_V7_REPEATED_CODE = """
ALTER TABLE reports ADD COLUMN repeated_code TEXT
    CHECK (repeated_code IS NULL OR repeated_code IN ('ja', 'nej', 'pagar', 'vet_inte'));
ALTER TABLE reports ADD COLUMN month_code TEXT
    CHECK (month_code IS NULL OR month_code IN ('vet_inte'));
"""


# Version 8: the check value of the secret key (an HMAC of a fixed label; bot/datadir.py), so a
# database restored beside the wrong key is refused at start with a message.
_V8_KEY_CHECK = """
CREATE TABLE key_check (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value TEXT NOT NULL
) STRICT;
"""

# Version 9: the inbox of updates fetched but not yet handled, and the reporter's language.
# An update is stored (sealed: it holds free text) before Telegram is told it was received, and
# deleted once it was handled; `inbox_mark` keeps the highest update id ever stored, so an update
# Telegram sends again after a crash is not handled twice. `lang_sealed` keeps the language of a
# reporter who asked to be contacted, sealed beside the sealed chat id, for follow-ups and relays.
_V9_INBOX = """
CREATE TABLE inbox (
    update_id   INTEGER PRIMARY KEY,
    payload     BLOB NOT NULL,   -- the update as JSON, sealed with the secret key
    received_at TEXT NOT NULL
) STRICT;

CREATE TABLE inbox_mark (
    id             INTEGER PRIMARY KEY CHECK (id = 1),
    last_update_id INTEGER NOT NULL
) STRICT;

-- The reference a report got from the update that sent it (sealed), kept only while that update
-- is in the inbox: handled again after a crash, it shows the reporter their reference instead of
-- "no report under way". Deleted with the inbox row.
CREATE TABLE receipts (
    update_id INTEGER PRIMARY KEY,
    payload   BLOB NOT NULL
) STRICT;

ALTER TABLE report_links ADD COLUMN lang_sealed BLOB;
"""

MIGRATIONS: tuple[str, ...] = (
    _V1,
    _V2,
    _V3,
    _V4,
    _V5,
    _V6_STAGED_ANSWER,
    _V7_REPEATED_CODE,
    _V8_KEY_CHECK,
    _V9_INBOX,
)
"""Ordered migration scripts; the schema version of the code is `len(MIGRATIONS)`."""


class MigrationError(RuntimeError):
    """The database cannot be brought to the schema this code expects."""


def split_statements(script: str) -> list[str]:
    """Split a script into complete statements.

    `executescript` would be simpler, but in Python 3.11 it commits any open transaction first,
    which would let a migration run outside the transaction that also bumps the version.
    `sqlite3.complete_statement` knows about strings, comments and trigger bodies, so a `;`
    inside them does not cut a statement short.
    """
    statements: list[str] = []
    buffer = ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \t\r\n;"):  # skip the empty statement after the last `;`
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip(" \t\r\n;"):
        raise MigrationError(f"unterminated string or trigger in a migration: {buffer!r}")
    return statements


async def schema_version(conn: aiosqlite.Connection) -> int:
    """The version the database file says it is at."""
    async with conn.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None  # PRAGMA user_version always answers
    return int(row[0])


async def migrate(conn: aiosqlite.Connection, migrations: Sequence[str] = MIGRATIONS) -> int:
    """Apply the migrations the database has not run yet; return the resulting version.

    The connection must be in autocommit mode (`isolation_level=None`) so that the transactions
    here are the only ones. The version is read again after `BEGIN IMMEDIATE` has taken the write
    lock: if another process migrated in the meantime, its work is not repeated.
    """
    target = len(migrations)
    version = await schema_version(conn)
    if version > target:
        raise MigrationError(
            f"the database is at schema version {version}, but this version of the bot only "
            f"knows {target}: run a newer version of the bot, or restore a backup made by this one"
        )
    while version < target:
        try:
            await _run(conn, "BEGIN IMMEDIATE")
            version = await schema_version(conn)
            if version < target:
                for statement in split_statements(migrations[version]):
                    await _run(conn, statement)
                version += 1
                # PRAGMA takes no parameters; `version` is an int we computed, never input.
                await _run(conn, f"PRAGMA user_version = {version:d}")
        except BaseException:
            await rollback(conn)
            raise
        await _run(conn, "COMMIT")
    return version


async def rollback(conn: aiosqlite.Connection) -> None:
    """Roll back whatever transaction is open, once the statements already queued have run.

    A cancelled caller stops waiting, but its statements (even its BEGIN) still run on the
    connection's thread, and some errors end the transaction inside SQLite. `in_transaction`
    cannot be trusted at that moment, so ROLLBACK is queued behind them unconditionally and
    "no transaction is active" is not an error here.
    """
    try:
        await _run(conn, "ROLLBACK")
    except sqlite3.OperationalError as error:
        if "no transaction is active" not in str(error):
            raise


async def _run(conn: aiosqlite.Connection, sql: str) -> None:
    async with conn.execute(sql):
        pass
