"""The report's life without Telegram: the workflow on a real database and the example routines.

What a coordinator or reporter would notice: who gets a new report, in which language, that an
acknowledgement or a close happens once, and that a relay reaches only the linked reporter.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.crypto import KEY_SIZE, Sealer
from bot.reports import workflow
from bot.reports.model import SITUATION_TYPES, TYPES, Draft, State
from bot.routines.models import Routine
from bot.routines.registry import RoutineRegistry
from bot.storage import Database, Role

ROUTINES = Path(__file__).resolve().parent.parent / "routines"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)  # a Wednesday, office hours
REPORTER, KARIN, KALLE, PIA, MEMBER = 101, 201, 202, 203, 301


@dataclass
class Desk:
    db: Database
    sealer: Sealer
    registry: RoutineRegistry

    def clock(self) -> datetime:
        return NOW


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    sealer = Sealer(b"k" * KEY_SIZE)
    registry = RoutineRegistry(ROUTINES)
    registry.reload()
    async with await Database.open(tmp_path / "trygg.sqlite3", sealer) as db:
        await db.join(REPORTER, "solvik", Role.MEMBER, None, NOW)
        await db.join(MEMBER, "solvik", Role.MEMBER, None, NOW)
        await db.join(KARIN, "solvik", Role.COORDINATOR, "sakerhet", NOW)
        await db.join(KALLE, "solvik", Role.COORDINATOR, "sakerhet", NOW)
        await db.join(PIA, "solvik", Role.COORDINATOR, "kommunikation", NOW)
        await db.set_language(KALLE, "en", True, NOW)
        yield Desk(db, sealer, registry)


def solvik(desk: Desk) -> Routine:
    routine = desk.registry.get("solvik")
    assert routine is not None
    return routine


def complete_draft(contact_me: str = "ja") -> Draft:
    values = {
        "type": "hot",
        "channel": "epost",
        "month": "2026-11",
        "repeated": "ja",
        "perpetrator": "okand",
        "police": "nej",
        "impact": ["ingen"],
        "contact_me": contact_me,
    }
    return Draft(org_id="solvik", step="summary", values=values)


async def queued_texts(desk: Desk) -> dict[int | None, str]:
    rows = await desk.db.due_outbox(NOW, 100)
    return {row.chat_id: desk.sealer.unseal_json(row.payload)["text"] for row in rows}


async def test_a_report_goes_to_the_receiving_contacts_coordinators_in_their_language(
    desk: Desk,
) -> None:
    report = await workflow.submit(desk, solvik(desk), complete_draft(), REPORTER, REPORTER)
    texts = await queued_texts(desk)
    # Kommunikation receives no reports, a member none either: only the two at säkerhet.
    assert set(texts) == {KARIN, KALLE}
    assert report.ref in texts[KARIN] and report.ref in texts[KALLE]
    assert "Ny rapport" in texts[KARIN]
    assert "New report" in texts[KALLE]
    assert await desk.db.get_draft(REPORTER) is None


async def test_an_escalated_report_reaches_the_escalation_contacts_too(desk: Desk) -> None:
    routine = solvik(desk)
    await desk.db.join(401, "solvik", Role.COORDINATOR, "kommundirektor", NOW)
    report = await workflow.submit(desk, routine, complete_draft(), REPORTER, REPORTER)
    before = await workflow.receiving_coordinators(desk.db, routine, report)
    escalated = replace(report, escalated_at=NOW)
    after = await workflow.receiving_coordinators(desk.db, routine, escalated)
    assert {m.user_id for m in before} == {KARIN, KALLE}
    # In the routine's order of contacts: säkerhet first, then the escalation contact.
    assert [m.user_id for m in after][2:] == [401]
    assert {m.user_id for m in after} == {KARIN, KALLE, 401}


async def test_acknowledge_and_close_happen_once_and_tell_the_reporter(desk: Desk) -> None:
    routine = solvik(desk)
    report = await workflow.submit(desk, routine, complete_draft(), REPORTER, REPORTER)
    karin = await desk.db.get_membership(KARIN)
    assert await workflow.acknowledge(desk, routine, report, KARIN, karin, "sv")
    assert not await workflow.acknowledge(desk, routine, report, KALLE, karin, "en")
    stored = await desk.db.get_report(report.ref)
    assert stored is not None and stored.state == State.ACKNOWLEDGED
    assert await workflow.close(desk, routine, stored, KARIN, karin, "sv", "Hör av dig.")
    assert not await workflow.close(desk, routine, stored, KARIN, karin, "sv", None)
    to_reporter = [r for r in await desk.db.due_outbox(NOW, 100) if r.chat_id is None]
    said = [desk.sealer.unseal_json(r.payload)["text"] for r in to_reporter]
    assert any("Hör av dig." in text for text in said)


async def test_a_reply_reaches_only_a_reporter_who_asked_to_be_contacted(desk: Desk) -> None:
    routine = solvik(desk)
    quiet = await workflow.submit(desk, routine, complete_draft("nej"), REPORTER, REPORTER)
    assert not await workflow.ask_reply(desk, KARIN, quiet)
    linked = await workflow.submit(desk, routine, complete_draft("ja"), MEMBER, MEMBER)
    assert await workflow.ask_reply(desk, KARIN, linked)
    karin = await desk.db.get_membership(KARIN)
    taken = await workflow.take_text(desk, KARIN, karin, "Vi ringer i morgon.", "sv", "1")
    assert taken.what == workflow.Taken.RELAYED
    rows = [r for r in await desk.db.due_outbox(NOW, 100) if r.chat_id is None]
    assert [r.report_id for r in rows] == [linked.id]
    # Nothing more was asked: the next text is not the workflow's.
    again = await workflow.take_text(desk, KARIN, karin, "Hej", "sv", "2")
    assert again.what == workflow.Taken.NOTHING


async def test_a_coordinator_who_lost_access_sends_nothing(desk: Desk) -> None:
    routine = solvik(desk)
    report = await workflow.submit(desk, routine, complete_draft(), REPORTER, REPORTER)
    assert await workflow.ask_reply(desk, KARIN, report)
    rebound = await desk.db.join(KARIN, "solvik", Role.COORDINATOR, "kommunikation", NOW)
    taken = await workflow.take_text(desk, KARIN, rebound, "Det här ska aldrig fram.", "sv", "3")
    assert taken.what == workflow.Taken.ACCESS_LOST
    assert [r for r in await desk.db.due_outbox(NOW, 100) if r.chat_id is None] == []


def test_every_situation_that_prefills_a_type_exists_and_names_a_type() -> None:
    registry = RoutineRegistry(ROUTINES)
    registry.reload()
    situations = {s.id for r in registry.organisations() for s in r.situations}
    assert set(SITUATION_TYPES) <= situations
    assert set(SITUATION_TYPES.values()) <= set(TYPES)
