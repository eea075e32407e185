"""The reporter's own language: kept (sealed) with the link to them, and used for everything
that reaches them later: the acknowledgement, relays from the coordinator and follow-ups."""

from __future__ import annotations

from datetime import timedelta

from bot.handlers import callbacks
from bot.reminders.jobs import run_due
from tests.conftest import Harness, texts

REPORTER = 7_780_001
COORDINATOR = 7_780_101


def _to_reporter(h: Harness) -> list[str]:
    return [c.text or "" for c in h.transport.sent_to(REPORTER)]


async def _report_in_english(h: Harness) -> str:
    """An English-speaking member (chosen with /language) fills in and sends a report."""
    await h.join(REPORTER, "solvik")
    await h.join(COORDINATOR, "solvik", role="coordinator", contact="sakerhet")
    await h.send(REPORTER, "/language")
    await h.press(REPORTER, callbacks.language("en"))
    await h.send(REPORTER, "/rapportera")
    for data in (
        "set.type.hot",
        "set.channel.epost",
        "set.month.2026-11",
        "set.repeated.ja",
        "set.perpetrator.kand",
        "set.police.planerar",
        "set.impact.avstod",
        "done.impact",
        "skip.gender",
        "skip.description",
        "set.contact_me.ja",
    ):
        await h.press(REPORTER, callbacks.report(data))
    sent = texts(await h.press(REPORTER, callbacks.report("send")))
    found = [t for t in sent if "Reference:" in t]
    assert found, sent
    return found[0].split("Reference: ")[1].split()[0]


async def test_a_reporter_gets_replies_and_follow_ups_in_their_own_language(
    harness: Harness,
) -> None:
    h = harness
    ref = await _report_in_english(h)
    # The coordinator works in Swedish, the organisation's default language.
    await h.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await h.send(COORDINATOR, "Hej, vill du att vi ses i morgon?")
    await h.services.outbox.send_due(h.app.bot)
    got = _to_reporter(h)
    assert any(f"Your report {ref} has been received" in text for text in got), got
    assert any("From the security coordinator about" in text for text in got), got
    assert not any("Från säkerhetssamordnaren" in text for text in got)
    # The coordinator is told it was sent, in her language, through the outbox.
    assert any("Skickat (" in (c.text or "") for c in h.transport.sent_to(COORDINATOR))

    h.clock.advance(timedelta(days=2))
    await run_due(h.services)
    await h.services.outbox.send_due(h.app.bot)
    assert any("How are you?" in text for text in _to_reporter(h)), _to_reporter(h)


async def test_the_language_is_kept_sealed(harness: Harness) -> None:
    await _report_in_english(harness)
    sealed = await harness.services.db.link_language(1)
    assert sealed is not None and sealed != b"en"
    assert harness.services.sealer.unseal(sealed) == b"en"
