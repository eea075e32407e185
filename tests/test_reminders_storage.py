"""The reminders' storage: a period is recorded with its messages or not at all; a broadcast
reaches the right members in their language; a burst of answers is recorded in one commit."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.crypto import Sealer
from bot.outbox import message
from bot.reports.model import Report, State
from bot.storage import Database, OutboxItem, Role

NOW = datetime(2027, 1, 1, 9, 0, tzinfo=UTC)
SEALER = Sealer(bytes(range(32)))
ANNA, BO, CARL, DORA, EVA = 101, 102, 103, 104, 105


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async with await Database.open(tmp_path / "trygg.sqlite3", SEALER) as database:
        yield database


def rows(db: Database, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db.path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def item(dedupe: str, chat: int, **kwargs: Any) -> OutboxItem:
    return message(SEALER, dedupe, "Påminnelse", chat_id=chat, **kwargs)


async def test_a_period_is_recorded_with_its_messages_or_not_at_all(db: Database) -> None:
    assert await db.record_reminder(["review:solvik:2027-09-01:-30d"], [item("r:1", 1)], NOW)
    assert not await db.record_reminder(["review:solvik:2027-09-01:-30d"], [item("r:2", 2)], NOW)
    assert await db.reminders_recorded(["review:solvik:2027-09-01:-30d", "x"]) == {
        "review:solvik:2027-09-01:-30d"
    }
    # A failure halfway (here: a message to a reporter without its report) undoes the key too.
    broken = OutboxItem(dedupe="f:1", payload=b"x", to_reporter=True)
    with pytest.raises(ValueError):
        await db.record_reminder(["followup:R-X:2d"], [item("f:0", 3), broken], NOW)
    assert await db.reminders_recorded(["followup:R-X:2d"]) == set()
    # A dedupe key names its recipient by member key, never by id.
    assert rows(db, "SELECT dedupe FROM outbox ORDER BY id") == [("r:" + SEALER.member_key(1),)]
    # Several keys at once (a week's gaps) are all new or none is taken.
    assert await db.record_reminder(["gap:a:x:W1", "gap:a:y:W1"], [], NOW)
    assert not await db.record_reminder(["gap:a:z:W1", "gap:a:y:W1"], [], NOW)
    assert await db.reminders_recorded(["gap:a:z:W1"]) == set()


async def test_a_reminder_in_quiet_hours_waits_and_the_sender_honours_it(db: Database) -> None:
    later = NOW + timedelta(hours=11)
    await db.record_reminder(["k"], [item("q:1", 1, urgent=False)], NOW)
    queued = message(SEALER, "q:2", "Sen", chat_id=2)
    await db.record_reminder(["k2"], [OutboxItem(**{**queued.__dict__, "not_before": later})], NOW)
    first, second = "q:" + SEALER.member_key(1), "q:" + SEALER.member_key(2)
    assert [r.dedupe for r in await db.due_outbox(NOW, 10)] == [first]
    assert [r.dedupe for r in await db.due_outbox(later, 10)] == [first, second]


async def test_a_broadcast_reaches_members_with_reminders_on_in_their_language(
    db: Database,
) -> None:
    for user in (ANNA, BO, CARL, DORA):
        await db.join(user, "solvik", Role.MEMBER, None, NOW)
    await db.join(EVA, "region-norrmark", Role.MEMBER, None, NOW)
    await db.set_language(BO, "en", chosen=True, now=NOW)
    await db.set_language(DORA, "fi", chosen=True, now=NOW)  # no message in Finnish: default
    assert await db.set_digest(CARL, False)
    await db.mark_blocked(ANNA, NOW)
    assert not await db.set_digest(999, False)  # not a member
    payloads = {"sv": b"SV", "en": b"EN"}
    assert await db.record_broadcast("digest:solvik:2027-Q1", "solvik", payloads, "sv", NOW) == 2
    assert await db.record_broadcast("digest:solvik:2027-Q1", "solvik", payloads, "sv", NOW) is None
    got = rows(db, "SELECT dedupe, member_key, payload, urgent FROM outbox")
    assert sorted(got) == sorted(
        (f"digest:solvik:2027-Q1:{SEALER.member_key(user)}", SEALER.member_key(user), lang, 0)
        for user, lang in ((BO, b"EN"), (DORA, b"SV"))
    )
    assert {row.chat_id for row in await db.due_outbox(NOW, 10)} == {BO, DORA}
    with pytest.raises(ValueError):
        await db.record_broadcast("k", "solvik", {"en": b"EN"}, "sv", NOW)


async def test_a_burst_of_answers_is_recorded_in_one_commit_with_its_housekeeping(
    db: Database,
) -> None:
    report = Report(
        id=0, ref="R-AAAAAA", org_id="solvik", type="hot", channel="epost", month="2026-12",
        repeated=False, perpetrator="okand", police="nej", impacts=(), gender=None,
        description=None, contact_me=True, state=State.NEW, created_at=NOW,
    )  # fmt: skip
    link = (SEALER.owner_tag(9), SEALER.seal_chat(9))
    stored = await db.submit_report(report, link, [], 9, NOW)
    notice = message(SEALER, "closed", "Avslutad", to_reporter=True)
    await db.close_report(stored.ref, NOW, [notice])
    await db.enqueue([item("a", ANNA), item("b", BO)], NOW)
    await db.mark_blocked(ANNA, NOW)
    ids = [r.id for r in await db.due_outbox(NOW, 10)]
    assert await db.outbox_sent_many(ids, NOW) == 3
    assert await db.outbox_sent_many(ids, NOW) == 0  # already sent: nothing changes
    assert not await db.is_blocked(ANNA)
    assert await db.link_of(stored.id) is None  # the closed case's last message went
    assert await db.outbox_pending() == 0


async def test_followup_reports_are_open_linked_and_asked_for(db: Database) -> None:
    base = dict(
        org_id="solvik", type="hot", channel="epost", month="2026-12", repeated=False,
        perpetrator="okand", police="nej", impacts=(), gender=None, description=None,
        state=State.NEW, created_at=NOW, id=0,
    )  # fmt: skip
    linked = await db.submit_report(
        Report(ref="R-BBBBBB", contact_me=True, **base),  # type: ignore[arg-type]
        (SEALER.owner_tag(9), SEALER.seal_chat(9)),
        [],
        9,
        NOW,
    )
    await db.submit_report(
        Report(ref="R-CCCCCC", contact_me=False, **base),  # type: ignore[arg-type]
        None,
        [],
        9,
        NOW,
    )
    assert [r.ref for r in await db.followup_reports()] == [linked.ref]
    await db.close_report(linked.ref, NOW)
    assert await db.followup_reports() == []


async def test_forgetting_a_user_drops_what_is_queued_to_their_chat(db: Database) -> None:
    await db.join(ANNA, "solvik", Role.MEMBER, None, NOW)
    await db.record_broadcast("digest:solvik:2027-Q1", "solvik", {"sv": b"SV"}, "sv", NOW)
    await db.mark_blocked(ANNA, NOW)
    assert await db.forget_user(ANNA)
    assert rows(db, "SELECT COUNT(*) FROM outbox") == [(0,)]
    assert not await db.is_blocked(ANNA)
