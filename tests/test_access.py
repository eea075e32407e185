"""Least privilege, private chats, identity shares, relay show-back, honest receipts and
/integritet (issue 14, points 1, 5, 7, 8, 9; issue 13, point 4), through the real dispatch path.

Solvik's routine has `sakerhet` as its only receiving contact and escalates to `kommundirektor`
and `ksordf`. A coordinator bound to `kommunikation` (the press service) is a coordinator of the
same organisation who receives nothing: before this work they saw and acted on every report.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.datadir import prepare_data_dir
from bot.handlers import callbacks
from bot.members import find, list_members, member_handle, revoke
from bot.reports.access import call_now, expectation, may_act, receiving_contact_ids
from bot.reports.model import Report, State
from tests.conftest import NIGHT, Harness, buttons, html, texts
from tests.fakes import telegram_objects as tg
from tests.test_report_flow import _fill, _ref_of, rep

REPORTER = 7_880_001
SAKERHET = 7_880_101  # receives reports
PRESS = 7_880_102  # kommunikation: a coordinator who receives nothing
DIREKTOR = 7_880_103  # kommundirektor: receives escalated reports
JURIST = 7_880_104


@pytest.fixture
async def org(harness: Harness) -> Harness:
    await harness.join(REPORTER, "solvik", first_name="Anna", username="anna_politiker")
    await harness.join(SAKERHET, "solvik", role="coordinator", contact="sakerhet")
    await harness.join(PRESS, "solvik", role="coordinator", contact="kommunikation")
    await harness.join(DIREKTOR, "solvik", role="coordinator", contact="kommundirektor")
    harness.transport.clear()
    return harness


async def _report(org: Harness, contact_me: str = "ja") -> str:
    await _fill(org, REPORTER, contact_me=contact_me)
    return _ref_of(await org.press(REPORTER, rep("send")))


def _case(ref: str, verb: str) -> str:
    return callbacks.case(f"{verb}.{ref}")


# --- the rule, on typed values ----------------------------------------------------------------


@dataclass(frozen=True)
class _Member:
    org_id: str
    role: str
    contact_id: str | None


def _a_report(escalated: bool = False) -> Report:
    return Report(
        id=1,
        ref="R-TEST22",
        org_id="solvik",
        type="hot",
        channel="epost",
        month="2026-11",
        repeated=False,
        perpetrator="okand",
        police="nej",
        impacts=("ingen",),
        gender=None,
        description=None,
        contact_me=False,
        state=State.NEW,
        created_at=datetime(2026, 11, 24, tzinfo=UTC),
        escalated_at=datetime(2026, 11, 26, tzinfo=UTC) if escalated else None,
    )


async def test_may_act_only_for_a_receiving_contact(org: Harness) -> None:
    routine = org.services.registry.get("solvik")
    assert routine is not None
    report, escalated = _a_report(), _a_report(escalated=True)
    assert may_act(_Member("solvik", "coordinator", "sakerhet"), report, routine)
    assert not may_act(_Member("solvik", "coordinator", "kommunikation"), report, routine)
    assert not may_act(_Member("solvik", "coordinator", "kommundirektor"), report, routine)
    assert may_act(_Member("solvik", "coordinator", "kommundirektor"), escalated, routine)
    assert not may_act(_Member("solvik", "member", "sakerhet"), report, routine)
    assert not may_act(_Member("region-norrmark", "coordinator", "sakerhet"), report, routine)
    assert not may_act(None, report, routine)
    assert not may_act(_Member("solvik", "coordinator", "sakerhet"), report, None)
    assert receiving_contact_ids(routine) == {"sakerhet"}
    assert receiving_contact_ids(routine, escalated) == {"sakerhet", "kommundirektor", "ksordf"}


# --- 14.1 least privilege, through the dispatch path -----------------------------------------


async def test_a_coordinator_whose_contact_receives_nothing_sees_and_does_nothing(
    org: Harness,
) -> None:
    ref = await _report(org)
    assert [c for c in org.transport.sent_to(SAKERHET) if ref in (c.text or "")]
    assert not [c for c in org.transport.sent_to(PRESS) if ref in (c.text or "")]

    listed = await org.send(PRESS, "/arenden")
    assert ref not in " ".join(texts(listed)) and "inte emot rapporter" in texts(listed)[0]
    for verb in ("show", "ack", "reply", "close"):
        calls = await org.press(PRESS, _case(ref, verb))
        assert texts(calls) == ["Den rapporten finns inte, eller hör inte till dig."], verb
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state == State.NEW
    assert await org.services.db.get_pending(f"c:{PRESS}") is None

    listed = await org.send(SAKERHET, "/arenden")
    assert ref in texts(listed)[0]


async def test_the_press_coordinator_never_reads_the_relay_or_the_identity(org: Harness) -> None:
    ref = await _report(org)
    await org.press(SAKERHET, _case(ref, "ack"))
    await org.press(SAKERHET, _case(ref, "reply"))
    await org.send(SAKERHET, "Hur mår du?")
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await org.send(REPORTER, "Bättre nu.")
    await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
    await org.press(REPORTER, callbacks.relay(f"share.{ref}"))
    await org.press(REPORTER, callbacks.relay(f"shareyes.{ref}"))
    assert "Bättre nu" in html(org.transport.sent_to(SAKERHET))
    assert f"tg://user?id={REPORTER}" in html(org.transport.sent_to(SAKERHET))
    assert ref not in html(org.transport.sent_to(PRESS))
    assert ref not in html(org.transport.sent_to(DIREKTOR))


async def test_escalate_to_contacts_may_act_once_the_report_is_escalated(org: Harness) -> None:
    ref = await _report(org)
    calls = await org.press(DIREKTOR, _case(ref, "show"))
    assert "finns inte" in texts(calls)[0]
    report = await org.services.db.get_report(ref)
    assert report is not None
    await org.services.db.mark_escalated(report.id, org.clock())
    calls = await org.press(DIREKTOR, _case(ref, "show"))
    assert ref in texts(calls)[0] and "Hot" in texts(calls)[0]
    assert ref in texts(await org.send(DIREKTOR, "/arenden"))[0]
    calls = await org.press(PRESS, _case(ref, "show"))
    assert "finns inte" in texts(calls)[0]


async def test_a_routine_change_applies_to_existing_reports_at_reload(org: Harness) -> None:
    ref = await _report(org)
    await org.join(JURIST, "solvik", role="coordinator", contact="jurist")
    path = org.routines / "solvik.yaml"
    text = path.read_text("utf-8")
    text = text.replace("    receives_reports: true\n", "", 1)
    text = text.replace(
        "    after_hours: sakerhet\n", "    after_hours: sakerhet\n    receives_reports: true\n", 1
    )
    path.write_text(text, "utf-8")
    org.services.registry.reload()
    routine = org.services.registry.get("solvik")
    assert routine is not None and [c.id for c in routine.receiving_contacts()] == ["jurist"]

    calls = await org.press(SAKERHET, _case(ref, "close"))
    assert "finns inte" in texts(calls)[0]
    assert "inte emot rapporter" in texts(await org.send(SAKERHET, "/arenden"))[0]
    calls = await org.press(JURIST, _case(ref, "show"))
    assert ref in texts(calls)[0]


async def test_a_reply_started_before_losing_access_never_reaches_the_reporter(
    org: Harness,
) -> None:
    ref = await _report(org)
    await org.press(SAKERHET, _case(ref, "reply"))
    await org.join(SAKERHET, "solvik")  # rejoins as an ordinary member
    calls = await org.send(SAKERHET, "Jag är säkerhetssamordnaren, ring mig.")
    assert f"inte längre tillgång till rapport {ref}" in texts(calls)[0]
    assert "ring mig" not in html(org.transport.sent_to(REPORTER))


async def test_revoke_in_the_middle_of_a_reply(org: Harness) -> None:
    ref = await _report(org)
    await org.press(SAKERHET, _case(ref, "reply"))
    services = org.services
    key = prepare_data_dir(services.settings.data_dir, services.settings.key_file).secret_key
    handle = member_handle(key, SAKERHET)
    found = await find(services.db, key, ["solvik"], handle.lower())
    assert found is not None and found.contact_id == "sakerhet"
    assert await revoke(services.db, key, found)
    await org.send(SAKERHET, "Ett svar som aldrig ska fram.")
    assert "aldrig ska fram" not in html(org.transport.sent_to(REPORTER))
    assert "för säkerhetssamordnare" in texts(await org.press(SAKERHET, _case(ref, "ack")))[0]
    assert await services.db.get_membership(SAKERHET) is None


async def test_members_are_listed_by_handle_never_by_id(org: Harness) -> None:
    services = org.services
    key = prepare_data_dir(services.settings.data_dir, services.settings.key_file).secret_key
    rows = await list_members(services.db, services.registry, key, "solvik")
    by_contact = {r.contact_id: r for r in rows}
    assert by_contact["sakerhet"].receives == "reports"
    assert by_contact["kommunikation"].receives == "nothing"
    assert by_contact["kommundirektor"].receives == "escalations"
    assert by_contact[None].role == "member" and by_contact[None].joined == "2026-11"
    for row in rows:
        assert row.handle.startswith("M-") and len(row.handle) == 10
        assert all(str(uid) not in repr(row) for uid in (REPORTER, SAKERHET, PRESS, DIREKTOR))


# --- 14.7 private chats only --------------------------------------------------------------------


@pytest.mark.parametrize("action", ["case", "relay", "mine", "rep"])
async def test_a_case_button_in_a_group_posts_nothing_of_the_case(
    org: Harness, action: str
) -> None:
    ref = await _report(org)
    data = {
        "case": _case(ref, "show"),
        "relay": callbacks.relay(f"share.{ref}"),
        "mine": callbacks.mine(f"delyes.{ref}"),
        "rep": rep("send"),
    }[action]
    user = REPORTER if action in ("relay", "mine", "rep") else SAKERHET
    calls = await org.update(tg.callback_update(user, data, 1, chat_type="group"))
    said = " ".join(texts(calls))
    assert "privat chatt" in said
    assert ref not in said and "Hot" not in said
    assert await org.services.db.get_report(ref) is not None


# --- 14.5 sharing an identity is a choice; the relay shows back --------------------------------


async def test_show_who_i_am_asks_first_and_cancel_shares_nothing(org: Harness) -> None:
    ref = await _report(org)
    calls = await org.press(
        REPORTER, callbacks.relay(f"share.{ref}"), first_name="Anna", username="anna_politiker"
    )
    shown = texts(calls)[0]
    assert "• ditt namn i Telegram: Anna\n• ditt användarnamn: @anna_politiker\n" in shown
    assert "• en länk till ditt Telegram-konto" in shown
    assert "Det går till: Säkerhetssamordnare (antal: 1) i Solviks" in shown
    assert "Kommunikation" not in shown
    assert "går inte att ta tillbaka" in shown
    assert buttons(calls) == [
        ("Avbryt", callbacks.relay(f"sharenot.{ref}")),
        ("Ja, visa vem jag är", callbacks.relay(f"shareyes.{ref}")),
    ]
    calls = await org.press(REPORTER, callbacks.relay(f"sharenot.{ref}"))
    assert "fortfarande anonym" in texts(calls)[0]
    assert "tg://user" not in html(org.transport.sent_to(SAKERHET))
    link = await org.services.db.get_report(ref)
    assert link is not None
    stored = await org.services.db.link_of(link.id)
    assert stored is not None and stored[2] is False


async def test_the_reporters_answer_is_shown_anonymised_before_it_is_sent(org: Harness) -> None:
    ref = await _report(org)
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    calls = await org.send(REPORTER, "Han ringde igen från 070-174 06 50 i går.")
    assert "070-174 06 50" not in texts(calls)[0] and "[telefon]" in texts(calls)[0]
    assert "Han ringde igen" not in html(org.transport.sent_to(SAKERHET))
    # Writing again replaces it; Avbryt drops it and nothing reaches the coordinator.
    await org.send(REPORTER, "Nej, skriv så här i stället.")
    calls = await org.press(REPORTER, callbacks.relay(f"drop.{ref}"))
    assert "skickades inte" in texts(calls)[0]
    calls = await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
    assert "inget svar att skicka" in texts(calls)[0]
    assert "skriv så här" not in html(org.transport.sent_to(SAKERHET))


async def test_the_reporters_answer_goes_as_shown(org: Harness) -> None:
    ref = await _report(org)
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await org.send(REPORTER, "Han ringde igen från 070-174 06 50 i går.")
    await org.press(REPORTER, callbacks.relay(f"send.{ref}"))
    got = html(org.transport.sent_to(SAKERHET))
    assert "Han ringde igen" in got and "070-174 06 50" not in got


# --- 14.8 and 13.4: honest receipts, with when it is read and whom to call --------------------


async def test_with_nobody_registered_the_receipt_says_the_report_is_kept_unread(
    harness: Harness,
) -> None:
    await harness.join(REPORTER, "solvik")
    await _fill(harness, REPORTER, contact_me="nej")
    calls = await harness.press(REPORTER, rep("send"))
    said = "\n".join(texts(calls))
    assert "Din rapport är sparad" in said and "ingen läser den än" in said
    assert "skickad till" not in said
    assert "Ring Säkerhetssamordnare nu" in said and "112" in said
    assert await harness.services.db.get_report(_ref_of(calls)) is not None
    # The first coordinator to register for the receiving contact is told what waits.
    joined = await harness.join(SAKERHET, "solvik", role="coordinator", contact="sakerhet")
    assert "1 öppna rapporter väntar på dig" in " ".join(texts(joined))
    joined = await harness.join(PRESS, "solvik", role="coordinator", contact="kommunikation")
    assert "väntar på dig" not in " ".join(texts(joined))


async def test_the_receipt_says_when_it_is_read_and_whom_to_call_now_at_night(
    org: Harness,
) -> None:
    org.clock.moment = NIGHT  # Tuesday 23:00 in Stockholm
    await _fill(org, REPORTER)
    said = "\n".join(texts(await org.press(REPORTER, rep("send"))))
    assert "skickad till Säkerhetssamordnare" in said
    assert "Den läses tidigast ons 08:00 och ska kvitteras inom 24 h." in said
    assert "Ring Tjänsteman i beredskap (TiB) nu" in said


async def test_the_receipt_in_office_hours_can_be_read_now(org: Harness) -> None:
    await _fill(org, REPORTER)
    said = "\n".join(texts(await org.press(REPORTER, rep("send"))))
    assert "kan läsas redan nu och ska kvitteras inom 24 h" in said
    assert "Ring Säkerhetssamordnare nu" in said


async def test_expectation_counts_only_registered_readers(org: Harness) -> None:
    routine = org.services.registry.get("solvik")
    assert routine is not None
    friday_evening = datetime(2026, 11, 27, 17, 0, tzinfo=UTC)  # 18:00 in Stockholm
    promise = expectation(routine, {"sakerhet"}, friday_evening)
    assert promise.received and not promise.readable_now
    assert promise.read_from == datetime(2026, 11, 30, 7, 0, tzinfo=UTC)  # Monday 08:00
    assert expectation(routine, set(), friday_evening).received is False
    reach = call_now(routine, friday_evening)
    assert reach is not None and reach.id == "tib"
    assert call_now(routine, friday_evening + timedelta(days=3)) is not None


async def test_status_and_gap_reminders_say_when_nobody_receives(
    harness: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.reminders.texts import gap_text

    assert "Ingen tar emot rapporter just nu" in gap_text(
        "Solvik", "solvik", [], None, "Europe/Stockholm", "sv", nobody_receives=True
    )
    settings = harness.services.settings
    monkeypatch.setenv("TRYGG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRYGG_ROUTINES", str(settings.routines_dir))
    assert await _cli(["status", "--org", "solvik"]) == 0
    assert "NOBODY RECEIVES REPORTS" in capsys.readouterr().out


# --- 14.9 what "anonymous" means -------------------------------------------------------------


async def test_privacy_screen_says_what_is_stored_who_reads_and_what_the_law_says(
    org: Harness,
) -> None:
    said = texts(await org.send(REPORTER, "/integritet"))[0]
    for part in (
        "24 månader",
        "Säkerhetssamordnare",
        "Kvitteras den inte inom 48 h får också Kommundirektör",
        "inte end-to-end-krypterad",
        "allmän handling",
        "offentlighets- och sekretesslagen",
        "Jag kan inte lova sekretess",
    ):
        assert part in said, part
    assert len(said) < 1400
    english = texts(await org.send(REPORTER, "/privacy", language_code="en"))[0]
    assert "What anonymous means here" in english and "36 months" not in english
    assert "24 months" in english and "not end-to-end encrypted" in english
    assert "public document (allmän handling)" in english
    guest = texts(await org.send(9_999_999, "/integritet"))[0]
    assert "inte med i någon kommun" in guest


async def test_the_privacy_screen_comes_before_the_first_report(org: Harness) -> None:
    calls = await org.send(REPORTER, "/rapportera")
    assert "Vad anonym betyder här" in texts(calls)[0]
    assert "steg 1 av 10" in texts(calls)[1]


# --- the command line -------------------------------------------------------------------------


async def _cli(argv: list[str]) -> int:
    """`trygg ...` as an operator runs it beside the bot (its own event loop, its own thread)."""
    return await asyncio.to_thread(main, argv)


def _cli_env(harness: Harness, monkeypatch: pytest.MonkeyPatch) -> Path:
    settings = harness.services.settings
    monkeypatch.setenv("TRYGG_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("TRYGG_ROUTINES", str(settings.routines_dir))
    return settings.data_dir


async def test_cli_members_and_revoke(
    org: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli_env(org, monkeypatch)
    assert await _cli(["members", "--org", "solvik"]) == 0
    out = capsys.readouterr().out
    assert "4 member(s)" in out and "kommunikation" in out and "nothing" in out
    for uid in (REPORTER, SAKERHET, PRESS, DIREKTOR):
        assert str(uid) not in out
    press_line = next(line for line in out.splitlines() if "kommunikation" in line)
    handle = press_line.split()[0]
    assert await _cli(["revoke", handle]) == 0
    assert "revoked" in capsys.readouterr().out
    assert await org.services.db.get_membership(PRESS) is None
    assert await _cli(["revoke", handle]) == 2
    assert "no member with handle" in capsys.readouterr().err


async def test_cli_invite_of_a_coordinator_needs_a_contact_and_warns_when_it_receives_nothing(
    harness: Harness, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli_env(harness, monkeypatch)
    assert await _cli(["invite", "--org", "solvik", "--role", "coordinator"]) == 2
    assert "--contact is one of" in capsys.readouterr().err
    args = ["invite", "--org", "solvik", "--role", "coordinator"]
    assert await _cli([*args, "--contact", "kommunikation"]) == 0
    assert "receives nothing" in capsys.readouterr().err
    assert await _cli([*args, "--contact", "kommundirektor"]) == 0
    assert "only reports escalated" in capsys.readouterr().err
    assert await _cli([*args, "--contact", "sakerhet"]) == 0
    assert "warning" not in capsys.readouterr().err


async def test_the_excel_file_has_rows_only_of_reports_the_coordinator_receives(
    org: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.handlers import stats

    seen: dict[int, list[str]] = {}
    original = stats.xlsx_bytes

    def workbook(view: Any, reports: Any, lang: str) -> bytes:
        seen[len(seen)] = [r.ref for r in reports or []]
        return original(view, reports, lang)

    monkeypatch.setattr(stats, "xlsx_bytes", workbook)
    ref = await _report(org)
    await org.press(PRESS, callbacks.stats("xlsx"))
    await org.press(SAKERHET, callbacks.stats("xlsx"))
    assert seen == {0: [], 1: [ref]}
