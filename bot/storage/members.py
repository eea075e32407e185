"""Users, memberships, invites and the blocked state of a member's chat."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.storage.core import (
    _MEMBERSHIP_COLUMNS,
    COORDINATOR_PENDING_PREFIX,
    _Core,
    from_db_time,
    to_db_day,
    to_db_month,
    to_db_time,
)
from bot.storage.inline import every, one, run
from bot.storage.records import (
    InviteFailure,
    InviteRow,
    Membership,
    Redemption,
    Role,
    StorageError,
    User,
)


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


_USER_COLUMNS = "chat_sealed, lang, lang_chosen, created_at"
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


def _user(row: sqlite3.Row, user_id: int) -> User:
    return User(
        user_id=user_id,
        lang=row["lang"],
        lang_chosen=bool(row["lang_chosen"]),
        created_at=from_db_time(row["created_at"]),
    )


def _membership(row: sqlite3.Row, user_id: int) -> Membership:
    return Membership(
        user_id=user_id,
        org_id=row["org_id"],
        role=Role(row["role"]),
        contact_id=row["contact_id"],
        joined_at=from_db_time(row["joined_at"]),
        digest_enabled=bool(row["digest_enabled"]),
    )


def _invite(row: sqlite3.Row) -> InviteRow:
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


class MembersQueries(_Core):
    """Who talks to the bot, who belongs where, and who may join."""

    async def get_user(self, user_id: int) -> User | None:
        """The user, or None if they never talked to the bot or were forgotten."""
        row = await self._query(
            lambda conn: one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
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

        def body(conn: sqlite3.Connection) -> sqlite3.Row | None:
            run(conn, _SET_LANGUAGE, params)
            return one(
                conn,
                f"SELECT {_USER_COLUMNS} FROM users WHERE member_key = :member_key",
                {"member_key": key},
            )

        row = await self._transact(body)
        assert row is not None  # just inserted or updated in this transaction
        return _user(row, user_id)

    async def get_profile(self, user_id: int) -> tuple[User | None, Membership | None]:
        """The user and their membership in one query: every update asks for both."""
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT u.member_key, u.chat_sealed, u.lang, u.lang_chosen, u.created_at,"
                " m.org_id, m.role, m.contact_id, m.joined_at, m.digest_enabled"
                " FROM users u LEFT JOIN memberships m ON m.member_key = u.member_key"
                " WHERE u.member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
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

        def body(conn: sqlite3.Connection) -> int:
            return sum(run(conn, statement, params) for statement in _FORGET_USER)

        changed = await self._transact(body)
        await self.checkpoint()
        return changed > 0

    # --- memberships -------------------------------------------------------------------------

    async def get_membership(self, user_id: int) -> Membership | None:
        """The user's organisation and role, or None if they have joined none."""
        row = await self._query(
            lambda conn: one(
                conn,
                f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE member_key = :member_key",
                {"member_key": self._key(user_id)},
            )
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
        membership, _ = await self._transact(
            lambda conn: self._join(conn, user_id, org_id, role, contact_id, now)
        )
        return membership

    def _join(
        self,
        conn: sqlite3.Connection,
        user_id: int,
        org_id: str,
        role: Role,
        contact_id: str | None,
        now: datetime,
    ) -> tuple[Membership, Membership | None]:
        """Inside a write transaction: upsert the user and membership; return (new, replaced)."""
        month = to_db_month(now)
        key = self._key(user_id)
        run(
            conn,
            _ENSURE_USER,
            {"member_key": key, "chat_sealed": self._sealer.seal_chat(user_id), "month": month},
        )
        before = one(
            conn,
            f"SELECT {_MEMBERSHIP_COLUMNS} FROM memberships WHERE member_key = :member_key",
            {"member_key": key},
        )
        row = one(
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
        rows = await self._query(
            lambda conn: every(
                conn,
                f"{_MEMBERS_SELECT}"
                " WHERE m.org_id = :org_id AND (:role IS NULL OR m.role = :role)"
                " ORDER BY m.joined_at, m.member_key",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
        )
        return [_membership(row, self._chat_of(row)) for row in rows]

    async def coordinators_for_contact(self, org_id: str, contact_id: str) -> list[Membership]:
        """The coordinators who answer for routine contact `contact_id` of `org_id`."""
        rows = await self._query(
            lambda conn: every(
                conn,
                f"{_MEMBERS_SELECT}"
                " WHERE m.org_id = :org_id AND m.role = :role AND m.contact_id = :contact_id"
                " ORDER BY m.joined_at, m.member_key",
                {"org_id": org_id, "role": Role.COORDINATOR.value, "contact_id": contact_id},
            )
        )
        return [_membership(row, self._chat_of(row)) for row in rows]

    async def count_members(self, org_id: str, role: Role | None = None) -> int:
        """How many users belong to `org_id` (or have `role` there)."""
        count = await self._query(
            lambda conn: one(
                conn,
                "SELECT COUNT(*) FROM memberships"
                " WHERE org_id = :org_id AND (:role IS NULL OR role = :role)",
                {"org_id": org_id, "role": None if role is None else Role(role).value},
            )
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
        row = await self._transact(
            lambda conn: one(
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
        )
        assert row is not None
        return _invite(row)

    async def peek_invite(self, code_hash: str) -> InviteRow | None:
        """The invite as stored, without using it (to ask before switching organisation)."""
        row = await self._query(
            lambda conn: one(
                conn,
                f"SELECT {_INVITE_COLUMNS} FROM invites WHERE code_hash = :code_hash",
                {"code_hash": code_hash},
            )
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

        def body(conn: sqlite3.Connection) -> Redemption | InviteFailure:
            row = one(conn, _REDEEM_INVITE, {"code_hash": code_hash, "now": stamp})
            if row is None:
                current = one(
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
            membership, replaced = self._join(
                conn, user_id, invite.org_id, invite.role, invite.contact_id, now
            )
            return Redemption(invite=invite, membership=membership, replaced=replaced)

        return await self._transact(body)

    async def revoke_member(self, user_id: int, pending_keys: Sequence[str]) -> bool:
        """End a membership at once (`trygg revoke`): the membership, the draft, the pending
        inputs under `pending_keys`, and what is still queued to their chat. The user row (the
        language) stays; their own reports and links stay theirs. True if they were a member."""
        params: dict[str, Any] = {"member_key": self._key(user_id)}
        pending = [{"key": self._pending_key(key)} for key in pending_keys]

        def body(conn: sqlite3.Connection) -> int:
            removed = run(conn, "DELETE FROM memberships WHERE member_key = :member_key", params)
            run(conn, "DELETE FROM drafts WHERE member_key = :member_key", params)
            for key in pending:
                run(conn, "DELETE FROM pending_inputs WHERE key = :key", key)
            run(
                conn,
                "DELETE FROM outbox WHERE member_key = :member_key AND sent_at IS NULL",
                params,
            )
            return removed

        removed = await self._transact(body)
        await self.checkpoint()
        return removed > 0

    # --- blocked chats ---------------------------------------------------------------------

    async def mark_blocked(self, chat_id: int, now: datetime) -> None:
        """Telegram answered 403 for this member's chat: a state of the member, dated by day.

        A chat that belongs to no user (a reporter's, reached through a link) is not recorded.
        """
        await self._transact(
            lambda conn: run(
                conn,
                "UPDATE users SET blocked_on = :day"
                " WHERE member_key = :member_key AND blocked_on IS NULL",
                {"member_key": self._key(chat_id), "day": to_db_day(now)},
            )
        )

    async def is_blocked(self, chat_id: int) -> bool:
        row = await self._query(
            lambda conn: one(
                conn,
                "SELECT 1 FROM users WHERE member_key = :member_key AND blocked_on IS NOT NULL",
                {"member_key": self._key(chat_id)},
            )
        )
        return row is not None

    async def unblock(self, chat_id: int) -> None:
        """The chat wrote to the bot again (a successful send also unblocks it)."""
        await self._transact(
            lambda conn: run(
                conn,
                "UPDATE users SET blocked_on = NULL WHERE member_key = :member_key",
                {"member_key": self._key(chat_id)},
            )
        )

    async def users_by_id(self, user_ids: Sequence[int]) -> dict[int, User]:
        """The users among `user_ids` who talked to the bot, in one query (a report's Send
        needs the language of every coordinator it goes to)."""
        keys = {self._key(user_id): user_id for user_id in user_ids}
        if not keys:
            return {}
        names = [f":k{n}" for n in range(len(keys))]
        rows = await self._query(
            lambda conn: every(
                conn,
                f"SELECT member_key, {_USER_COLUMNS} FROM users"
                f" WHERE member_key IN ({', '.join(names)})",
                {f"k{n}": key for n, key in enumerate(keys)},
            )
        )
        return {keys[row["member_key"]]: _user(row, keys[row["member_key"]]) for row in rows}
