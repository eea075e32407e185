"""Button labels fit a phone: every inline keyboard of the report form, the coordinator's case
and /statistik, in both languages, through the real dispatch path. Telegram shortens a label
that does not fit its share of the row with "…", so a label is checked against its row."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.devchat.transport import Call
from bot.handlers import callbacks, flood
from bot.handlers.report import MAX_LABEL
from tests.conftest import Harness
from tests.test_stats_aggregate import report

REPORTER = 8_880_001
COORDINATOR = 8_880_101


def _rows(calls: list[Call]) -> list[list[str]]:
    found = []
    for call in calls:
        result = call.result if isinstance(call.result, dict) else {}
        for row in (result.get("reply_markup") or {}).get("inline_keyboard") or []:
            found.append([str(b["text"]) for b in row])
    return found


async def _every_keyboard(h: Harness, lang: str) -> list[list[str]]:
    who: dict[str, Any] = {"language_code": lang}
    seen: list[list[str]] = []

    async def press(user: int, data: str) -> None:
        seen.extend(_rows(await h.press(user, data, **who)))

    async def send(user: int, text: str) -> None:
        seen.extend(_rows(await h.send(user, text, **who)))

    guard = flood.installed(h.app)
    assert guard is not None
    guard.monotonic = itertools.count(step=10).__next__  # a person's pace: never flood control
    await h.join(REPORTER, "solvik", **who)
    await h.join(COORDINATOR, "solvik", role="coordinator", contact="sakerhet", **who)
    await send(REPORTER, "/rapportera")
    await send(REPORTER, "Det hände igen.")
    for data in [
        "keep", "set.type.hot", "set.channel.epost", "set.month.2026-11",
        "set.repeated.vet_inte", "set.perpetrator.vet_inte", "set.police.planerar",
        "set.impact.avstod", "done.impact", "set.gender.vill_ej", "set.contact_me.ja",
        "edit", "edit.type", "set.type.forfoljelse", "edit", "edit.channel", "summary",
        "cancel", "cancel.no", "send",
    ]:  # fmt: skip
        await press(REPORTER, callbacks.report(data))
    await send(COORDINATOR, "/arenden")
    ref = next(row[0] for row in seen if row and row[0].startswith("R-"))
    seen.extend(_rows(h.transport.sent_to(COORDINATOR)))
    for verb in ("show", "ack", "close", "closeno", "reply"):
        await press(COORDINATOR, callbacks.case(f"{verb}.{ref}"))
    await send(COORDINATOR, "Hej, hör av dig om du vill.")
    seen.extend(_rows(h.transport.sent_to(REPORTER)))
    for _ in range(3):
        await h.services.db.submit_report(report("solvik", "2026-05"), None, [], 1, h.clock())
    await send(COORDINATOR, "/statistik")
    return seen


@pytest.mark.parametrize("lang", ["sv", "en"])
async def test_no_label_is_cut_off_on_a_phone(harness: Harness, lang: str) -> None:
    rows = await _every_keyboard(harness, lang)
    assert len(rows) > 40 and any(len(row) == 2 for row in rows) and any(len(r) == 3 for r in rows)
    too_long = [
        (label, len(row))
        for row in rows
        for label in row
        if len(label) > MAX_LABEL[min(len(row), 3)]
    ]
    assert too_long == []
