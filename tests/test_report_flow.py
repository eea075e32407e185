"""An anonymous report from the official's first tap to the coordinator's reply, through the
real handlers: what each side sees, what is stored, and what must never be stored."""

from __future__ import annotations

import asyncio
import csv
import io
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bot import app as app_module
from bot.app import build_application, running
from bot.devchat.transport import Call, RecordingRequest
from bot.handlers import callbacks
from bot.outbox import sender
from bot.stats.export import write_reports_csv
from tests.conftest import Harness, buttons, html, texts
from tests.fakes import telegram_objects as tg

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
    shown = await harness.send(user, DESCRIPTION)
    assert "Så här sparas din text" in texts(shown)[0]
    await harness.press(user, rep("keep"))
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
        assert "Hot" in case[0].result["text"] and "november 2026" in case[0].result["text"]
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


async def test_cancel_asks_before_it_deletes_the_draft(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("skip.description"))
    await org.press(REPORTER, rep("set.type.hot"))
    asked = await org.press(REPORTER, rep("cancel"))  # the Avbryt button: one tap loses nothing
    assert "Vill du slänga rapporten?" in texts(asked)[0]
    assert [d for _, d in buttons(asked)] == [rep("cancel.yes"), rep("cancel.no")]
    assert await org.services.db.get_draft(REPORTER) is not None
    kept = await org.press(REPORTER, rep("cancel.no"))
    assert "finns kvar" in texts(kept)[0] and "Hur eller var" in texts(kept)[0]
    await org.press(REPORTER, rep("cancel"))
    calls = await org.press(REPORTER, rep("cancel.yes"))
    assert "avbruten" in texts(calls)[0]
    assert await org.services.db.get_draft(REPORTER) is None
    again = await org.press(REPORTER, rep("cancel.yes"))  # the same button once more
    assert "finns inte längre" in texts(again)[0]
    assert [c.method for c in again if c.method.startswith("edit")] == []


async def test_the_cancel_command_asks_too(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    calls = await org.send(REPORTER, "/avbryt")
    assert "Vill du slänga rapporten?" in texts(calls)[0]
    assert await org.services.db.get_draft(REPORTER) is not None
    await org.press(REPORTER, rep("cancel.yes"))
    assert await org.services.db.get_draft(REPORTER) is None
    calls = await org.send(REPORTER, "/avbryt")
    assert "inget att avbryta" in texts(calls)[0]


async def test_a_half_filled_report_survives_a_restart(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("skip.description"))
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
        assert "steg 4 av 10" in said[1] and "Vilken månad" in said[1]
    await org.app.start()


async def test_the_coordinator_acknowledges_and_the_others_are_told(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    calls = await org.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    assert f"Du har kvitterat {ref}." in texts(calls)
    told = [c.result["text"] for c in org.transport.sent_to(SECOND_COORDINATOR)]
    assert f"Rapport {ref} kvitterades av Säkerhetssamordnare." in told
    reporter_saw = [c.result["text"] for c in org.transport.sent_to(REPORTER)]
    assert f"Din rapport {ref} har tagits emot av säkerhetssamordnaren." in reporter_saw
    again = await org.press(SECOND_COORDINATOR, callbacks.case(f"ack.{ref}"))
    assert "redan kvitterad" in texts(again)[0] and "av Säkerhetssamordnare" in texts(again)[0]


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
    shown = await org.send(
        REPORTER, "Ja, gärna efter lunch.", first_name="Anna", username="anna_politiker"
    )
    assert "Så här får säkerhetssamordnaren ditt svar" in texts(shown)[0]
    assert [d for _, d in buttons(shown)] == [
        callbacks.relay(f"drop.{ref}"),
        callbacks.relay(f"send.{ref}"),
    ]
    await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
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
    await org.press(REPORTER, callbacks.relay(f"shareyes.{ref}"))
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
    await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
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


async def test_the_form_opens_with_an_acknowledgement_and_the_own_words(org: Harness) -> None:
    calls = await org.send(REPORTER, "/rapportera")
    said = texts(calls)
    assert said[0].startswith("Tack för att du berättar.") and "anonym" in said[0]
    assert "steg 1 av 10" in said[1] and "med egna ord" in said[1]
    assert ("Hoppa över", rep("skip.description")) in buttons(calls)


async def test_an_old_send_button_never_overwrites_the_receipt(org: Harness) -> None:
    await _fill(org, REPORTER)
    sent = await org.press(REPORTER, rep("send"))
    receipt = next(c for c in sent if c.method == "editMessageText")
    assert "är skickad" in receipt.result["text"]
    # The same Send again, pressed on the receipt's message: answered anew, nothing edited.
    from tests.fakes import telegram_objects as tg

    again = await org.update(
        tg.callback_update(REPORTER, rep("send"), receipt.result["message_id"])
    )
    assert [c.method for c in again if c.method.startswith("edit")] == []
    assert "finns inte längre" in texts(again)[0]


async def test_text_at_a_button_step_gets_a_short_hint(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("skip.description"))
    calls = await org.send(REPORTER, "var ligger knappen för mejl")
    said = texts(calls)
    assert len(said) == 1 and len(said[0]) < 400
    assert said[0].startswith("Tryck på ett av alternativen, eller /avbryt.")
    assert "Vad hände?" in said[0] and (rep("set.type.hot")) in [d for _, d in buttons(calls)]
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None and draft.step == "type" and "description" not in draft.values


async def test_danger_typed_at_a_button_step_still_gets_112_first(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.press(REPORTER, rep("skip.description"))
    await org.press(REPORTER, rep("set.type.hot"))
    calls = await org.send(REPORTER, "han står utanför dörren med en kniv nu")
    said = texts(calls)
    assert "112" in said[0]
    assert said[-1].startswith("Tryck på ett av alternativen")
    assert await org.services.db.get_draft(REPORTER) is not None


async def test_a_press_that_changes_nothing_is_answered_visibly(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.send(REPORTER, "Det hände igen i går.")
    await org.press(REPORTER, rep("rewrite"))
    calls = await org.press(REPORTER, rep("rewrite"))  # the same button twice: nothing to edit
    said = texts(calls)
    assert said and said[0].startswith("Det här visas redan.")
    assert "med egna ord" in said[0]


async def test_dont_know_and_still_going_on_reach_the_coordinator(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    for data in [
        "skip.description", "set.type.nathat", "set.channel.sociala_medier",
        "set.month.2026-10", "set.repeated.pagar", "set.perpetrator.vet_inte",
        "set.police.nej", "set.impact.ingen", "done.impact", "skip.gender",
        "set.contact_me.nej",
    ]:  # fmt: skip
        calls = await org.press(REPORTER, rep(data))
    assert "Pågår fortfarande" in texts(calls)[0] and "oktober 2026" in texts(calls)[0]
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    stored = await org.services.db.get_report(ref)
    assert stored is not None
    assert (stored.repeated_answer(), stored.perpetrator) == ("pagar", "vet_inte")
    case = next(c for c in org.transport.sent_to(COORDINATOR) if ref in (c.text or ""))
    assert "Pågår fortfarande" in case.result["text"] and "Vet inte" in case.result["text"]


def _case_message(org: Harness, coordinator: int, ref: str) -> Call:
    return next(c for c in org.transport.sent_to(coordinator) if ref in (c.text or ""))


async def test_after_kvittera_the_case_message_shows_who_and_when(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    case = _case_message(org, COORDINATOR, ref)
    assert "Status: ny" in case.result["text"]
    # On the case message, as Telegram sends it with the press.
    calls = await org.press(COORDINATOR, callbacks.case(f"ack.{ref}"), message=case.result)
    edited = next(c for c in calls if c.method == "editMessageText")
    assert edited.params["message_id"] == case.result["message_id"]
    shown = edited.result["text"]
    assert "Status: kvitterad 24/11 av Säkerhetssamordnare" in shown
    assert "Ny rapport" not in shown and f"Rapport {ref}" in shown
    assert "Anna" not in shown and "anna_politiker" not in shown
    assert [b for b, _ in buttons(calls)] == ["Svara", "Stäng"]
    # /arenden's detail says the same.
    await org.send(COORDINATOR, "/arenden")
    detail = await org.press(COORDINATOR, callbacks.case(f"show.{ref}"))
    assert "Status: kvitterad 24/11 av Säkerhetssamordnare" in texts(detail)[0]


async def test_an_old_kvittera_answers_with_the_status_and_updates_its_message(
    org: Harness,
) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    case = _case_message(org, SECOND_COORDINATOR, ref)
    from tests.fakes import telegram_objects as tg

    calls = await org.update(
        tg.callback_update(
            SECOND_COORDINATOR,
            callbacks.case(f"ack.{ref}"),
            case.result["message_id"],
            message=case.result,
        )
    )
    assert "är redan kvitterad 24/11 av Säkerhetssamordnare" in texts(calls)[0]
    edited = [c for c in calls if c.method == "editMessageText"]
    assert edited and "Status: kvitterad" in edited[0].result["text"]


async def test_stang_asks_first_and_can_be_undone(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    asked = await org.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    assert f"Stänga {ref}?" in texts(asked)[0]
    assert [b for b, _ in buttons(asked)] == ["Skriv hälsning", "Stäng nu", "Ångra"]
    kept = await org.press(COORDINATOR, callbacks.case(f"closeno.{ref}"))
    assert "fortfarande öppen" in texts(kept)[0]
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "new"


async def test_a_last_word_reaches_the_reporter_with_a_humane_ending(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    asked = await org.press(COORDINATOR, callbacks.case(f"closew.{ref}"))
    assert "sista ord" in texts(asked)[0]
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "new"  # not until the word is sent
    done = await org.send(COORDINATOR, "Ta hand om dig. Ring mig om det händer igen.")
    assert f"Du har stängt {ref}" in texts(done)[0]
    ending = [t for t in texts(org.transport.sent_to(REPORTER)) if "avslutad" in t]
    assert len(ending) == 1
    assert "Ta hand om dig. Ring mig om det händer igen." in ending[0]
    assert "Tack för att du berättade" in ending[0] and "112" in ending[0]
    told = texts(org.transport.sent_to(SECOND_COORDINATOR))
    assert f"Rapport {ref} stängdes av Säkerhetssamordnare." in told
    # Stale buttons say what is true now.
    late = await org.press(SECOND_COORDINATOR, callbacks.case(f"reply.{ref}"))
    assert f"Rapport {ref} är stängd" in texts(late)[0] and "svara" in texts(late)[0]
    late = await org.press(SECOND_COORDINATOR, callbacks.case(f"ack.{ref}"))
    assert "är redan stängd 24/11" in texts(late)[0]
    late = await org.press(COORDINATOR, callbacks.case(f"closeok.{ref}"))
    assert "är redan stängd" in texts(late)[0]


async def test_closing_without_a_word_still_ends_kindly(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await org.press(COORDINATOR, callbacks.case(f"closeok.{ref}"))
    ending = [t for t in texts(org.transport.sent_to(REPORTER)) if "avslutad" in t]
    assert len(ending) == 1 and "Tack för att du berättade" in ending[0]
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "closed"


async def test_closing_a_report_without_contact_says_the_reporter_gets_nothing(
    org: Harness,
) -> None:
    await _fill(org, REPORTER, contact_me="nej")
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    asked = await org.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    assert "får inget meddelande" in texts(asked)[0]
    assert [b for b, _ in buttons(asked)] == ["Stäng nu", "Ångra"]


async def test_kvittera_under_a_relayed_answer_leaves_that_answer_as_it_is(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await org.send(COORDINATOR, "Hej, hur mår du?")
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await org.send(REPORTER, "Bättre nu, tack.")
    await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
    answer = next(
        c
        for c in org.transport.sent_to(COORDINATOR)
        if "Svar från den som rapporterade" in (c.text or "")
    )
    calls = await org.press(COORDINATOR, callbacks.case(f"ack.{ref}"), message=answer.result)
    assert [c for c in calls if c.method == "editMessageText"] == []
    assert f"Du har kvitterat {ref}." in texts(calls)


async def test_a_month_not_known_is_said_so_and_counted_when_it_was_sent(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    for data in ["skip.description", "set.type.hot", "set.channel.brev"]:
        shown = await org.press(REPORTER, rep(data))
    assert ("Vet inte", rep("set.month.vet_inte")) in buttons(shown)
    for data in [
        "set.month.vet_inte", "set.repeated.nej", "set.perpetrator.okand", "set.police.nej",
        "set.impact.ingen", "done.impact", "skip.gender", "set.contact_me.nej",
    ]:  # fmt: skip
        summary = await org.press(REPORTER, rep(data))
    assert "Månad: Vet inte" in texts(summary)[0]
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    stored = await org.services.db.get_report(ref)
    assert stored is not None
    assert (stored.month, stored.month_code) == ("2026-11", "vet_inte")
    case = next(c for c in org.transport.sent_to(COORDINATOR) if ref in (c.text or ""))
    assert "Månad: Vet inte" in case.result["text"]
    counts = await org.services.db.reports_between("solvik", "2026-11", "2026-11")
    assert [r.ref for r in counts] == [ref]
    out = io.StringIO()
    write_reports_csv(counts, out, "sv")
    [row] = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert (row["month"], row["month_known"]) == ("2026-11", "nej")


async def test_cancel_during_a_reply_or_a_last_word_drops_only_that(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await org.press(COORDINATOR, callbacks.case(f"closew.{ref}"))
    calls = await org.send(COORDINATOR, "/avbryt")
    assert texts(calls) == ["Meddelandet du skulle skriva är avbrutet."]
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "new"  # still open


async def test_the_receipt_does_not_wait_for_the_coordinators_delivery(
    org: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The outbox keeps Telegram's pace (a second between messages to one chat), so a round
    can take a while; the reporter gets the receipt at once, and the next tap is not held up.
    The case still reaches both coordinators once the round under way is done."""
    await _fill(org, REPORTER)
    outbox = org.services.outbox
    # A handler that waited for the round would now wait a day: the guard below fails it.
    monkeypatch.setattr(sender, "KICK_WAIT", timedelta(days=1))
    async with outbox._lock, asyncio.timeout(60):  # a round under way, e.g. keeping a spacing
        shown = await _unsettled(org, tg.callback_update(REPORTER, rep("send"), _last_id(org)))
        ref = _ref_of(shown)
        assert [c for c in shown if c.chat_id in (COORDINATOR, SECOND_COORDINATOR)] == []
        mine = await _unsettled(org, tg.message_update(REPORTER, "/mina"))
        assert ref in " ".join(texts(mine))  # the next update is not held up either
    await outbox.settled()
    for coordinator in (COORDINATOR, SECOND_COORDINATOR):
        assert len([c for c in org.transport.sent_to(coordinator) if ref in (c.text or "")]) == 1


async def _unsettled(harness: Harness, update: dict[str, Any]) -> list[Call]:
    """The calls of one update, without waiting for the outbox rounds it kicked."""
    before = len(harness.transport.calls())
    await harness.app.process_update(tg.to_update(update, harness.app.bot))
    return harness.transport.calls()[before:]


def _last_id(harness: Harness) -> int:
    sent = [c for c in harness.transport.sent_to(REPORTER) if c.result]
    return int(sent[-1].result["message_id"])


async def test_stopping_does_not_hang_on_a_round_that_does_not_end(
    org: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A round Telegram holds up (a hung connection) must not keep the bot from stopping: it
    waits `SHUTDOWN_SETTLE_S`, says so, and the case stays queued for the next round."""
    await _fill(org, REPORTER)
    monkeypatch.setattr(app_module, "SHUTDOWN_SETTLE_S", 0.05)
    outbox = org.services.outbox
    async with outbox._lock, asyncio.timeout(60):  # the round under way does not end
        ref = _ref_of(
            await _unsettled(org, tg.callback_update(REPORTER, rep("send"), _last_id(org)))
        )
        await org.app.stop()
        assert org.app.post_stop is not None
        await org.app.post_stop(org.app)
    assert "a round was still under way at shutdown" in caplog.text
    await org.app.start()
    await outbox.settled()
    for coordinator in (COORDINATOR, SECOND_COORDINATOR):
        assert len([c for c in org.transport.sent_to(coordinator) if ref in (c.text or "")]) == 1
