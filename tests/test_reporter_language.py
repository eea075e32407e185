"""The reporter's own language: kept (sealed) with the link to them, and used for everything
that reaches them later: the acknowledgement, relays from the coordinator and follow-ups."""

from __future__ import annotations

from datetime import timedelta

from bot.handlers import callbacks
from bot.reminders.jobs import run_due
from tests.conftest import Harness, texts
from tests.fakes import telegram_objects as tg

REPORTER = 7_780_001
COORDINATOR = 7_780_101
STEPS = (
    "skip.description",  # own words first (free recall), then the buttons
    "set.type.hot",
    "set.channel.epost",
    "set.month.2026-11",
    "set.repeated.ja",
    "set.perpetrator.kand",
    "set.police.planerar",
    "set.impact.avstod",
    "done.impact",
    "skip.gender",
    "set.contact_me.ja",
)


def _to_reporter(h: Harness) -> list[str]:
    return [c.text or "" for c in h.transport.sent_to(REPORTER)]


async def _report_in_english(h: Harness) -> str:
    """An English-speaking member (chosen with /language) fills in and sends a report."""
    await _ready_to_send(h)
    sent = texts(await h.press(REPORTER, callbacks.report("send")))
    found = [t for t in sent if "Reference:" in t]
    assert found, sent
    return found[0].split("Reference: ")[1].split()[0]


async def _ready_to_send(h: Harness) -> None:
    await h.join(REPORTER, "solvik")
    await h.join(COORDINATOR, "solvik", role="coordinator", contact="sakerhet")
    await h.send(REPORTER, "/language")
    await h.press(REPORTER, callbacks.language("en"))
    await h.send(REPORTER, "/rapportera")
    for data in STEPS:
        await h.press(REPORTER, callbacks.report(data))


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


async def test_send_handled_again_after_a_crash_shows_the_same_reference(harness: Harness) -> None:
    """The inbox hands an update over again when the bot died before it left the inbox: the
    report was stored (and the draft deleted) but the reporter may never have seen the
    reference. Handled again, the same tap shows the same reference and stores nothing new."""
    h = harness
    await _ready_to_send(h)
    sent = [c for c in h.transport.sent_to(REPORTER) if c.result]
    tap = tg.callback_update(
        REPORTER, callbacks.report("send"), sent[-1].result["message_id"], update_id=424_242
    )
    first = " ".join(texts(await h.update(tap)))
    assert "Reference: " in first
    ref = first.split("Reference: ")[1].split()[0]
    again = " ".join(texts(await h.update(tap)))
    assert f"Reference: {ref}" in again
    assert len(await h.services.db.open_reports("solvik")) == 1  # not a second
    # Another tap with no report under way gets the usual answer, not someone's reference.
    other = dict(tap, update_id=424_243)
    assert "Reference: " not in " ".join(texts(await h.update(other)))
    # Once the update has left the inbox its receipt is gone too.
    await h.services.db.inbox_done(424_242)
    assert await h.services.db.receipt_of(424_242) is None
