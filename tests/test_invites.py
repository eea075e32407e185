"""Invites: codes, hashing, deep links and redemption against a real SQLite file."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.invites import (
    Invite,
    InviteFailure,
    InviteService,
    Redeemed,
    deep_link,
    hash_code,
    is_code,
    new_code,
)
from bot.storage import Database, Role

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@dataclass
class Clock:
    """A clock the test moves by hand."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "trygg.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(db_path) as database:
        yield database


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def invites(db: Database, clock: Clock) -> InviteService:
    return InviteService(db, KEY, clock)


def read_bytes(path: Path) -> bytes:
    """Synchronous on purpose: the test looks at the file while nothing else runs."""
    return path.read_bytes()


def redeemed(result: Redeemed | InviteFailure) -> Redeemed:
    assert isinstance(result, Redeemed), result
    return result


# --- codes and links --------------------------------------------------------------------------


def test_new_codes_fit_a_start_payload_and_differ() -> None:
    codes = {new_code() for _ in range(200)}
    assert len(codes) == 200
    for code in codes:
        assert re.fullmatch(r"[A-Za-z0-9_-]{16}", code), code
        assert is_code(code)


@pytest.mark.parametrize("text", ["", "a b", "a/b", "å", "x" * 65, "abc\n"])
def test_what_is_not_a_code(text: str) -> None:
    assert not is_code(text)


def test_hash_code_is_a_keyed_hex_digest() -> None:
    digest = hash_code(KEY, "abc")
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert hash_code(KEY, "abc") == digest
    assert hash_code(OTHER_KEY, "abc") != digest
    assert hash_code(KEY, "abd") != digest


def test_deep_link() -> None:
    assert deep_link("TryggBot", "Ab_9-x") == "https://t.me/TryggBot?start=Ab_9-x"
    assert deep_link("@TryggBot", "Ab_9-x") == "https://t.me/TryggBot?start=Ab_9-x"
    with pytest.raises(ValueError, match="invite code"):
        deep_link("TryggBot", "not a code")
    with pytest.raises(ValueError, match="username"):
        deep_link("trygg bot", "abc")


async def test_a_short_key_is_refused(db: Database, clock: Clock) -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        InviteService(db, b"short", clock)


# --- creating and redeeming -------------------------------------------------------------------


async def test_redeeming_joins_the_invites_organisation(
    invites: InviteService, db: Database
) -> None:
    code = await invites.create("vara", Role.COORDINATOR, "samordnare", uses=3, expires=None)
    result = redeemed(await invites.redeem(code, user_id=11))
    assert result.org_id == "vara"
    assert result.role is Role.COORDINATOR
    assert result.contact_id == "samordnare"
    assert result.uses_left == 2
    assert result.replaced is None
    assert result.membership is not None
    assert result.membership.org_id == "vara"
    assert await db.get_membership(11) == result.membership


async def test_redeeming_without_a_user_only_takes_a_use(
    invites: InviteService, db: Database
) -> None:
    """The two-step path (redeem, then join) for callers that join themselves."""
    code = await invites.create("vara", Role.MEMBER, None, uses=1, expires=None)
    result = redeemed(await invites.redeem(code))
    assert (result.org_id, result.uses_left, result.membership, result.replaced) == (
        "vara",
        0,
        None,
        None,
    )
    assert await db.count_members("vara") == 0
    assert await invites.redeem(code, user_id=1) is InviteFailure.USED_UP


async def test_each_code_admits_only_to_its_own_organisation(
    invites: InviteService, db: Database
) -> None:
    vara = await invites.create("vara", Role.MEMBER, None, uses=None, expires=None)
    lund = await invites.create("lund", Role.COORDINATOR, "tib", uses=None, expires=None)
    assert redeemed(await invites.redeem(lund, user_id=1)).org_id == "lund"
    assert redeemed(await invites.redeem(vara, user_id=2)).org_id == "vara"
    assert [m.user_id for m in await db.members_of("lund")] == [1]
    assert [m.user_id for m in await db.members_of("vara")] == [2]


async def test_redeeming_reports_the_replaced_membership(invites: InviteService) -> None:
    vara = await invites.create("vara", Role.MEMBER, None, uses=None, expires=None)
    lund = await invites.create("lund", Role.MEMBER, None, uses=None, expires=None)
    redeemed(await invites.redeem(vara, user_id=1))
    moved = redeemed(await invites.redeem(lund, user_id=1))
    assert moved.replaced is not None
    assert moved.replaced.org_id == "vara"
    assert moved.membership is not None
    assert moved.membership.org_id == "lund"


async def test_unlimited_invites_stay_unlimited(invites: InviteService, db: Database) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=None, expires=None)
    for user_id in range(5):
        assert redeemed(await invites.redeem(code, user_id)).uses_left is None
    assert await db.count_members("vara") == 5


async def test_a_one_use_invite_works_once(invites: InviteService, db: Database) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=1, expires=None)
    assert redeemed(await invites.redeem(code, user_id=1)).uses_left == 0
    assert await invites.redeem(code, user_id=2) is InviteFailure.USED_UP
    assert await db.get_membership(2) is None


async def test_an_expired_invite_is_refused(
    invites: InviteService, db: Database, clock: Clock
) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=None, expires=timedelta(days=7))
    clock.advance(timedelta(days=7) - timedelta(microseconds=1))
    redeemed(await invites.redeem(code, user_id=1))
    clock.advance(timedelta(microseconds=1))  # the moment of expiry already counts as expired
    assert await invites.redeem(code, user_id=2) is InviteFailure.EXPIRED
    assert await db.get_membership(2) is None


async def test_expired_is_told_before_used_up(invites: InviteService, clock: Clock) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=1, expires=timedelta(hours=1))
    redeemed(await invites.redeem(code, user_id=1))
    assert await invites.redeem(code, user_id=2) is InviteFailure.USED_UP
    clock.advance(timedelta(hours=2))
    assert await invites.redeem(code, user_id=2) is InviteFailure.EXPIRED


@pytest.mark.parametrize("code", ["AAAAAAAAAAAAAAAA", "not a code", "x" * 65, ""])
async def test_an_unknown_code_is_refused(invites: InviteService, code: str) -> None:
    await invites.create("vara", Role.MEMBER, None, uses=None, expires=None)
    assert await invites.redeem(code, user_id=1) is InviteFailure.UNKNOWN
    assert await invites.peek(code) is InviteFailure.UNKNOWN


async def test_a_code_made_under_another_key_is_unknown(
    invites: InviteService, db: Database, clock: Clock
) -> None:
    code = await InviteService(db, OTHER_KEY, clock).create(
        "vara", Role.MEMBER, None, uses=None, expires=None
    )
    assert await invites.redeem(code, user_id=1) is InviteFailure.UNKNOWN


async def test_a_failed_redemption_keeps_the_current_membership(
    invites: InviteService, db: Database
) -> None:
    vara = await invites.create("vara", Role.MEMBER, None, uses=1, expires=None)
    lund = await invites.create("lund", Role.MEMBER, None, uses=1, expires=None)
    redeemed(await invites.redeem(vara, user_id=1))
    redeemed(await invites.redeem(lund, user_id=2))
    assert await invites.redeem(lund, user_id=1) is InviteFailure.USED_UP
    membership = await db.get_membership(1)
    assert membership is not None
    assert membership.org_id == "vara"


async def test_peek_shows_without_using(invites: InviteService, clock: Clock) -> None:
    code = await invites.create("vara", Role.COORDINATOR, "tib", uses=1, expires=timedelta(days=1))
    for _ in range(3):
        assert await invites.peek(code) == Invite(
            org_id="vara",
            role=Role.COORDINATOR,
            contact_id="tib",
            uses_left=1,
            expires_at=START + timedelta(days=1),
        )
    redeemed(await invites.redeem(code, user_id=1))
    assert await invites.peek(code) is InviteFailure.USED_UP
    clock.advance(timedelta(days=2))
    assert await invites.peek(code) is InviteFailure.EXPIRED


@pytest.mark.parametrize(("uses", "expires"), [(0, None), (-1, None), (1, timedelta(0))])
async def test_nonsense_invites_are_refused(
    invites: InviteService, uses: int, expires: timedelta | None
) -> None:
    with pytest.raises(ValueError, match="invite"):
        await invites.create("vara", Role.MEMBER, None, uses=uses, expires=expires)


# --- atomicity and secrecy --------------------------------------------------------------------


async def test_two_users_racing_for_the_last_use_one_wins(
    invites: InviteService, db: Database
) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=1, expires=None)
    results = await asyncio.gather(invites.redeem(code, user_id=1), invites.redeem(code, user_id=2))
    assert sorted(isinstance(r, Redeemed) for r in results) == [False, True]
    assert InviteFailure.USED_UP in results
    assert await db.count_members("vara") == 1


async def test_two_connections_racing_for_the_last_use_one_wins(
    invites: InviteService, db_path: Path, clock: Clock
) -> None:
    """The guarantee rests on SQLite, not on the lock of one Database object."""
    code = await invites.create("vara", Role.MEMBER, None, uses=1, expires=None)
    async with await Database.open(db_path) as second:
        other = InviteService(second, KEY, clock)
        results = await asyncio.gather(invites.redeem(code, user_id=1), other.redeem(code, 2))
        assert sorted(isinstance(r, Redeemed) for r in results) == [False, True]
        assert await second.count_members("vara") == 1


async def test_the_plain_code_never_reaches_the_file(
    invites: InviteService, db: Database, db_path: Path
) -> None:
    code = await invites.create("vara", Role.MEMBER, None, uses=None, expires=None)
    redeemed(await invites.redeem(code, user_id=1))
    await db.checkpoint()
    stored = read_bytes(db_path)
    assert hash_code(KEY, code).encode() in stored  # we are looking at the right file
    assert code.encode() not in stored
