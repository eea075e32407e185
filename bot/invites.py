"""Invite codes: how an official joins their organisation, without Telegram or SQL in sight.

A coordinator hands out a deep link `https://t.me/<bot>?start=<code>`. Whoever holds the code can
join the organisation with the invite's role, so the code is a credential: only its HMAC under the
data directory's secret key is stored. Someone who copies the database file learns who is a member
but cannot mint a working link, and a guessed hash is useless without the key.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage import Database, InviteFailure, InviteRow, Membership, Role, invite_refusal

__all__ = [
    "NATIONAL_ORG",
    "Invite",
    "InviteFailure",
    "InviteService",
    "Redeemed",
    "deep_link",
    "hash_code",
    "is_code",
    "new_code",
]

CODE_BYTES = 12
"""12 random bytes are 96 bits, 16 URL-safe characters: unguessable, and short enough to type."""

_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""Telegram's rule for a /start payload, and so for anything that can arrive as a code."""

_BOT_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{4,31}")

MIN_KEY_SIZE = 32

NATIONAL_ORG = "_national"
"""The `org_id` of invites and memberships with the national role, which belong to no one
organisation. No routine can have it: organisation ids are [a-z0-9-] (the national contacts'
file is `_national.yaml` for the same reason), so it never loads a routine, and the member gets
the national contacts."""


@dataclass(frozen=True)
class Invite:
    """What an invite offers, as shown before it is used."""

    org_id: str
    role: Role
    contact_id: str | None
    uses_left: int | None
    expires_at: datetime | None


@dataclass(frozen=True)
class Redeemed:
    """A used invite. When redeemed for a user, `membership` is theirs now and `replaced` is the
    membership it ended; otherwise both are None and the caller still has to join."""

    org_id: str
    role: Role
    contact_id: str | None
    uses_left: int | None
    membership: Membership | None = None
    replaced: Membership | None = None


def new_code() -> str:
    """A fresh random code, valid as a Telegram /start payload ([A-Za-z0-9_-], at most 64)."""
    return secrets.token_urlsafe(CODE_BYTES)


def is_code(text: str) -> bool:
    """Whether `text` could be a code at all; anything else is answered without a lookup."""
    return _CODE.fullmatch(text) is not None


def hash_code(key: bytes, code: str) -> str:
    """HMAC-SHA256 of `code` under `key`, in hex: the form in which codes are stored."""
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def deep_link(bot_username: str, code: str) -> str:
    """The link that opens the bot and sends `/start <code>`."""
    username = bot_username.removeprefix("@")
    if _BOT_USERNAME.fullmatch(username) is None:
        raise ValueError(f"not a Telegram bot username: {bot_username!r}")
    if not is_code(code):
        raise ValueError("an invite code may only contain A-Z, a-z, 0-9, _ and -, at most 64")
    return f"https://t.me/{username}?start={code}"


def _invite(row: InviteRow) -> Invite:
    return Invite(
        org_id=row.org_id,
        role=row.role,
        contact_id=row.contact_id,
        uses_left=row.uses_left,
        expires_at=row.expires_at,
    )


class InviteService:
    """Creates, shows and redeems invites; `clock` returns the current aware UTC time."""

    def __init__(self, db: Database, key: bytes, clock: Callable[[], datetime]) -> None:
        if len(key) < MIN_KEY_SIZE:
            raise ValueError(f"the invite key must be at least {MIN_KEY_SIZE} bytes")
        self._db = db
        self._key = key
        self._clock = clock

    async def create(
        self,
        org_id: str,
        role: Role,
        contact_id: str | None,
        uses: int | None,
        expires: timedelta | None,
    ) -> str:
        """Store a new invite and return its code; the code is not kept anywhere after this.

        `uses=None` allows any number of uses (a link for a whole council group); `expires=None`
        never expires. Whether `org_id` and `contact_id` exist is for the caller, who has the
        routines, to check.
        """
        if uses is not None and uses < 1:
            raise ValueError(f"an invite needs at least one use, not {uses}")
        if expires is not None and expires <= timedelta(0):
            raise ValueError(f"an invite must expire in the future, not after {expires}")
        now = self._clock()
        code = new_code()
        await self._db.add_invite(
            code_hash=hash_code(self._key, code),
            org_id=org_id,
            role=Role(role),
            contact_id=contact_id,
            uses_left=uses,
            expires_at=None if expires is None else now + expires,
            now=now,
        )
        return code

    async def peek(self, code: str) -> Invite | InviteFailure:
        """What `code` would give, without using it.

        The handler peeks first so that a member of another organisation can be asked before
        their membership is replaced, and only then redeems.
        """
        if not is_code(code):
            return InviteFailure.UNKNOWN
        row = await self._db.peek_invite(hash_code(self._key, code))
        refusal = invite_refusal(row, self._clock())
        if refusal is not None:
            return refusal
        assert row is not None  # invite_refusal returns UNKNOWN for None
        return _invite(row)

    async def redeem(self, code: str, user_id: int | None = None) -> Redeemed | InviteFailure:
        """Use `code`; given `user_id`, the use is taken and the membership written atomically.

        Passing `user_id` is the safe way: without it the caller must `join` afterwards, and a
        crash in between spends a use with nobody joined. The organisation always comes from the
        stored invite, never from the caller, so a code only ever admits someone to the
        organisation it was made for. Failures are UNKNOWN, EXPIRED and USED_UP, in that order.
        """
        if not is_code(code):
            return InviteFailure.UNKNOWN
        result = await self._db.redeem_invite(hash_code(self._key, code), self._clock(), user_id)
        if isinstance(result, InviteFailure):
            return result
        return Redeemed(
            org_id=result.invite.org_id,
            role=result.invite.role,
            contact_id=result.invite.contact_id,
            uses_left=result.invite.uses_left,
            membership=result.membership,
            replaced=result.replaced,
        )
