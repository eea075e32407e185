"""An anonymous report from the official's first tap to the coordinator's reply, through the
real handlers: what each side sees, what is stored, and what must never be stored."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import build_application, running
from bot.handlers import callbacks
from bot.transport import Call, RecordingRequest
from tests.conftest import Harness, buttons, html, texts

REPORTER = 7_770_001
OTHER_MEMBER = 7_770_002
COORDINATOR = 7_770_101
SECOND_COORDINATOR = 7_770_102
NORRMARK_COORDINATOR = 7_770_201

PLANTED = ("Erik Svensson", "070-174 06 50", "erik.svensson@example.se")
DESCRIPTION = (
    "Han heter Erik Svensson, ringde från 070-174 06 50 och mejlade från "
    "erik.svensson@example.se tre gånger i november."
)


def rep(arg: str) -> str:
    return callbacks.report(arg)


async def _fill(harness: Harness, user: int, contact_me: str = "ja") -> list[Call]:
    """Fill every step with buttons and a description; returns the calls of the last step."""
    await harness.send(user, "/rapportera")
    for data in [
        "set.type.hot",
        "set.channel.epost",
        "set.month.2026-11",
        "set.repeated.ja",
        "set.perpetrator.kand",
        "set.police.planerar",
        "set.impact.avstod",
        "done.impact",
        "set.gender.kvinna",
    ]:
        await harness.press(user, rep(data))
    shown = await harness.send(user, DESCRIPTION)
    assert "Så här sparas din text" in texts(shown)[0]
    await harness.press(user, rep("keep"))
    return await harness.press(user, rep(f"set.contact_me.{contact_me}"))


@pytest.fixture
async def org(harness: Harness) -> Harness:
    await harness.join(REPORTER, "solvik", first_name="Anna", username="anna_politiker")
    await harness.join(COORDINATOR, "solvik", role="coordinator", contact="sakerhet")
    await harness.join(SECOND_COORDINATOR, "solvik", role="coordinator", contact="sakerhet")
    await harness.join(
        NORRMARK_COORDINATOR, "region-norrmark", role="coordinator", contact="samordnare"
    )
    harness.transport.clear()
    return harness


def _ref_of(calls: list[Call]) -> str:
    for text in texts(calls):
        if "Referens:" in text:
            return text.split("Referens: ")[1].split()[0]
    raise AssertionError(f"no reference in {texts(calls)}")


async def test_a_report_reaches_every_coordinator_of_the_organisation_once(org: Harness) -> None:
    summary = await _fill(org, REPORTER)
    assert "Sammanfattning" in texts(summary)[-1]
    assert buttons(summary)[0][1] == rep("send")
    sent = await org.press(REPORTER, rep("send"))
    ref = _ref_of(sent)
    assert ref.startswith("R-")

    for coordinator in (COORDINATOR, SECOND_COORDINATOR):
        case = [c for c in org.transport.sent_to(coordinator) if ref in (c.text or "")]
        assert len(case) == 1
        assert "Ny rapport" in case[0].result["text"]
        assert "Hot" in case[0].result["text"] and "2026-11" in case[0].result["text"]
        labels = [
            b["text"] for row in case[0].params["reply_markup"]["inline_keyboard"] for b in row
        ]
        assert labels == ["Kvittera", "Svara", "Stäng"]
    assert org.transport.sent_to(NORRMARK_COORDINATOR) == []

    stored = await org.services.db.get_report(ref)
    assert stored is not None
    assert (stored.type, stored.channel, stored.month, stored.police) == (
        "hot",
        "epost",
        "2026-11",
        "planerar",
    )
    assert stored.impacts == ("avstod",)
    for planted in PLANTED:
        assert planted not in (stored.description or "")


async def test_pressing_send_twice_sends_one_report(org: Harness) -> None:
    await _fill(org, REPORTER)
    await org.press(REPORTER, rep("send"))
    again = await org.press(REPORTER, rep("send"))
    assert "finns inte längre" in (texts(again) or [again[-1].params.get("text", "")])[0]
    cases = [c for c in org.transport.sent_to(COORDINATOR) if "Ny rapport" in (c.text or "")]
    assert len(cases) == 1


async def test_a_button_from_an_old_summary_is_not_applied(org: Harness) -> None:
    await _fill(org, REPORTER)
    await org.press(REPORTER, rep("edit"))
    await org.press(REPORTER, rep("edit.channel"))
    calls = await org.press(REPORTER, rep("send"))  # the Send of the summary shown before
    assert "tidigare steg" in texts(calls)[0]
    assert not [c for c in org.transport.sent_to(COORDINATOR) if "Ny rapport" in (c.text or "")]


async def test_cancel_deletes_the_draft(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("set.type.hot"))
    calls = await org.send(REPORTER, "/avbryt")
    assert "avbruten" in texts(calls)[0]
    assert await org.services.db.get_draft(REPORTER) is None


async def test_a_half_filled_report_survives_a_restart(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("set.type.nathat"))
    await org.press(REPORTER, rep("set.channel.sociala_medier"))
    settings = org.services.settings
    await org.app.stop()  # the first process is gone; its draft is in the database
    transport = RecordingRequest()
    second = build_application(
        replace(settings),
        request=transport,
        updates_request=transport.updates_request(),
        clock=org.clock,
    )
    async with running(second):
        from tests.fakes import telegram_objects as tg

        await second.process_update(
            tg.to_update(tg.message_update(REPORTER, "/rapportera"), second.bot)
        )
        said = [c.result["text"] for c in transport.calls("sendMessage")]
        assert "fortsätter du där du var" in said[0]
        assert "steg 3 av 10" in said[1] and "Vilken månad" in said[1]
    await org.app.start()


async def test_the_coordinator_acknowledges_and_the_others_are_told(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    calls = await org.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    assert f"Du har kvitterat {ref}" in texts(calls)[0]
    told = [c.result["text"] for c in org.transport.sent_to(SECOND_COORDINATOR)]
    assert f"Rapport {ref} kvitterades av Säkerhetssamordnare." in told
    reporter_saw = [c.result["text"] for c in org.transport.sent_to(REPORTER)]
    assert f"Din rapport {ref} har tagits emot av säkerhetssamordnaren." in reporter_saw
    again = await org.press(SECOND_COORDINATOR, callbacks.case(f"ack.{ref}"))
    assert "redan hanterad" in texts(again)[0]


async def test_a_coordinator_of_another_organisation_can_do_nothing(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    for verb in ("ack", "reply", "close", "show"):
        calls = await org.press(NORRMARK_COORDINATOR, callbacks.case(f"{verb}.{ref}"))
        assert "finns inte" in texts(calls)[0]
    calls = await org.press(OTHER_MEMBER, callbacks.case(f"ack.{ref}"))
    assert "för säkerhetssamordnare" in texts(calls)[0]
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "new"


async def test_relay_both_ways_without_revealing_identities(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await org.send(
        COORDINATOR, "Hej, vill du att vi ses i morgon?", first_name="Karin", username="karin_h"
    )
    to_reporter = [
        c for c in org.transport.sent_to(REPORTER) if "Från säkerhetssamordnaren" in (c.text or "")
    ]
    assert len(to_reporter) == 1
    assert "vill du att vi ses" in to_reporter[0].result["text"]
    assert (
        "Karin" not in to_reporter[0].result["text"]
        and "karin_h" not in to_reporter[0].result["text"]
    )

    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await org.send(REPORTER, "Ja, gärna efter lunch.", first_name="Anna", username="anna_politiker")
    answers = [
        c
        for c in org.transport.sent_to(COORDINATOR)
        if "Svar från den som rapporterade" in (c.text or "")
    ]
    assert len(answers) == 1
    assert "efter lunch" in answers[0].result["text"]
    for secret in ("Anna", "anna_politiker", str(REPORTER)):
        assert secret not in html(answers)

    await org.press(REPORTER, callbacks.relay(f"share.{ref}"))
    shared = [
        c for c in org.transport.sent_to(COORDINATOR) if "vill visa vem hen är" in (c.text or "")
    ]
    assert f"tg://user?id={REPORTER}" in html(shared)


async def test_a_reporter_who_did_not_ask_for_contact_cannot_be_reached(org: Harness) -> None:
    await _fill(org, REPORTER, contact_me="nej")
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    case = [c for c in org.transport.sent_to(COORDINATOR) if ref in (c.text or "")]
    labels = [b["text"] for row in case[0].params["reply_markup"]["inline_keyboard"] for b in row]
    assert "Svara" not in labels
    calls = await org.send(REPORTER, "/mina")
    assert "inga rapporter" in texts(calls)[0]


async def test_my_reports_add_information_and_delete(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    calls = await org.send(REPORTER, "/mina")
    assert ref in texts(calls)[0]
    await org.press(REPORTER, callbacks.mine(f"add.{ref}"))
    calls = await org.send(REPORTER, "Nu skrev han igen från 070-174 06 50.")
    assert "070-174 06 50" not in texts(calls)[0]
    added = [c for c in org.transport.sent_to(COORDINATOR) if "Ny information" in (c.text or "")]
    assert added and "070-174 06 50" not in added[0].result["text"]

    await org.press(REPORTER, callbacks.mine(f"del.{ref}"))
    calls = await org.press(REPORTER, callbacks.mine(f"delyes.{ref}"))
    assert "raderad" in texts(calls)[0]
    assert await org.services.db.get_report(ref) is None


async def test_another_users_report_cannot_be_touched(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.join(OTHER_MEMBER, "solvik")
    for data in (callbacks.mine(f"delyes.{ref}"), callbacks.relay(f"share.{ref}")):
        calls = await org.press(OTHER_MEMBER, data)
        assert "finns inte" in texts(calls)[0]
    assert await org.services.db.get_report(ref) is not None


async def test_non_members_are_told_how_to_join(harness: Harness) -> None:
    calls = await harness.send(OTHER_MEMBER, "/rapportera")
    assert "inbjudningslänk" in texts(calls)[0]


async def test_acute_words_during_a_report_still_get_112(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    calls = await org.send(REPORTER, "han står utanför dörren med en kniv nu")
    assert texts(calls)[0].startswith("Är du i fara nu? Ring 112.\n🆘")
    assert await org.services.db.get_draft(REPORTER) is not None


async def test_nothing_in_the_database_file_identifies_the_reporter(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await org.send(COORDINATOR, "Hur mår du?")
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await org.send(REPORTER, "Okej. Erik Svensson igen.")
    await org.services.db.checkpoint()
    db_path = org.services.settings.db_path
    stored = b"".join(
        p.read_bytes() for p in db_path.parent.iterdir() if p.name.startswith(db_path.name)
    )
    for secret in ("anna_politiker", "Anna", *PLANTED, "Okej. Erik"):
        assert secret.encode() not in stored, secret
    # The reporter is a member (for reminders), but no report row or link holds their id.
    report = await org.services.db.get_report(ref)
    assert report is not None and str(REPORTER) not in repr(report)
