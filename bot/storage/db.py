"""All SQL of trygg: one aiosqlite connection and typed queries that return frozen dataclasses.

The rest of the bot never sees a row or a cursor. Keeping every statement in this module means a
reviewer can check in one place what is stored about people who are being threatened, and that
deleting it really deletes it.

Three rules hold throughout:
- Time comes in as an argument (`now`), never from the clock here, so tests and the scheduler
  decide what "now" is. Stored times are fixed-width ISO-8601 UTC strings, which compare in SQL
  in the same order as the moments they stand for.
- Every public method is one unit of work: it holds a lock over the single connection, so two
  coroutines never interleave statements inside each other's transaction.
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

import asyncio
import enum
import json
import logging
import os
import re
import stat
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import aiosqlite

from bot.crypto import KEY_SIZE, Sealer, SealError
from bot.reports.model import Draft, Report, State
from bot.stats.aggregate import CountRow
from bot.storage.migrations import migrate, rollback

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another process's write lock (a CLI command, a backup)."""

DB_FILE_MODE = 0o600
"""Owner-only: the file names who is a member of which organisation."""

_SIDE_FILES = ("-wal", "-shm", "-journal")

Params = Mapping[str, Any]


class StorageError(RuntimeError):
    """The database cannot be used as this module requires (a setting did not take effect)."""


class Role(enum.StrEnum):
    """What a membership allows; the values are stored, so they never change."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    NATIONAL = "national"


class InviteFailure(enum.Enum):
    """Why an invite code cannot be used, in the order they are checked.

    The order matters for what the user is told: a code that has both expired and run out of
    uses is reported as expired, which is the reason the person who invited them can act on
    (send a fresh link).
    """

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


class DuplicateReference(Exception):
    """A report with this reference exists already; nothing was stored. Draw a new one, retry."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"report reference {ref} is taken")
        self.ref = ref


@dataclass(frozen=True)
class OutboxItem:
    """A message to queue: to a chat (a coordinator), or to the reporter of a report.

    `payload` is sealed JSON (`Sealer.seal_json`) of `{"text": html, "buttons": [[{"text",
    "callback_data"}]] | None, "photo": None}`: the database file never holds message text.
    `dedupe` names the logical message: queueing the same name twice sends it once, so it must
    be derived from what the message is about (`report:<ref>:<coordinator>`), never random, and
    never contain a reporter's id or text.

    A message to the reporter (`to_reporter=True`) has no chat id: the sender looks up the
    sealed chat of `report_id` when it sends, so a reporter who removed the link gets nothing.

    `not_before` holds a message back until then (a reminder queued in quiet hours waits for
    their end); None sends it as soon as the sender gets to it.
    """

    dedupe: str
    payload: bytes
    chat_id: int | None = None
    to_reporter: bool = False
    report_id: int | None = None
    urgent: bool = False
    not_before: datetime | None = None

    def __post_init__(self) -> None:
        if not self.dedupe:
            raise ValueError("an outbox item needs a dedupe key")
        if self.to_reporter and self.chat_id is not None:
            raise ValueError("a message to the reporter is addressed by report, never by chat id")
        if not self.to_reporter and self.chat_id is None:
            raise ValueError("an outbox item needs a chat_id, or to_reporter=True")


@dataclass(frozen=True)
class OutboxRow:
    """A queued message as stored. `chat_id` None: to the reporter of `report_id`."""

    id: int
    dedupe: str
    chat_id: int | None
    report_id: int | None
    payload: bytes
    urgent: bool
    attempts: int
    next_attempt_at: datetime
    created_at: datetime

    @property
    def to_reporter(self) -> bool:
        return self.chat_id is None


@dataclass(frozen=True)
class User:
    """A person who has talked to the bot. Stored under their member key, with their chat sealed
    (to send them reminders later); `created_at` is the first of the month they first wrote."""

    user_id: int
    lang: str | None
    lang_chosen: bool
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    """A user's one organisation and role; `contact_id` ties a coordinator to a routine contact.

    `joined_at` is the first of the month they joined: a join must not date a report."""

    user_id: int
    org_id: str
    role: Role
    contact_id: str | None
    joined_at: datetime
    digest_enabled: bool


@dataclass(frozen=True)
class InviteRow:
    """A stored invite. Only the HMAC of the code is kept, never the code itself."""

    code_hash: str
    org_id: str
    role: Role
    contact_id: str | None
    uses_left: int | None
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Redemption:
    """A used invite and, if a user was given, the membership it created and the one it ended."""

    invite: InviteRow
    membership: Membership | None
    replaced: Membership | None


def to_db_time(moment: datetime) -> str:
    """Fixed-width UTC text, so that string order in SQL is time order.

    A naive datetime is refused: guessing its zone is how an invite ends up expiring an hour
    early or late twice a year.
    """
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime {moment!r}: pass an aware datetime (UTC)")
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def to_db_day(moment: datetime) -> str:
    """The day of `moment` (UTC) in the format of `to_db_time`: midnight of that day.

    For what must not be dated finer than a day (a report, a link, a draft's last change).
    """
    day = datetime.fromisoformat(to_db_time(moment)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return day.isoformat(timespec="microseconds")


def to_db_month(moment: datetime) -> str:
    """The first of the month of `moment` (UTC) in the format of `to_db_time`.

    For when someone became a user or a member: a month cannot date a report.
    """
    day = datetime.fromisoformat(to_db_day(moment))
    return day.replace(day=1).isoformat(timespec="microseconds")


def from_db_time(text: str) -> datetime:
    """The aware datetime stored by `to_db_time`."""
    return datetime.fromisoformat(text)


def invite_refusal(invite: InviteRow | None, now: datetime) -> InviteFailure | None:
    """Why `invite` cannot be used at `now`, or None if it can.

    Mirrors the WHERE clause of the redeeming UPDATE; both treat `expires_at == now` as expired.
    """
    if invite is None:
        return InviteFailure.UNKNOWN
    if invite.expires_at is not None and invite.expires_at <= now:
        return InviteFailure.EXPIRED
    if invite.uses_left is not None and invite.uses_left <= 0:
        return InviteFailure.USED_UP
    return None


# --- statements ------------------------------------------------------------------------------

_USER_COLUMNS = "chat_sealed, lang, lang_chosen, created_at"
_MEMBERSHIP_COLUMNS = "member_key, org_id, role, contact_id, joined_at, digest_enabled"
_MEMBERSHIP_COLUMNS_M = ", ".join(f"m.{c.strip()}" for c in _MEMBERSHIP_COLUMNS.split(","))
_INVITE_COLUMNS = "code_hash, org_id, role, contact_id, uses_left, expires_at, created_at"

# Memberships with the sealed chat of their user, which gives back the user id (a private
# chat's id is its user's id).
_MEMBERS_SELECT = (
    f"SELECT {_MEMBERSHIP_COLUMNS_M}, u.chat_sealed FROM memberships m"
    " JOIN users u ON u.member_key = m.member_key"
)

_ENSURE_USER = """
INSERT INTO users (member_key, chat_sealed, lang, lang_chosen, created_at)
VALUES (:member_key, :chat_sealed, NULL, 0, :month)
ON CONFLICT (member_key) DO NOTHING
"""

# A guessed language (from Telegram's language_code) never overrides one the user chose.
_SET_LANGUAGE = """
INSERT INTO users (member_key, chat_sealed, lang, lang_chosen, created_at)
VALUES (:member_key, :chat_sealed, :lang, :chosen, :month)
ON CONFLICT (member_key) DO UPDATE SET lang = excluded.lang, lang_chosen = excluded.lang_chosen
WHERE excluded.lang_chosen = 1 OR users.lang_chosen = 0
"""

# An upsert rather than INSERT OR REPLACE: REPLACE deletes the old row first, which would fire
# ON DELETE CASCADE in tables that later reference memberships. The digest preference survives
# a new role in the same organisation; a new organisation starts with the default.
_JOIN = f"""
INSERT INTO memberships (member_key, org_id, role, contact_id, joined_at, digest_enabled)
VALUES (:member_key, :org_id, :role, :contact_id, :month, 1)
ON CONFLICT (member_key) DO UPDATE SET
    digest_enabled = CASE WHEN memberships.org_id = excluded.org_id
                          THEN memberships.digest_enabled ELSE 1 END,
    org_id = excluded.org_id,
    role = excluded.role,
    contact_id = excluded.contact_id,
    joined_at = excluded.joined_at
RETURNING {_MEMBERSHIP_COLUMNS}
"""

# One statement decides and consumes, so two people racing for the last use cannot both win,
# not even from two processes. NULL - 1 is NULL: unlimited stays unlimited.
_REDEEM_INVITE = f"""
UPDATE invites SET uses_left = uses_left - 1
WHERE code_hash = :code_hash
  AND (uses_left IS NULL OR uses_left > 0)
  AND (expires_at IS NULL OR expires_at > :now)
RETURNING {_INVITE_COLUMNS}
"""

COORDINATOR_PENDING_PREFIX = "c:"
"""`pending_inputs` keys of a coordinator are this prefix and their user id (coordinators act in
their own name); storage keeps the prefix and the member key instead of the id. A reporter's
key holds only their owner tag, see `forget_owner`."""

_COORDINATOR_PENDING = re.compile(re.escape(COORDINATOR_PENDING_PREFIX) + r"(-?\d+)")

_FORGET_USER: tuple[str, ...] = (
    # Every table that stores anything about a user is listed here, and only here. Children
    # first, so that the result does not depend on ON DELETE CASCADE being declared everywhere.
    # tests/test_storage.py fails if a table with a member_key column is missing from this list.
    # Rows keyed by an owner tag (report links, a reporter's pending input) cannot be found from
    # a member key here: the caller also runs `forget_owner(sealer.owner_tag(user_id))`.
    "DELETE FROM drafts WHERE member_key = :member_key",
    f"DELETE FROM pending_inputs WHERE key = '{COORDINATOR_PENDING_PREFIX}' || :member_key",
    "DELETE FROM memberships WHERE member_key = :member_key",
    # Messages queued or sent to the user's own chat (reminders, a coordinator's notices); the
    # blocked flag goes with the user row.
    "DELETE FROM outbox WHERE member_key = :member_key",
    "DELETE FROM users WHERE member_key = :member_key",
)

# --- reports ---

# `created_at` is stored as the day; while a report waits for acknowledgement, `ack_from` holds
# the moment the reminder counts from, and reads back as its creation time.
_REPORT_FIELDS = (
    "id, ref, org_id, type, channel, month, repeated, perpetrator, police, impacts, gender,"
    " description, contact_me, state, {p}created_at, acknowledged_at, acknowledged_by,"
    " closed_at, reminded_at, escalated_at, repeated_code, month_code"
)
_REPORT_COLUMNS = _REPORT_FIELDS.replace(
    "{p}created_at", "COALESCE(ack_from, created_at) AS created_at"
)
_REPORT_COLUMNS_R = ", ".join(
    f"r.{c.strip()}" for c in _REPORT_FIELDS.replace("{p}", "").split(",") if c.strip()
).replace("r.created_at", "COALESCE(r.ack_from, r.created_at) AS created_at")

# ON CONFLICT (ref) DO NOTHING rather than catching IntegrityError: only a taken reference is
# "retry with another", every other constraint failure stays an error.
_INSERT_REPORT = f"""
INSERT INTO reports (ref, org_id, type, channel, month, repeated, perpetrator, police, impacts,
                     gender, description, contact_me, state, created_at, acknowledged_at,
                     acknowledged_by, closed_at, reminded_at, escalated_at, ack_from,
                     repeated_code, month_code)
VALUES (:ref, :org_id, :type, :channel, :month, :repeated, :perpetrator, :police, :impacts,
        :gender, :description, :contact_me, :state, :created_at, :acknowledged_at,
        :acknowledged_by, :closed_at, :reminded_at, :escalated_at, :ack_from, :repeated_code,
        :month_code)
ON CONFLICT (ref) DO NOTHING
RETURNING {_REPORT_COLUMNS}
"""

_INSERT_LINK = """
INSERT INTO report_links (report_id, owner_tag, chat_sealed, shared, created_at)
VALUES (:report_id, :owner_tag, :chat_sealed, 0, :day)
"""

# The link to a reporter lives while the follow-up lasts: it goes when the report is closed and
# no message to the reporter is still waiting to be sent (else when the last one is sent or
# given up). The pending inputs of a closed report go at once.
_RELEASE_LINK = """
DELETE FROM report_links
WHERE report_id = :report_id
  AND EXISTS (SELECT 1 FROM reports WHERE id = :report_id AND state = 'closed')
  AND NOT EXISTS (
      SELECT 1 FROM outbox
      WHERE report_id = :report_id AND member_key IS NULL
        AND sent_at IS NULL AND dead_reason IS NULL
  )
"""

# What is left of a report's messages once it is closed and its link released: sent or given up
# rows (their dedupe keys) and reminder period keys. Nothing is queued about it any more.
_FORGET_CLOSED_OUTBOX = """
DELETE FROM outbox
WHERE report_id = :report_id
  AND (sent_at IS NOT NULL OR dead_reason IS NOT NULL)
  AND NOT EXISTS (SELECT 1 FROM report_links WHERE report_id = :report_id)
  AND EXISTS (SELECT 1 FROM reports WHERE id = :report_id AND state = 'closed')
"""

# Reminder period keys name a report by its reference (`ack:R-ABC123:1`, `followup:R-ABC123`).
_FORGET_REPORT_REMINDERS = """
DELETE FROM reminders_sent
WHERE instr(key, ':' || :ref || ':') > 0 OR substr(key, -length(:ref) - 1) = ':' || :ref
"""

# --- outbox ---

_OUTBOX_COLUMNS = (
    "id, dedupe, chat_sealed, report_id, payload, urgent, attempts, next_attempt_at, created_at"
)

# ON CONFLICT (dedupe) DO NOTHING, not INSERT OR IGNORE: OR IGNORE would also swallow CHECK and
# NOT NULL failures, hiding a bug as a message that silently never goes.
_ENQUEUE = """
INSERT INTO outbox (dedupe, member_key, chat_sealed, report_id, payload, urgent, attempts,
                    next_attempt_at, created_at)
VALUES (:dedupe, :member_key, :chat_sealed, :report_id, :payload, :urgent, 0, :next_attempt_at,
        :now)
ON CONFLICT (dedupe) DO NOTHING
"""

_DUE_OUTBOX = f"""
SELECT {_OUTBOX_COLUMNS} FROM outbox
WHERE sent_at IS NULL AND dead_reason IS NULL AND next_attempt_at <= :now
ORDER BY urgent DESC, created_at, id
LIMIT :limit
"""

# --- reminders ---

_RECORD_REMINDER = """
INSERT INTO reminders_sent (key, sent_at) VALUES (:key, :now)
ON CONFLICT (key) DO NOTHING
"""

# One message per member of the organisation in the given language (the default language's
# message also goes to members whose language has none), skipping members who turned reminders
# off and chats that blocked the bot. The WHERE clause also keeps SQLite from reading the upsert's
# ON CONFLICT as a join constraint.
_BROADCAST = """
INSERT INTO outbox (dedupe, member_key, chat_sealed, report_id, payload, urgent, attempts,
                    next_attempt_at, created_at)
SELECT :prefix || m.member_key, m.member_key, u.chat_sealed, NULL, :payload, 0, 0, :next, :now
FROM memberships m JOIN users u ON u.member_key = m.member_key
WHERE m.org_id = :org_id AND m.digest_enabled = 1
  AND u.blocked_on IS NULL
  AND (u.lang = :lang
       OR (:fallback = 1 AND (u.lang IS NULL
                              OR u.lang NOT IN (SELECT value FROM json_each(:langs)))))
ORDER BY m.member_key
ON CONFLICT (dedupe) DO NOTHING
"""


# Marks a burst of answered messages sent in one statement (see `outbox_sent_many`).
_MARK_SENT = """
UPDATE outbox SET sent_at = :now, payload = x''
WHERE id IN (SELECT value FROM json_each(:ids)) AND sent_at IS NULL AND dead_reason IS NULL
RETURNING member_key, report_id,
          EXISTS (SELECT 1 FROM users u
                  WHERE u.member_key = outbox.member_key AND u.blocked_on IS NOT NULL) AS blocked
"""


# --- statistics ---

_ORG_COUNTS = """
SELECT month, dim, code, n FROM report_counts
WHERE org_id = :org_id AND month BETWEEN :first AND :last
"""

# Summed in the order of report_counts_by_month, so SQLite groups while it reads the index.
_NATIONAL_COUNTS = """
SELECT month, dim, code, SUM(n) FROM report_counts
WHERE month BETWEEN :first AND :last
GROUP BY month, dim, code
"""

_COUNTS_BY_ORG = """
SELECT org_id, month, dim, code, n FROM report_counts
WHERE month BETWEEN :first AND :last AND (dim = 'all' OR (dim = 'police' AND code = 'ja'))
"""


class _AlreadyRecorded(Exception):
    """A period key was recorded before: the transaction is rolled back."""


_DEAD_REASON = re.compile(r"[a-z][a-z0-9_]{0,31}")
"""A dead reason is a short code, so that message text or an id can never end up in it."""

# What a reporter's owner tag keys: their links and pending inputs, and the messages still
# queued to them (they could not be delivered without the link anyway). The key of a pending
# input may carry a prefix ("r:<tag>"), so keys ending in ":<tag>" are theirs too.
# Every message about their linked reports goes, whoever it was queued to: an answer they
# relayed or their identity, still waiting for a coordinator's chat, must not arrive after
# "forgotten".
_FORGET_OWNER_OUTBOX = """
DELETE FROM outbox
WHERE report_id IN (SELECT report_id FROM report_links WHERE owner_tag = :tag)
"""
_FORGET_OWNER_PENDING = """
DELETE FROM pending_inputs
WHERE key = :tag OR substr(key, -length(:tag) - 1) = ':' || :tag
"""
_FORGET_OWNER_LINKS = "DELETE FROM report_links WHERE owner_tag = :tag"
# Follow-up keys (`followup:R-ABC123:2d`) say that the reporter wanted contact: they go. The
# acknowledgement keys belong to the report, which stays: without them its reminders would repeat.
_FORGET_OWNER_REMINDERS = """
DELETE FROM reminders_sent
WHERE key GLOB 'followup:*' AND EXISTS (
    SELECT 1 FROM report_links l JOIN reports r ON r.id = l.report_id
    WHERE l.owner_tag = :tag AND substr(reminders_sent.key, 10, length(r.ref) + 1) = r.ref || ':'
)
"""


def _user(row: aiosqlite.Row, user_id: int) -> User:
    return User(
        user_id=user_id,
        lang=row["lang"],
        lang_chosen=bool(row["lang_chosen"]),
        created_at=from_db_time(row["created_at"]),
    )


def _membership(row: aiosqlite.Row, user_id: int) -> Membership:
    return Membership(
        user_id=user_id,
        org_id=row["org_id"],
        role=Role(row["role"]),
        contact_id=row["contact_id"],
        joined_at=from_db_time(row["joined_at"]),
        digest_enabled=bool(row["digest_enabled"]),
    )


def _invite(row: aiosqlite.Row) -> InviteRow:
    expires_at = row["expires_at"]
    return InviteRow(
        code_hash=row["code_hash"],
        org_id=row["org_id"],
        role=Role(row["role"]),
        contact_id=row["contact_id"],
        uses_left=row["uses_left"],
        expires_at=None if expires_at is None else from_db_time(expires_at),
        created_at=from_db_time(row["created_at"]),
    )


def _opt_time(text: str | None) -> datetime | None:
    return None if text is None else from_db_time(text)


def _opt_db_time(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_time(moment)


def _opt_db_day(moment: datetime | None) -> str | None:
    return None if moment is None else to_db_day(moment)


def _report(row: aiosqlite.Row) -> Report:
    impacts: str = row["impacts"]
    return Report(
        id=int(row["id"]),
        ref=row["ref"],
        org_id=row["org_id"],
        type=row["type"],
        channel=row["channel"],
        month=row["month"],
        repeated=bool(row["repeated"]),
        perpetrator=row["perpetrator"],
        police=row["police"],
        impacts=tuple(impacts.split(",")) if impacts else (),
        gender=row["gender"],
        description=row["description"],
        contact_me=bool(row["contact_me"]),
        state=State(row["state"]),
        created_at=from_db_time(row["created_at"]),
        acknowledged_at=_opt_time(row["acknowledged_at"]),
        acknowledged_by=row["acknowledged_by"],
        closed_at=_opt_time(row["closed_at"]),
        reminded_at=_opt_time(row["reminded_at"]),
        escalated_at=_opt_time(row["escalated_at"]),
        repeated_code=row["repeated_code"],
        month_code=row["month_code"],
    )


def _report_params(report: Report) -> dict[str, Any]:
    for code in report.impacts:
        if not code or "," in code:
            raise ValueError(f"impact code {code!r} cannot be stored")
    return {
        "ref": report.ref,
        "org_id": report.org_id,
        "type": report.type,
        "channel": report.channel,
        "month": report.month,
        "repeated": int(report.repeated),
        "perpetrator": report.perpetrator,
        "police": report.police,
        "impacts": ",".join(report.impacts),
        "gender": report.gender,
        "description": report.description,
        "contact_me": int(report.contact_me),
        "state": State(report.state).value,
        "created_at": to_db_day(report.created_at),
        "ack_from": to_db_time(report.created_at) if State(report.state) is State.NEW else None,
        # What happened to a report later is kept by the day: only "whether" is ever asked.
        "acknowledged_at": _opt_db_day(report.acknowledged_at),
        "acknowledged_by": report.acknowledged_by,
        "closed_at": _opt_db_day(report.closed_at),
        "reminded_at": _opt_db_day(report.reminded_at),
        "escalated_at": _opt_db_day(report.escalated_at),
        "repeated_code": report.repeated_code,
        "month_code": report.month_code,
    }


def _outbox_row(row: aiosqlite.Row, sealer: Sealer) -> OutboxRow:
    sealed = row["chat_sealed"]
    return OutboxRow(
        id=int(row["id"]),
        dedupe=row["dedupe"],
        chat_id=None if sealed is None else sealer.unseal_chat(bytes(sealed)),
        report_id=row["report_id"],
        payload=bytes(row["payload"]),
        urgent=bool(row["urgent"]),
        attempts=int(row["attempts"]),
        next_attempt_at=from_db_time(row["next_attempt_at"]),
        created_at=from_db_time(row["created_at"]),
    )


def _draft_data(draft: Draft) -> str:
    return json.dumps(
        {"values": draft.values, "editing": draft.editing},
        ensure_ascii=False,
        separators=(",", ":"),
        allow_nan=False,
    )


def _draft(row: aiosqlite.Row) -> Draft:
    data = json.loads(row["data"])
    return Draft(
        org_id=row["org_id"],
        step=row["step"],
        values=dict(data.get("values") or {}),
        editing=bool(data.get("editing", False)),
    )


async def _one(conn: aiosqlite.Connection, sql: str, params: Params) -> aiosqlite.Row | None:
    """First row of `sql`, read whole in one round trip to the database thread.

    Reading every row also completes a RETURNING statement, so it never blocks COMMIT.
    """
    rows = await conn.execute_fetchall(sql, params)
    return next(iter(rows), None)


async def _all(conn: aiosqlite.Connection, sql: str, params: Params) -> list[aiosqlite.Row]:
    return list(await conn.execute_fetchall(sql, params))


async def _run(conn: aiosqlite.Connection, sql: str, params: Params | None = None) -> int:
    """Run a statement for its effect; return the number of rows it changed."""
    async with conn.execute(sql, params or {}) as cursor:
        return cursor.rowcount


async def _pragma(conn: aiosqlite.Connection, sql: str) -> Any:
    row = await _one(conn, sql, {})
    return None if row is None else row[0]


def _prepare_file(path: Path) -> None:
    """Create the database file owner-only before SQLite opens it, and tighten an existing one.

    SQLite creates its -wal and -shm files with the mode of the main file, so getting the main
    file right covers them; side files left by an older, looser setup are tightened too.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, DB_FILE_MODE)
    os.close(fd)
    for candidate in (path, *(path.with_name(path.name + suffix) for suffix in _SIDE_FILES)):
        try:
            mode = stat.S_IMODE(candidate.stat().st_mode)
        except FileNotFoundError:
            continue
        if mode & ~DB_FILE_MODE:
            candidate.chmod(DB_FILE_MODE)
            log.warning(
                "tightened permissions of %s from %03o to %03o", candidate, mode, DB_FILE_MODE
            )


async def _configure(conn: aiosqlite.Connection) -> None:
    """Connection settings, each checked: SQLite ignores some pragmas silently."""
    await _run(conn, f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS:d}")
    journal_mode = await _pragma(conn, "PRAGMA journal_mode = WAL")
    if str(journal_mode).lower() != "wal":
        raise StorageError(
            f"SQLite refused write-ahead logging (journal_mode is {journal_mode!r}); "
            "put the data directory on a local file system"
        )
    await _run(conn, "PRAGMA foreign_keys = ON")
    await _run(conn, "PRAGMA secure_delete = ON")
    if await _pragma(conn, "PRAGMA foreign_keys") != 1:
        raise StorageError("SQLite did not enable foreign keys")
    if await _pragma(conn, "PRAGMA secure_delete") != 1:
        raise StorageError("SQLite did not enable secure_delete")


_PROCESS_SEALER: list[Sealer] = []


def _process_sealer() -> Sealer:
    """A key that lives as long as this process: for a `Database` opened without the real one."""
    if not _PROCESS_SEALER:
        _PROCESS_SEALER.append(Sealer(os.urandom(KEY_SIZE)))
    return _PROCESS_SEALER[0]


# Children first: legacy_memberships refers to legacy_users.
_LEGACY_TABLES = (
    "legacy_memberships",
    "legacy_users",
    "legacy_drafts",
    "legacy_outbox",
    "legacy_blocked_chats",
)


async def _convert_legacy(conn: aiosqlite.Connection, sealer: Sealer | None) -> bool:
    """Finish migration 5 (schema v5): move the rows of the `legacy_*` tables, which hold
    Telegram ids in clear, into the keyed tables, then empty and drop them, in ONE transaction.

    Without the secret key the rows cannot be converted: they are left for the bot (which opens
    with the key) and False is returned; tables without rows are dropped either way. True if
    anything was converted or dropped (the caller then rebuilds and checkpoints the file).
    """
    names = {
        row[0]
        for row in await _all(
            conn, "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'legacy%'", {}
        )
    }
    present = [name for name in _LEGACY_TABLES if name in names]
    if not present:
        return False
    await _run(conn, "BEGIN IMMEDIATE")
    try:
        counts = [await _one(conn, f"SELECT COUNT(*) FROM {name}", {}) for name in present]
        if any(row is not None and row[0] for row in counts) and sealer is None:
            await rollback(conn)
            log.warning("the database holds user ids of an older version: start the bot to convert")
            return False
        if sealer is not None:
            await _convert_legacy_rows(conn, sealer, present)
        for name in present:
            await _run(conn, f"DELETE FROM {name}")
            await _run(conn, f"DROP TABLE {name}")
        await _run(conn, "COMMIT")
    except BaseException:
        await rollback(conn)
        raise
    # The old pages held ids in clear: rebuild the file so no free page keeps them.
    await _run(conn, "VACUUM")
    return True


async def _convert_legacy_rows(
    conn: aiosqlite.Connection, sealer: Sealer, present: Sequence[str]
) -> None:
    """Inside the transaction of `_convert_legacy`: every user, membership, draft, queued message
    to a member, blocked flag and coordinator's pending input, under keys instead of ids."""
    if "legacy_users" in present:
        for row in await _all(conn, "SELECT * FROM legacy_users", {}):
            user_id = int(row["user_id"])
            await _run(
                conn,
                "INSERT INTO users (member_key, chat_sealed, lang, lang_chosen, created_at)"
                " VALUES (:member_key, :chat_sealed, :lang, :chosen, :month)",
                {
                    "member_key": sealer.member_key(user_id),
                    "chat_sealed": sealer.seal_chat(user_id),
                    "lang": row["lang"],
                    "chosen": row["lang_chosen"],
                    "month": to_db_month(from_db_time(row["created_at"])),
                },
            )
    if "legacy_memberships" in present:
        for row in await _all(conn, "SELECT * FROM legacy_memberships", {}):
            await _run(
                conn,
                f"INSERT INTO memberships ({_MEMBERSHIP_COLUMNS})"
                " VALUES (:member_key, :org_id, :role, :contact_id, :month, :digest)",
                {
                    "member_key": sealer.member_key(int(row["user_id"])),
                    "org_id": row["org_id"],
                    "role": row["role"],
                    "contact_id": row["contact_id"],
                    "month": to_db_month(from_db_time(row["joined_at"])),
                    "digest": row["digest_enabled"],
                },
            )
    if "legacy_drafts" in present:
        for row in await _all(conn, "SELECT * FROM legacy_drafts", {}):
            await _run(
                conn,
                "INSERT INTO drafts (member_key, org_id, step, data, updated_at)"
                " VALUES (:member_key, :org_id, :step, :data, :day)",
                {
                    "member_key": sealer.member_key(int(row["user_id"])),
                    "org_id": row["org_id"],
                    "step": row["step"],
                    "data": row["data"],
                    "day": to_db_day(from_db_time(row["updated_at"])),
                },
            )
    if "legacy_blocked_chats" in present:
        for row in await _all(conn, "SELECT * FROM legacy_blocked_chats", {}):
            await _run(
                conn,
                "UPDATE users SET blocked_on = :day WHERE member_key = :member_key",
                {
                    "member_key": sealer.member_key(int(row["chat_id"])),
                    "day": to_db_day(from_db_time(row["since"])),
                },
            )
    if "legacy_outbox" in present:
        # Messages to reporters moved in SQL already; these are to members' chats.
        for row in await _all(conn, "SELECT * FROM legacy_outbox", {}):
            chat_id = int(row["chat_id"])
            key = sealer.member_key(chat_id)
            plain = str(chat_id)
            await _run(
                conn,
                "INSERT INTO outbox (id, dedupe, member_key, chat_sealed, report_id, payload,"
                " urgent, attempts, next_attempt_at, created_at, sent_at, dead_reason)"
                " VALUES (:id, :dedupe, :member_key, :chat_sealed, :report_id, :payload, :urgent,"
                " :attempts, :next_attempt_at, :created_at, :sent_at, :dead_reason)",
                {
                    "id": row["id"],
                    "dedupe": ":".join(key if p == plain else p for p in row["dedupe"].split(":")),
                    "member_key": key,
                    "chat_sealed": sealer.seal_chat(chat_id),
                    "report_id": row["report_id"],
                    "payload": row["payload"],
                    "urgent": row["urgent"],
                    "attempts": row["attempts"],
                    "next_attempt_at": row["next_attempt_at"],
                    "created_at": row["created_at"],
                    "sent_at": row["sent_at"],
                    "dead_reason": row["dead_reason"],
                },
            )
    for row in await _all(conn, "SELECT key FROM pending_inputs", {}):
        match = _COORDINATOR_PENDING.fullmatch(row["key"])
        if match is not None:
            await _run(
                conn,
                "UPDATE pending_inputs SET key = :new WHERE key = :old",
                {
                    "old": row["key"],
                    "new": COORDINATOR_PENDING_PREFIX + sealer.member_key(int(match.group(1))),
                },
            )


async def _check_key(conn: aiosqlite.Connection, sealer: Sealer) -> None:
    """Refuse a key that did not seal what is stored: every member would be lost to it."""
    row = await _one(conn, "SELECT chat_sealed FROM users LIMIT 1", {})
    if row is None:
        return
    try:
        sealer.unseal_chat(bytes(row["chat_sealed"]))
    except SealError:
        raise StorageError(
            "the database was written with another secret key: its members cannot be found "
            "with this one; restore the key that belongs to this database"
        ) from None


class Database:
    """The bot's one connection to its SQLite file. Create it with `await Database.open(path)`."""

    def __init__(self, conn: aiosqlite.Connection, path: Path, sealer: Sealer) -> None:
        self._conn = conn
        self.path = path
        self._sealer = sealer
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(cls, path: Path, sealer: Sealer | None = None) -> Database:
        """Open (creating if needed) and migrate the database at `path`.

        `sealer` holds the data directory's secret key: users are stored under keyed hashes of
        their ids and their chats sealed with it. Without one (tests, tools that never touch
        users) a key made for this process is used, and ids stored under it are not found
        again by another process; tables of an older schema that still hold ids are then left
        for the bot to convert with the real key.
        """
        path = Path(path)
        _prepare_file(path)
        # isolation_level=None: no implicit transactions; every one here is explicit.
        conn = await aiosqlite.connect(path, isolation_level=None)
        try:
            conn.row_factory = aiosqlite.Row
            await _configure(conn)
            await migrate(conn)
            converted = await _convert_legacy(conn, sealer)
            if sealer is not None:
                await _check_key(conn, sealer)
        except BaseException:
            await conn.close()
            raise
        db = cls(conn, path, sealer or _process_sealer())
        if converted:
            await db.checkpoint()
        return db

    async def close(self) -> None:
        """Close the connection; closing twice is harmless so shutdown paths need not track it."""
        if self._closed:
            return
        self._closed = True
        async with self._lock:
            await self._conn.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # --- plumbing ----------------------------------------------------------------------------

    @asynccontextmanager
    async def _read(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection, while no transaction of another coroutine is open on it."""
        async with self._lock:
            yield self._conn

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; IMMEDIATE takes the write lock up front, so it cannot deadlock
        against another process halfway through."""
        async with self._lock:
            try:
                await _run(self._conn, "BEGIN IMMEDIATE")
                yield self._conn
                # Inside the try: a COMMIT that fails (a full disk, a deferred constraint) can
                # leave the transaction open, and every later BEGIN would then fail.
                await _run(self._conn, "COMMIT")
            except BaseException:
                await rollback(self._conn)
                raise

    async def schema_version(self) -> int:
        """`PRAGMA user_version`: the number of migrations applied."""
        async with self._read() as conn:
            return int(await _pragma(conn, "PRAGMA user_version"))

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the main file and truncate it.

        Returns False if another connection's reader kept part of the log in use, in which case
        old page images may remain in the -wal file until the next checkpoint.
        """
        async with self._read() as conn:
            return await self._checkpoint(conn)

    async def _checkpoint(self, conn: aiosqlite.Connection) -> bool:
        row = await _one(conn, "PRAGMA wal_checkpoint(TRUNCATE)", {})
        complete = row is not None and row[0] == 0
        if not complete:
            log.warning("WAL checkpoint of %s was incomplete: another reader is active", self.path)
        return complete

    # --- users -------------------------------------------------------------------------------

    def _key(self, user_id: int) -> str:
        return self._sealer.member_key(user_id)

    def _pending_key(self, key: str) -> str:
        """A coordinator's pending-input key with their member key instead of their id."""
        match = _COORDINATOR_PENDING.fullmatch(key)
        if match is None:
            return key
        return COORDINATOR_PENDING_PREFIX + self._key(int(match.group(1)))

    def _chat_of(self, row: aiosqlite.Row) -> int:
        return self._sealer.unseal_chat(bytes(row["chat_sealed"]))

    async def get_user(self, user_id: int) -> User | None:
        """The user, or None if they never talked to the bot or were forgotten."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        return None if row is None else _user(row, user_id)

    async def set_language(self, user_id: int, lang: str, chosen: bool, now: datetime) -> User:
        """Record the user's language, creating the user if needed; return the stored user.

        `chosen=False` is a guess (Telegram's language_code) and never overrides a language the
        user picked themselves; `now` is only used (as its month) for a new user.
        """
        key = self._key(user_id)
        params = {
            "member_key": key,
            "chat_sealed": self._sealer.seal_chat(user_id),
            "lang": lang,
            "chosen": int(chosen),
            "month": to_db_month(now),
        }
        async with self._write() as conn:
            await _run(conn, _SET_LANGUAGE, params)
            row = await _one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE member_key = :member_key",
                {"member_key": key},
            )
        assert row is not None  # just inserted or updated in this transaction
        return _user(row, user_id)

    async def get_profile(self, user_id: int) -> tuple[User | None, Membership | None]:
        """The user and their membership in one query: every update asks for both."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT u.member_key, u.chat_sealed, u.lang, u.lang_chosen, u.created_at,"
                " m.org_id, m.role, m.contact_id, m.joined_at, m.digest_enabled"
                " FROM users u LEFT JOIN memberships m ON m.member_key = u.member_key"
                " WHERE u.member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        if row is None:
            return None, None
        membership = None if row["org_id"] is None else _membership(row, user_id)
        return _user(row, user_id), membership

    async def forget_user(self, user_id: int) -> bool:
        """Delete the user and everything stored about them; return whether there was anything.

        Afterwards the write-ahead log is checkpointed, so with `secure_delete` the deleted
        content is overwritten in the file rather than only unlinked from the tree.
        """
        params = {"member_key": self._key(user_id)}
        async with self._write() as conn:
            changed = 0
            for statement in _FORGET_USER:
                changed += await _run(conn, statement, params)
        async with self._read() as conn:
            await self._checkpoint(conn)
        return changed > 0

    # --- memberships -------------------------------------------------------------------------

    async def get_membership(self, user_id: int) -> Membership | None:
        """The user's organisation and role, or None if they have joined none."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        return None if row is None else _membership(row, user_id)

    async def join(
        self,
        user_id: int,
        org_id: str,
        role: Role,
        contact_id: str | None,
        now: datetime,
    ) -> Membership:
        """Make the user a member of `org_id`, replacing any earlier membership (one per user)."""
        async with self._write() as conn:
            membership, _ = await self._join(conn, user_id, org_id, role, contact_id, now)
        return membership

    async def _join(
        self,
        conn: aiosqlite.Connection,
        user_id: int,
        org_id: str,
        role: Role,
        contact_id: str | None,
        now: datetime,
    ) -> tuple[Membership, Membership | None]:
        """Inside a write transaction: upsert the user and membership; return (new, replaced)."""
        month = to_db_month(now)
        key = self._key(user_id)
        await _run(
            conn,
            _ENSURE_USER,
            {"member_key": key, "chat_sealed": self._sealer.seal_chat(user_id), "month": month},
        )
        before = await _one(
            conn,
            f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE member_key = :member_key",
            {"member_key": key},
        )
        row = await _one(
            conn,
            _JOIN,
            {
                "member_key": key,
                "org_id": org_id,
                "role": Role(role).value,
                "contact_id": contact_id,
                "month": month,
            },
        )
        assert row is not None  # an upsert with RETURNING always returns its row
        replaced = None if before is None else _membership(before, user_id)
        return _membership(row, user_id), replaced

    async def members_of(self, org_id: str, role: Role | None = None) -> list[Membership]:
        """Everyone in `org_id` (or only those with `role`), earliest joined first."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"{_MEMBERS_SELECT}"
                " WHERE m.org_id = :org_id AND (:role IS NULL OR m.role = :role)"
                " ORDER BY m.joined_at, m.member_key",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
        return [_membership(row, self._chat_of(row)) for row in rows]

    async def coordinators_for_contact(self, org_id: str, contact_id: str) -> list[Membership]:
        """The coordinators who answer for routine contact `contact_id` of `org_id`."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"{_MEMBERS_SELECT}"
                " WHERE m.org_id = :org_id AND m.role = :role AND m.contact_id = :contact_id"
                " ORDER BY m.joined_at, m.member_key",
                {"org_id": org_id, "role": Role.COORDINATOR.value, "contact_id": contact_id},
            )
        return [_membership(row, self._chat_of(row)) for row in rows]

    async def count_members(self, org_id: str, role: Role | None = None) -> int:
        """How many users belong to `org_id` (or have `role` there)."""
        async with self._read() as conn:
            count = await _one(
                conn,
                "SELECT COUNT(*) FROM memberships"
                " WHERE org_id = :org_id AND (:role IS NULL OR role = :role)",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
        assert count is not None
        return int(count[0])

    # --- invites -----------------------------------------------------------------------------

    async def add_invite(
        self,
        code_hash: str,
        org_id: str,
        role: Role,
        contact_id: str | None,
        uses_left: int | None,
        expires_at: datetime | None,
        now: datetime,
    ) -> InviteRow:
        """Store an invite under the hash of its code; `uses_left=None` means unlimited."""
        async with self._write() as conn:
            row = await _one(
                conn,
                f"INSERT INTO invites ({_INVITE_COLUMNS})"
                " VALUES (:code_hash, :org_id, :role, :contact_id, :uses_left, :expires_at, :now)"
                f" RETURNING {_INVITE_COLUMNS}",
                {
                    "code_hash": code_hash,
                    "org_id": org_id,
                    "role": Role(role).value,
                    "contact_id": contact_id,
                    "uses_left": uses_left,
                    "expires_at": None if expires_at is None else to_db_time(expires_at),
                    "now": to_db_time(now),
                },
            )
        assert row is not None
        return _invite(row)

    async def peek_invite(self, code_hash: str) -> InviteRow | None:
        """The invite as stored, without using it (to ask before switching organisation)."""
        async with self._read() as conn:
            row = await _one(
                conn,
                f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = :code_hash",
                {"code_hash": code_hash},
            )
        return None if row is None else _invite(row)

    async def redeem_invite(
        self, code_hash: str, now: datetime, user_id: int | None = None
    ) -> Redemption | InviteFailure:
        """Take one use of the invite and, given `user_id`, make them a member, atomically.

        The decrement is a single conditional UPDATE, so concurrent redemptions of the last use
        give exactly one winner, even across processes. With `user_id` the membership is written
        in the same transaction, so a use is never spent without a membership to show for it
        (without it, the caller joins afterwards and a crash in between wastes a use). On failure
        nothing changes, and the invite is read again to say why: unknown, expired or used up.
        """
        stamp = to_db_time(now)
        async with self._write() as conn:
            row = await _one(conn, _REDEEM_INVITE, {"code_hash": code_hash, "now": stamp})
            if row is None:
                current = await _one(
                    conn,
                    f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = :code_hash",
                    {"code_hash": code_hash},
                )
                refusal = invite_refusal(None if current is None else _invite(current), now)
                if refusal is None:  # the UPDATE and invite_refusal disagree: a bug, say so
                    raise StorageError(f"invite {code_hash[:8]}… is valid but was not redeemed")
                return refusal
            invite = _invite(row)
            if user_id is None:
                return Redemption(invite=invite, membership=None, replaced=None)
            membership, replaced = await self._join(
                conn, user_id, invite.org_id, invite.role, invite.contact_id, now
            )
        return Redemption(invite=invite, membership=membership, replaced=replaced)

    # --- drafts ------------------------------------------------------------------------------

    async def get_draft(self, user_id: int) -> Draft | None:
        """The user's report under way, or None."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT org_id, step, data FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        return None if row is None else _draft(row)

    async def save_draft(self, user_id: int, draft: Draft, now: datetime) -> None:
        """Store the draft (after every step), replacing the user's earlier one.

        Its values must be JSON and its description already redacted: this is on disk.
        """
        params = {
            "member_key": self._key(user_id),
            "org_id": draft.org_id,
            "step": draft.step,
            "data": _draft_data(draft),
            "now": to_db_day(now),
        }
        async with self._write() as conn:
            await _run(
                conn,
                "INSERT INTO drafts (member_key, org_id, step, data, updated_at)"
                " VALUES (:member_key, :org_id, :step, :data, :now)"
                " ON CONFLICT (member_key) DO UPDATE SET org_id = excluded.org_id,"
                " step = excluded.step, data = excluded.data, updated_at = excluded.updated_at",
                params,
            )

    async def delete_draft(self, user_id: int) -> None:
        """Drop the user's draft, if any, from the file too."""
        async with self._write() as conn:
            count = await _run(
                conn,
                "DELETE FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
        if count:
            await self.checkpoint()

    async def purge_drafts(self, updated_before: datetime) -> int:
        """Delete drafts left untouched since before `updated_before`; return how many."""
        async with self._write() as conn:
            count = await _run(
                conn,
                "DELETE FROM drafts WHERE updated_at < :before",
                {"before": to_db_time(updated_before)},
            )
        if count:
            await self.checkpoint()
        return count

    # --- reports -----------------------------------------------------------------------------

    async def submit_report(
        self,
        report: Report,
        link: tuple[str, bytes] | None,
        notifications: Sequence[OutboxItem],
        draft_user_id: int,
        now: datetime,
    ) -> Report:
        """Store a report, its link, its notifications, and drop the draft, in ONE transaction.

        Either all of it happens or none: a failure leaves no report, nothing queued and the
        draft as it was, so the reporter can press Send again. `report.ref` is used as given;
        `DuplicateReference` if it is taken (draw a new one and retry). `link` is
        `(owner_tag, sealed chat)` and is only accepted for a report with `contact_me`.

        Every notification is tied to the new report (`report_id`), so deleting the report
        deletes what is still queued about it; one with `to_reporter` goes to the linked chat.
        Returns the stored report with its id.
        """
        if link is not None and not report.contact_me:
            raise ValueError("a chat is only kept for a reporter who asked to be contacted")
        params = _report_params(report)
        stamp = to_db_time(now)
        async with self._write() as conn:
            row = await _one(conn, _INSERT_REPORT, params)
            if row is None:
                raise DuplicateReference(report.ref)
            stored = _report(row)
            if link is not None:
                owner_tag, chat_sealed = link
                await _run(
                    conn,
                    _INSERT_LINK,
                    {
                        "report_id": stored.id,
                        "owner_tag": owner_tag,
                        "chat_sealed": bytes(chat_sealed),
                        "day": to_db_day(now),
                    },
                )
            for item in notifications:
                await self._enqueue(conn, item, stored.id, stamp)
            await _run(
                conn,
                "DELETE FROM drafts WHERE member_key = :member_key",
                {"member_key": self._key(draft_user_id)},
            )
        # The log still holds the draft's pages: the user id next to what they reported. The
        # checkpoint overwrites them (secure_delete) in the main file and truncates the log.
        await self.checkpoint()
        return stored

    async def get_report(self, ref: str) -> Report | None:
        async with self._read() as conn:
            row = await _one(
                conn, f"SELECT {_REPORT_COLUMNS} FROM reports WHERE ref = :ref", {"ref": ref}
            )
        return None if row is None else _report(row)

    async def get_report_by_id(self, report_id: int) -> Report | None:
        async with self._read() as conn:
            row = await _one(
                conn, f"SELECT {_REPORT_COLUMNS} FROM reports WHERE id = :id", {"id": report_id}
            )
        return None if row is None else _report(row)

    async def open_reports(self, org_id: str) -> list[Report]:
        """The organisation's reports that are not closed, newest first."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE org_id = :org_id AND state != 'closed'"
                " ORDER BY created_at DESC, id DESC",
                {"org_id": org_id},
            )
        return [_report(row) for row in rows]

    async def acknowledge(
        self,
        ref: str,
        contact_id: str,
        now: datetime,
        notifications: Sequence[OutboxItem] = (),
    ) -> bool:
        """Mark a NEW report acknowledged by routine contact `contact_id`.

        One conditional UPDATE: of two coordinators pressing at once exactly one gets True; a
        second press, or a press on a closed report, changes nothing and gets False. The
        `notifications` (to the other coordinators, to the reporter) are queued in the same
        transaction, so a crash right after cannot leave anyone untold.
        """
        async with self._write() as conn:
            row = await _one(
                conn,
                "UPDATE reports SET state = 'acknowledged', acknowledged_at = :now,"
                " acknowledged_by = :contact_id, ack_from = NULL"
                " WHERE ref = :ref AND state = 'new' RETURNING id",
                {"ref": ref, "contact_id": contact_id, "now": to_db_day(now)},
            )
            if row is None:
                return False
            for item in notifications:
                await self._enqueue(conn, item, int(row["id"]), to_db_time(now))
        return True

    async def close_report(
        self, ref: str, now: datetime, notifications: Sequence[OutboxItem] = ()
    ) -> bool:
        """Close a report that is not closed yet; False if there is none or it was closed.

        The follow-up ends here, and with it the link to the reporter: pending inputs of the
        report go at once, and the link goes as soon as no message to the reporter is queued.
        To tell the reporter that the case is closed, pass the message in `notifications`
        (queued in the same transaction): the link is then released once it is sent.
        """
        async with self._write() as conn:
            row = await _one(
                conn,
                "UPDATE reports SET state = 'closed', closed_at = :now, ack_from = NULL"
                " WHERE ref = :ref AND state != 'closed' RETURNING id",
                {"ref": ref, "now": to_db_day(now)},
            )
            if row is None:
                return False
            report_id = int(row["id"])
            # Nothing more is owed to the coordinators about a closed case: reminders and
            # relayed texts still queued to them go, with the period keys of its reminders.
            await _run(
                conn,
                "DELETE FROM outbox WHERE report_id = :id AND member_key IS NOT NULL",
                {"id": report_id},
            )
            await _run(conn, _FORGET_REPORT_REMINDERS, {"ref": ref})
            for item in notifications:
                await self._enqueue(conn, item, report_id, to_db_time(now))
            await _run(conn, "DELETE FROM pending_inputs WHERE report_id = :id", {"id": report_id})
            await self._release(conn, report_id)
        await self.checkpoint()
        return True

    async def _release(self, conn: aiosqlite.Connection, report_id: int) -> int:
        """Inside a write transaction: end a closed report's link if nothing is queued to the
        reporter, and then what is left of its messages; return how many rows went (the caller
        checkpoints then, so the sealed chat leaves the -wal too)."""
        gone = await _run(conn, _RELEASE_LINK, {"report_id": report_id})
        gone += await _run(conn, _FORGET_CLOSED_OUTBOX, {"report_id": report_id})
        return gone

    async def append_description(self, ref: str, text: str, max_len: int) -> bool:
        """Add (already redacted) `text` to the report's description, on a new paragraph.

        The description never grows beyond `max_len` characters: text that does not fit is cut
        and ends with "…". False if the report does not exist, is closed, `text` is blank, or
        there is no room left at all.
        """
        text = text.strip()
        if not text:
            return False
        async with self._write() as conn:
            row = await _one(
                conn, "SELECT id, description, state FROM reports WHERE ref = :ref", {"ref": ref}
            )
            if row is None or row["state"] == State.CLOSED.value:
                return False
            current: str = row["description"] or ""
            separator = "\n\n" if current else ""
            room = max_len - len(current) - len(separator)
            if room <= 0:
                return False
            if len(text) > room:
                text = text[: room - 1].rstrip() + "…" if room > 1 else "…"
            await _run(
                conn,
                "UPDATE reports SET description = :description WHERE id = :id",
                {"id": row["id"], "description": current + separator + text},
            )
        return True

    async def delete_report(self, report_id: int) -> None:
        """Delete a report with its link, pending inputs and queued messages, from the file."""
        async with self._write() as conn:
            row = await _one(
                conn, "DELETE FROM reports WHERE id = :id RETURNING ref", {"id": report_id}
            )
            if row is not None:
                await _run(conn, _FORGET_REPORT_REMINDERS, {"ref": row["ref"]})
        await self.checkpoint()

    async def reports_of_owner(self, owner_tag: str) -> list[Report]:
        """The reports still linked to `owner_tag`, newest first (for /mina)."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS_R} FROM reports r"
                " JOIN report_links l ON l.report_id = r.id"
                " WHERE l.owner_tag = :tag ORDER BY r.created_at DESC, r.id DESC",
                {"tag": owner_tag},
            )
        return [_report(row) for row in rows]

    async def link_of(self, report_id: int) -> tuple[str, bytes, bool] | None:
        """`(owner_tag, sealed chat, shared)` of the report, or None if it has no link."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT owner_tag, chat_sealed, shared FROM report_links WHERE report_id = :id",
                {"id": report_id},
            )
        if row is None:
            return None
        return row["owner_tag"], bytes(row["chat_sealed"]), bool(row["shared"])

    async def set_shared(self, report_id: int) -> None:
        """Note that the reporter chose to tell the coordinators who they are."""
        async with self._write() as conn:
            await _run(
                conn, "UPDATE report_links SET shared = 1 WHERE report_id = :id", {"id": report_id}
            )

    async def remove_link(self, report_id: int) -> None:
        """End the link to the reporter: their chat is no longer stored, messages to them die."""
        async with self._write() as conn:
            await _run(conn, "DELETE FROM report_links WHERE report_id = :id", {"id": report_id})
        await self.checkpoint()

    async def forget_owner(self, owner_tag: str) -> int:
        """Delete every link and pending input of the owner, and what is queued to them.

        Returns the number of links and pending inputs deleted. Their reports stay, anonymous:
        nothing is left that leads from them to the person. Checkpoints, so it is gone from
        the file.
        """
        if not owner_tag:
            raise ValueError("an owner tag is needed")
        params = {"tag": owner_tag}
        async with self._write() as conn:
            await _run(conn, _FORGET_OWNER_OUTBOX, params)
            await _run(conn, _FORGET_OWNER_REMINDERS, params)
            changed = await _run(conn, _FORGET_OWNER_PENDING, params)
            changed += await _run(conn, _FORGET_OWNER_LINKS, params)
        await self.checkpoint()
        return changed

    # --- acknowledgement workflow ------------------------------------------------------------

    async def unacknowledged(self, created_before: datetime) -> list[Report]:
        """NEW reports created before `created_before`, oldest first (for reminders)."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE state = 'new' AND COALESCE(ack_from, created_at) < :before"
                " ORDER BY COALESCE(ack_from, created_at), id",
                {"before": to_db_time(created_before)},
            )
        return [_report(row) for row in rows]

    async def mark_reminded(self, report_id: int, now: datetime) -> None:
        async with self._write() as conn:
            await _run(
                conn,
                "UPDATE reports SET reminded_at = :now WHERE id = :id",
                {"id": report_id, "now": to_db_day(now)},
            )

    async def mark_escalated(self, report_id: int, now: datetime) -> None:
        async with self._write() as conn:
            await _run(
                conn,
                "UPDATE reports SET escalated_at = :now WHERE id = :id",
                {"id": report_id, "now": to_db_day(now)},
            )

    # --- pending inputs ----------------------------------------------------------------------

    async def set_pending(self, key: str, action: str, report_id: int, now: datetime) -> None:
        """What the next free text under `key` is for; replaces an earlier one.

        `key` is never a reporter's plain id: use their owner tag (optionally prefixed,
        `r:<tag>`). A coordinator's key is `COORDINATOR_PENDING_PREFIX` + their user id.
        """
        async with self._write() as conn:
            await _run(
                conn,
                "INSERT INTO pending_inputs (key, action, report_id, created_at)"
                " VALUES (:key, :action, :report_id, :now)"
                " ON CONFLICT (key) DO UPDATE SET action = excluded.action,"
                " report_id = excluded.report_id, created_at = excluded.created_at",
                {
                    "key": self._pending_key(key),
                    "action": action,
                    "report_id": report_id,
                    "now": to_db_time(now),
                },
            )

    async def get_pending(self, key: str) -> tuple[str, int] | None:
        """`(action, report_id)` waiting under `key`, or None."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT action, report_id FROM pending_inputs WHERE key = :key",
                {"key": self._pending_key(key)},
            )
        return None if row is None else (row["action"], int(row["report_id"]))

    async def first_pending(self, keys: Sequence[str]) -> tuple[str, str, int] | None:
        """`(key, action, report_id)` of the first of `keys` with input waiting, in one query.

        Every plain message asks this, so one round trip instead of one per key.
        """
        stored = {self._pending_key(key): key for key in keys}
        params = {f"k{i}": key for i, key in enumerate(stored)}
        if not params:
            return None
        placeholders = ", ".join(f":{name}" for name in params)
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT key, action, report_id FROM pending_inputs WHERE key IN ({placeholders})",
                params,
            )
        found = {stored[row["key"]]: (row["action"], int(row["report_id"])) for row in rows}
        for key in keys:
            if key in found:
                return key, *found[key]
        return None

    async def clear_pending(self, key: str) -> None:
        async with self._write() as conn:
            await _run(
                conn,
                "DELETE FROM pending_inputs WHERE key = :key",
                {"key": self._pending_key(key)},
            )

    async def stage_pending(
        self, key: str, action: str, report_id: int, payload: bytes, now: datetime
    ) -> None:
        """Like `set_pending`, with a sealed `payload` kept until `take_staged` (a reporter's
        anonymised answer, shown back before it is sent)."""
        async with self._write() as conn:
            await _run(
                conn,
                "INSERT INTO pending_inputs (key, action, report_id, created_at, payload)"
                " VALUES (:key, :action, :report_id, :now, :payload)"
                " ON CONFLICT (key) DO UPDATE SET action = excluded.action,"
                " report_id = excluded.report_id, created_at = excluded.created_at,"
                " payload = excluded.payload",
                {
                    "key": self._pending_key(key),
                    "action": action,
                    "report_id": report_id,
                    "now": to_db_time(now),
                    "payload": bytes(payload),
                },
            )

    async def take_staged(self, key: str, action: str) -> tuple[int, bytes] | None:
        """`(report_id, payload)` staged under `key` for `action`, deleted as it is taken."""
        async with self._write() as conn:
            row = await _one(
                conn,
                "DELETE FROM pending_inputs WHERE key = :key AND action = :action"
                " AND payload IS NOT NULL RETURNING report_id, payload",
                {"key": self._pending_key(key), "action": action},
            )
        return None if row is None else (int(row["report_id"]), bytes(row["payload"]))

    async def revoke_member(self, user_id: int, pending_keys: Sequence[str]) -> bool:
        """End a membership at once (`trygg revoke`): the membership, the draft, the pending
        inputs under `pending_keys`, and what is still queued to their chat. The user row (the
        language) stays; their own reports and links stay theirs. True if they were a member."""
        params: dict[str, Any] = {"member_key": self._key(user_id)}
        async with self._write() as conn:
            removed = await _run(
                conn, "DELETE FROM memberships WHERE member_key = :member_key", params
            )
            await _run(conn, "DELETE FROM drafts WHERE member_key = :member_key", params)
            for key in pending_keys:
                await _run(
                    conn,
                    "DELETE FROM pending_inputs WHERE key = :key",
                    {"key": self._pending_key(key)},
                )
            await _run(
                conn,
                "DELETE FROM outbox WHERE member_key = :member_key AND sent_at IS NULL",
                params,
            )
        await self.checkpoint()
        return removed > 0

    # --- retention ---------------------------------------------------------------------------

    async def purge_reports(self, org_id: str | None, created_before: datetime) -> int:
        """Delete the organisation's reports created before `created_before` (every
        organisation's with `org_id=None`), with their links, pending inputs and queued
        messages; return how many reports.

        Gone from the file, not only from the tables: `secure_delete` overwrites the freed
        content with zeros, and the TRUNCATE checkpoint afterwards copies the log into the main
        file and empties the -wal, where old page images would otherwise linger. `vacuum()`
        additionally rebuilds the file (and shrinks it).
        """
        async with self._write() as conn:
            rows = await _all(
                conn,
                "DELETE FROM reports WHERE (:org_id IS NULL OR org_id = :org_id)"
                " AND created_at < :before RETURNING ref",
                # Reports are dated by day: one of the cutoff's day is kept until the next day.
                {"org_id": org_id, "before": to_db_day(created_before)},
            )
            for row in rows:
                await _run(conn, _FORGET_REPORT_REMINDERS, {"ref": row["ref"]})
        await self.checkpoint()
        return len(rows)

    async def vacuum(self) -> None:
        """Rebuild the database file from its live content, then checkpoint the log."""
        async with self._read() as conn:
            await _run(conn, "VACUUM")
            await self._checkpoint(conn)

    async def report_orgs(self) -> dict[str, int]:
        """Every organisation that has reports, with how many (also of unloaded routines)."""
        async with self._read() as conn:
            rows = await _all(
                conn, "SELECT org_id, COUNT(*) FROM reports GROUP BY org_id ORDER BY org_id", {}
            )
        return {row[0]: int(row[1]) for row in rows}

    async def count_reports_before(self, org_id: str | None, created_before: datetime) -> int:
        """How many reports `purge_reports` with the same arguments would delete."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT COUNT(*) FROM reports WHERE (:org_id IS NULL OR org_id = :org_id)"
                " AND created_at < :before",
                {"org_id": org_id, "before": to_db_day(created_before)},
            )
        assert row is not None
        return int(row[0])

    async def count_drafts_before(self, updated_before: datetime) -> int:
        """How many drafts `purge_drafts` with the same argument would delete."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT COUNT(*) FROM drafts WHERE updated_at < :before",
                {"before": to_db_time(updated_before)},
            )
        assert row is not None
        return int(row[0])

    async def count_prunable_outbox(self, created_before: datetime) -> int:
        """How many messages `prune_outbox` with the same argument would delete."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE (sent_at IS NOT NULL OR dead_reason IS NOT NULL)"
                " AND created_at < :before",
                {"before": to_db_time(created_before)},
            )
        assert row is not None
        return int(row[0])

    # --- outbox ------------------------------------------------------------------------------

    async def enqueue(self, items: Iterable[OutboxItem], now: datetime) -> int:
        """Queue messages in one transaction; return how many were new.

        An item whose `dedupe` is already in the outbox (queued, sent or dead) is skipped:
        queueing the same logical message twice sends it once.
        """
        stamp = to_db_time(now)
        async with self._write() as conn:
            added = 0
            for item in items:
                if item.to_reporter and item.report_id is None:
                    raise ValueError("a message to the reporter needs its report_id")
                added += await self._enqueue(conn, item, item.report_id, stamp)
        return added

    async def _enqueue(
        self, conn: aiosqlite.Connection, item: OutboxItem, report_id: int | None, stamp: str
    ) -> int:
        member_key = chat_sealed = None
        dedupe = item.dedupe
        if item.chat_id is not None:
            member_key = self._key(item.chat_id)
            chat_sealed = self._sealer.seal_chat(item.chat_id)
            # Dedupe keys name the recipient (`report:R-ABC123:<id>`): the id becomes their key.
            plain = str(item.chat_id)
            dedupe = ":".join(member_key if part == plain else part for part in dedupe.split(":"))
        return await _run(
            conn,
            _ENQUEUE,
            {
                "dedupe": dedupe,
                "member_key": member_key,
                "chat_sealed": chat_sealed,
                "report_id": report_id,
                "payload": bytes(item.payload),
                "urgent": int(item.urgent),
                "next_attempt_at": max(stamp, _opt_db_time(item.not_before) or stamp),
                "now": stamp,
            },
        )

    async def due_outbox(self, now: datetime, limit: int) -> list[OutboxRow]:
        """Messages to try now: not sent, not dead, due; urgent first, then oldest."""
        async with self._read() as conn:
            rows = await _all(conn, _DUE_OUTBOX, {"now": to_db_time(now), "limit": limit})
        return [_outbox_row(row, self._sealer) for row in rows]

    async def outbox_sent(self, outbox_id: int, now: datetime) -> bool:
        """Telegram accepted the message: mark it sent and empty its payload.

        A chat that accepts a message is no longer blocked. If it was the last message queued
        to the reporter of a closed report, the link to them ends here. Returns False if the
        row was already sent or dead (nothing changes then).
        """
        released = 0
        async with self._write() as conn:
            row = await _one(
                conn,
                "UPDATE outbox SET sent_at = :now, payload = x''"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL"
                " RETURNING member_key, report_id",
                {"id": outbox_id, "now": to_db_time(now)},
            )
            if row is None:
                return False
            if row["member_key"] is not None:
                await _run(
                    conn,
                    "UPDATE users SET blocked_on = NULL WHERE member_key = :member_key",
                    {"member_key": row["member_key"]},
                )
            if row["report_id"] is not None:
                released = await self._release(conn, row["report_id"])
        if released:
            await self.checkpoint()
        return True

    async def outbox_retry(
        self, outbox_id: int, attempts: int, next_attempt_at: datetime, now: datetime
    ) -> None:
        """Try the message again at `next_attempt_at`; `attempts` is the count of failures."""
        async with self._write() as conn:
            await _run(
                conn,
                "UPDATE outbox SET attempts = :attempts, next_attempt_at = :next"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL",
                {"id": outbox_id, "attempts": attempts, "next": to_db_time(next_attempt_at)},
            )

    async def outbox_dead(self, outbox_id: int, reason: str, now: datetime) -> None:
        """Give the message up for `reason`, a short code such as 'blocked' or 'bad_request'
        (never message text: anything else is refused). Its payload is emptied."""
        if not _DEAD_REASON.fullmatch(reason):
            raise ValueError("a dead reason is a short lowercase code")
        released = 0
        async with self._write() as conn:
            row = await _one(
                conn,
                "UPDATE outbox SET dead_reason = :reason, payload = x''"
                " WHERE id = :id AND sent_at IS NULL AND dead_reason IS NULL"
                " RETURNING member_key, report_id",
                {"id": outbox_id, "reason": reason},
            )
            if row is not None and row["report_id"] is not None:
                released = await self._release(conn, row["report_id"])
        if released:
            await self.checkpoint()

    async def outbox_pending(self) -> int:
        """How many messages are neither sent nor given up."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL",
                {},
            )
        assert row is not None
        return int(row[0])

    async def prune_outbox(self, created_before: datetime) -> int:
        """Delete sent and dead messages queued before `created_before`; return how many.

        Their dedupe keys go with them, so keep this well beyond any retry of a handler.
        """
        async with self._write() as conn:
            count = await _run(
                conn,
                "DELETE FROM outbox WHERE (sent_at IS NOT NULL OR dead_reason IS NOT NULL)"
                " AND created_at < :before",
                {"before": to_db_time(created_before)},
            )
        return count

    async def mark_blocked(self, chat_id: int, now: datetime) -> None:
        """Telegram answered 403 for this member's chat: a state of the member, dated by day.

        A chat that belongs to no user (a reporter's, reached through a link) is not recorded.
        """
        async with self._write() as conn:
            await _run(
                conn,
                "UPDATE users SET blocked_on = :day"
                " WHERE member_key = :member_key AND blocked_on IS NULL",
                {"member_key": self._key(chat_id), "day": to_db_day(now)},
            )

    async def is_blocked(self, chat_id: int) -> bool:
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT 1 FROM users WHERE member_key = :member_key AND blocked_on IS NOT NULL",
                {"member_key": self._key(chat_id)},
            )
        return row is not None

    async def unblock(self, chat_id: int) -> None:
        """The chat wrote to the bot again (a successful send also unblocks it)."""
        async with self._write() as conn:
            await _run(
                conn,
                "UPDATE users SET blocked_on = NULL WHERE member_key = :member_key",
                {"member_key": self._key(chat_id)},
            )

    # --- reminders ---------------------------------------------------------------------------

    async def reminders_recorded(self, keys: Iterable[str]) -> set[str]:
        """Which of the period `keys` have been acted on (see `record_reminder`)."""
        wanted = sorted(set(keys))
        if not wanted:
            return set()
        async with self._read() as conn:
            rows = await _all(
                conn,
                "SELECT key FROM reminders_sent WHERE key IN (SELECT value FROM json_each(:keys))",
                {"keys": json.dumps(wanted)},
            )
        return {row[0] for row in rows}

    async def record_reminder(
        self,
        keys: Sequence[str],
        items: Iterable[OutboxItem],
        now: datetime,
        *,
        reminded: int | None = None,
        escalated: int | None = None,
    ) -> bool:
        """Record the period `keys` and queue `items`, in ONE transaction; False (and nothing
        changes) if any key was recorded before.

        A crash before the commit leaves neither, so the job does it again; after the commit the
        keys stop it for good. `reminded`/`escalated` mark that report's acknowledgement reminder
        or escalation in the same transaction.
        """
        if not keys:
            raise ValueError("a reminder needs at least one period key")
        stamp = to_db_time(now)
        try:
            async with self._write() as conn:
                for key in keys:
                    if not await _run(conn, _RECORD_REMINDER, {"key": key, "now": stamp}):
                        raise _AlreadyRecorded
                for item in items:
                    if item.to_reporter and item.report_id is None:
                        raise ValueError("a message to the reporter needs its report_id")
                    await self._enqueue(conn, item, item.report_id, stamp)
                for column, report_id in (("reminded_at", reminded), ("escalated_at", escalated)):
                    if report_id is not None:
                        await _run(
                            conn,
                            f"UPDATE reports SET {column} = :now WHERE id = :id",
                            {"id": report_id, "now": to_db_day(now)},
                        )
        except _AlreadyRecorded:
            return False
        return True

    async def record_broadcast(
        self,
        key: str,
        org_id: str,
        payloads: Mapping[str, bytes],
        default_lang: str,
        now: datetime,
        *,
        not_before: datetime | None = None,
    ) -> int | None:
        """Record `key` and queue one message to every member of `org_id` who has reminders on
        and has not blocked the bot, in ONE transaction; return how many were queued, or None
        if `key` was recorded before (nothing changes then).

        `payloads` holds the sealed message per language; a member gets the one of their
        language (`users.lang`), else the one of `default_lang`, which must be there. Each
        message's dedupe key is `key:<user id>`. The rows are written by INSERT ... SELECT, so
        a digest to 40,000 members costs neither 40,000 round trips nor their memory.
        """
        if default_lang not in payloads:
            raise ValueError("the default language's message is missing")
        stamp = to_db_time(now)
        params: dict[str, Any] = {
            "org_id": org_id,
            "prefix": key + ":",
            "langs": json.dumps(sorted(payloads)),
            "next": max(stamp, _opt_db_time(not_before) or stamp),
            "now": stamp,
        }
        async with self._write() as conn:
            if not await _run(conn, _RECORD_REMINDER, {"key": key, "now": stamp}):
                return None
            queued = 0
            for lang, payload in sorted(payloads.items()):
                values = {**params, "lang": lang, "fallback": int(lang == default_lang)}
                queued += await _run(conn, _BROADCAST, {**values, "payload": payload})
        return queued

    async def set_digest(self, user_id: int, enabled: bool) -> bool:
        """Turn the member's reminders (digest and events) on or off; False if not a member."""
        async with self._write() as conn:
            changed = await _run(
                conn,
                "UPDATE memberships SET digest_enabled = :enabled WHERE member_key = :member_key",
                {"member_key": self._key(user_id), "enabled": int(enabled)},
            )
        return changed == 1

    async def followup_reports(self) -> list[Report]:
        """Open reports whose reporter asked to be contacted and still has a link, oldest first."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS_R} FROM reports r"
                " JOIN report_links l ON l.report_id = r.id"
                " WHERE r.state != 'closed' AND r.contact_me = 1 ORDER BY r.created_at, r.id",
                {},
            )
        return [_report(row) for row in rows]

    async def outbox_sent_many(self, outbox_ids: Sequence[int], now: datetime) -> int:
        """`outbox_sent` for many rows, committed as ONE statement; return how many were marked
        (rows already sent or dead are left as they are).

        This commit closes the window in which a crash would send a message again, so it is
        kept to one round trip: the UPDATE runs on its own, as its own transaction (the
        connection is in autocommit mode), and says which chats were blocked and which reports'
        reporters it concerned. Clearing those blocks and releasing the links of closed reports
        follows in a second transaction, only when there is any.
        """
        if not outbox_ids:
            return 0
        async with self._read() as conn:  # one statement: its own transaction
            rows = await _all(
                conn, _MARK_SENT, {"ids": json.dumps(list(outbox_ids)), "now": to_db_time(now)}
            )
        blocked = sorted({row["member_key"] for row in rows if row["blocked"]})
        released = sorted({row["report_id"] for row in rows if row["report_id"]})
        if blocked or released:
            async with self._write() as conn:
                await _run(
                    conn,
                    "UPDATE users SET blocked_on = NULL"
                    " WHERE member_key IN (SELECT value FROM json_each(:keys))",
                    {"keys": json.dumps(blocked)},
                )
                gone = 0
                for report_id in released:
                    gone += await self._release(conn, report_id)
            if gone:
                await self.checkpoint()
        return len(rows)

    # --- status ------------------------------------------------------------------------------

    async def counts_for_status(self, org_id: str) -> dict[str, int]:
        """`open` and `unacknowledged` reports of the organisation, and `outbox_pending` (all)."""
        async with self._read() as conn:
            row = await _one(
                conn,
                "SELECT"
                " (SELECT COUNT(*) FROM reports WHERE org_id = :org_id AND state != 'closed'),"
                " (SELECT COUNT(*) FROM reports WHERE org_id = :org_id AND state = 'new'),"
                " (SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND dead_reason IS NULL)",
                {"org_id": org_id},
            )
        assert row is not None
        return {"open": int(row[0]), "unacknowledged": int(row[1]), "outbox_pending": int(row[2])}

    # --- statistics --------------------------------------------------------------------------

    async def report_counts(self, org_id: str, first: str, last: str) -> list[CountRow]:
        """The organisation's reports per month and coded field, for the months `first` to
        `last` (`YYYY-MM`, both included). Kept by triggers (schema v4): a few hundred rows."""
        async with self._read() as conn:
            rows = await _all(conn, _ORG_COUNTS, {"org_id": org_id, "first": first, "last": last})
        return [CountRow(org_id, r[0], r[1], r[2], int(r[3])) for r in rows]

    async def national_counts(self, first: str, last: str) -> tuple[list[CountRow], list[CountRow]]:
        """Every organisation's counts summed (org_id ''), and per organisation its reports and
        those reported to the police, for the months `first` to `last`.

        Both are read in one transaction, so they add up even while reports come and go.
        """
        params = {"first": first, "last": last}
        async with self._read() as conn:
            await _run(conn, "BEGIN")
            try:
                totals = await _all(conn, _NATIONAL_COUNTS, params)
                by_org = await _all(conn, _COUNTS_BY_ORG, params)
            finally:
                await rollback(conn)  # read only: nothing to keep
        return (
            [CountRow("", r[0], r[1], r[2], int(r[3])) for r in totals],
            [CountRow(r[0], r[1], r[2], r[3], int(r[4])) for r in by_org],
        )

    async def reports_between(self, org_id: str, first: str, last: str) -> list[Report]:
        """The organisation's reports of incidents in the months `first` to `last`, ordered by
        month and codes: never in the order they were sent, which could tell who sent which."""
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT {_REPORT_COLUMNS} FROM reports"
                " WHERE org_id = :org_id AND month BETWEEN :first AND :last"
                " ORDER BY month, type, channel, police, impacts, perpetrator, repeated, gender,"
                " description",
                {"org_id": org_id, "first": first, "last": last},
            )
        return [_report(row) for row in rows]

    async def users_by_id(self, user_ids: Sequence[int]) -> dict[int, User]:
        """The users among `user_ids` who talked to the bot, in one query (a report's Send
        needs the language of every coordinator it goes to)."""
        keys = {self._key(user_id): user_id for user_id in user_ids}
        if not keys:
            return {}
        names = [f":k{n}" for n in range(len(keys))]
        async with self._read() as conn:
            rows = await _all(
                conn,
                f"SELECT member_key, {_USER_COLUMNS} FROM users"
                f" WHERE member_key IN ({', '.join(names)})",
                {f"k{n}": key for n, key in enumerate(keys)},
            )
        return {keys[row["member_key"]]: _user(row, keys[row["member_key"]]) for row in rows}
