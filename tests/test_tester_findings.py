"""What a tester found by hand (QA transcripts, 2 Dec 2026), through the real dispatch path:
nothing a user sends is lost in the description, queued messages in the member's language,
the impact step's Done with nothing ticked, a reporter's old buttons after a close, /arenden
for a coordinator whose contact receives nothing, and clear CLI errors."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from bot.cli import main
from bot.handlers import callbacks
from tests.conftest import Harness, buttons, texts
from tests.test_report_flow import _fill, _ref_of, rep

REPORTER = 7_990_001
SAKERHET = 7_990_101  # receives reports
PRESS = 7_990_102  # kommunikation: receives nothing


@pytest.fixture
async def org(harness: Harness) -> Harness:
    await harness.join(REPORTER, "solvik")
    await harness.join(SAKERHET, "solvik", role="coordinator", contact="sakerhet")
    harness.transport.clear()
    return harness


# --- 1. the description step -------------------------------------------------------------------


async def test_two_messages_in_a_row_are_one_description_nothing_is_lost(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.send(REPORTER, "Först hände det här på mötet.")
    shown = await org.send(REPORTER, "Sedan skrev han till mig på kvällen.")
    assert "Först hände det här på mötet." in texts(shown)[0]
    assert "Sedan skrev han till mig på kvällen." in texts(shown)[0]
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None
    assert draft.values["description"] == (
        "Först hände det här på mötet.\n\nSedan skrev han till mig på kvällen."
    )
    await org.press(REPORTER, rep("rewrite"))  # Skriv om still starts afresh
    shown = await org.send(REPORTER, "Bara det här.")
    assert "Bara det här." in texts(shown)[0] and "mötet" not in texts(shown)[0]


@pytest.mark.parametrize(
    ("lang", "said"), [("sv", "kortat den till 2 000 tecken"), ("en", "to 2,000 characters")]
)
async def test_a_description_over_the_limit_is_shortened_and_the_user_is_told(
    org: Harness, lang: str, said: str
) -> None:
    await org.send(REPORTER, "/rapportera", language_code=lang)
    long = "Han skrev igen. " * 150 + "SLUTET AV TEXTEN"  # 2,416 characters
    shown = await org.send(REPORTER, long, language_code=lang)
    assert said in texts(shown)[0]
    assert "416" in texts(shown)[0]  # how much did not fit
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None
    assert len(draft.values["description"]) == 2000  # as much as the limit allows
    assert draft.values["description"].startswith("Han skrev igen.")

    # A second message when the text is full: nothing more fits, and that is said too.
    shown = await org.send(REPORTER, "En sak till.", language_code=lang)
    assert said in texts(shown)[0]
    assert "En sak till" not in texts(shown)[0]


async def test_a_short_description_says_nothing_about_shortening(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    shown = await org.send(REPORTER, "Det hände i går.")
    assert "kortat" not in texts(shown)[0] and "Så här sparas din text" in texts(shown)[0]


async def test_the_cut_never_leaves_half_a_placeholder(org: Harness) -> None:
    await org.send(REPORTER, "/rapportera")
    await org.send(REPORTER, "x " * 997 + "ring 070-174 06 50")  # redacted: "ring [telefon]"
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None
    stored = draft.values["description"]
    assert stored.endswith("ring ") and "[" not in stored and "070" not in stored


# --- 2. queued messages in the member's language ------------------------------------------------

ENGLISH_COORDINATOR = 7_990_103


async def _new_case_text(org: Harness, coordinator: int) -> str:
    """A new report (by a reporter of its own: one person's dozen taps at once is a flood)."""
    reporter = REPORTER + 100 + len(org.transport.calls())
    await org.join(reporter, "solvik")
    await _fill(org, reporter)
    ref = _ref_of(await org.press(reporter, rep("send")))
    case = [c.result["text"] for c in org.transport.sent_to(coordinator) if ref in (c.text or "")]
    assert len(case) == 1
    return str(case[0])


async def test_a_coordinator_with_telegram_in_english_gets_the_new_case_in_english(
    org: Harness,
) -> None:
    await org.join(
        ENGLISH_COORDINATOR, "solvik", role="coordinator", contact="sakerhet", language_code="en"
    )
    stored = await org.services.db.get_user(ENGLISH_COORDINATOR)
    assert stored is not None and (stored.lang, stored.lang_chosen) == ("en", False)
    assert "New report" in await _new_case_text(org, ENGLISH_COORDINATOR)
    assert "Ny rapport" in await _new_case_text(org, SAKERHET)  # Telegram in Swedish


async def test_a_changed_telegram_language_is_kept_and_a_chosen_one_wins(org: Harness) -> None:
    await org.send(SAKERHET, "/hjalp", language_code="en-GB")  # Telegram switched to English
    assert "New report" in await _new_case_text(org, SAKERHET)
    await org.press(SAKERHET, callbacks.language("sv"), language_code="en")  # /sprak: Svenska
    await org.send(SAKERHET, "/hjalp", language_code="en")
    stored = await org.services.db.get_user(SAKERHET)
    assert stored is not None and (stored.lang, stored.lang_chosen) == ("sv", True)
    assert "Ny rapport" in await _new_case_text(org, SAKERHET)


async def test_the_digest_reaches_a_member_with_telegram_in_english_in_english(
    org: Harness,
) -> None:
    english = 7_990_104
    await org.join(english, "solvik", language_code="en")
    await org.send(SAKERHET, "/paminn")  # the digest to every member, now
    await org.services.outbox.kick(org.app)
    got = texts(org.transport.sent_to(english))
    assert any("Your procedure for threats and hate" in text for text in got), got
    reporter_got = texts(org.transport.sent_to(REPORTER))
    assert any("Din rutin vid hot och hat" in text for text in reporter_got)


async def test_a_passer_by_leaves_no_language_behind(harness: Harness) -> None:
    await harness.send(7_990_999, "hej", language_code="en")
    assert await harness.services.db.get_user(7_990_999) is None


# --- 3. Done on the impact step with nothing ticked ---------------------------------------------


@pytest.mark.parametrize(
    ("lang", "said", "wrong"),
    [
        ("sv", "Välj minst ett alternativ", "tidigare steg"),
        ("en", "Choose at least one option", "earlier step"),
    ],
)
async def test_done_with_nothing_ticked_asks_for_a_choice(
    org: Harness, lang: str, said: str, wrong: str
) -> None:
    await org.send(REPORTER, "/rapportera", language_code=lang)
    await org.press(REPORTER, rep("skip.description"), language_code=lang)
    for data in [
        "set.type.hot",
        "set.channel.epost",
        "set.month.2026-11",
        "set.repeated.ja",
        "set.perpetrator.kand",
        "set.police.planerar",
    ]:
        await org.press(REPORTER, rep(data), language_code=lang)
    calls = await org.press(REPORTER, rep("done.impact"), language_code=lang)
    shown = texts(calls)
    assert len(shown) == 1 and said in shown[0] and wrong not in shown[0]
    assert rep("set.impact.ingen") in [d for _, d in buttons(calls)]  # the step again
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None and draft.step == "impact"
    await org.press(REPORTER, rep("set.impact.ingen"), language_code=lang)
    await org.press(REPORTER, rep("done.impact"), language_code=lang)
    draft = await org.services.db.get_draft(REPORTER)
    assert draft is not None and draft.step == "gender"


# --- 4. a reporter's old buttons after a close --------------------------------------------------


async def _closed_report(org: Harness) -> str:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    await org.press(REPORTER, callbacks.relay(f"answer.{ref}"))  # a Svara pressed, never used
    await org.press(SAKERHET, callbacks.case(f"close.{ref}"))
    await org.press(SAKERHET, callbacks.case(f"closeok.{ref}"))
    report = await org.services.db.get_report(ref)
    assert report is not None and report.state.value == "closed"
    return ref


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("sv", ["är avslutad", "inte längre nå samordnaren", "Ring 112", "Ring ", "/rapportera"]),
        ("en", ["is closed", "no longer reach the coordinator", "Call 112", "Call ", "/report"]),
    ],
)
async def test_old_reporter_buttons_after_a_close_say_kindly_it_is_closed(
    org: Harness, lang: str, said: list[str]
) -> None:
    ref = await _closed_report(org)
    for verb in ("answer", "share", "shareyes", "send"):
        calls = await org.press(REPORTER, callbacks.relay(f"{verb}.{ref}"), language_code=lang)
        shown = texts(calls)
        assert len(shown) == 1, shown
        for part in said:
            assert part in shown[0]
        assert "hör inte till dig" not in shown[0] and "belong to you" not in shown[0]
        # 112 first, then whom to call now (a number of the routine).
        assert shown[0].index("112") < shown[0].index(said[3], shown[0].index("112") + 4)
        assert "+46" in shown[0].split("112", 1)[1]
    # Nothing was asked of the reporter: a text now is a question, not an answer.
    assert await org.services.db.get_draft(REPORTER) is None


async def test_someone_elses_open_report_is_still_not_found(org: Harness) -> None:
    await _fill(org, REPORTER)
    ref = _ref_of(await org.press(REPORTER, rep("send")))
    calls = await org.press(7_990_555, callbacks.relay(f"answer.{ref}"))
    assert "finns inte" in texts(calls)[0] and "avslutad" not in texts(calls)[0]


# --- 5. /arenden for a coordinator whose contact receives nothing -------------------------------


@pytest.mark.parametrize(
    ("lang", "said"),
    [
        ("sv", ["Kommunikationsavdelningen", "inte emot rapporter", "Säkerhetssamordnare"]),
        ("en", ["Communications department", "does not receive reports", "Security coordinator"]),
    ],
)
async def test_cases_says_when_the_coordinators_contact_receives_nothing(
    org: Harness, lang: str, said: list[str]
) -> None:
    await org.join(PRESS, "solvik", role="coordinator", contact="kommunikation")
    await _fill(org, REPORTER)
    await org.press(REPORTER, rep("send"))
    shown = texts(await org.send(PRESS, "/arenden", language_code=lang))
    assert len(shown) == 1
    for part in said:
        assert part in shown[0]
    assert "Inga öppna rapporter" not in shown[0] and "No open reports" not in shown[0]


async def test_cases_with_nothing_open_for_a_receiving_contact_says_so(org: Harness) -> None:
    assert texts(await org.send(SAKERHET, "/arenden")) == ["Inga öppna rapporter."]


# --- 6. clear CLI errors ------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRYGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return routines_dir


@pytest.mark.parametrize("value", ["garbage", "2026-13-45T25:00", " "])
def test_a_fake_clock_that_cannot_be_read_is_refused_in_one_line(
    env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("TRYGG_FAKE_NOW", value)
    monkeypatch.setattr("sys.stdin", io.StringIO("jag fick ett hotfullt mejl\n"))
    if not value.strip():  # set but empty: no hook, the real clock
        assert main(["chat", "--org", "solvik"]) == 0
        return
    assert main(["chat", "--org", "solvik"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "failed (ValueError)" not in err
    assert err.strip().splitlines() == [
        f"trygg: TRYGG_FAKE_NOW={value!r} is not a moment: write it as 2026-12-05T22:00+01:00"
    ]


@pytest.mark.parametrize("expires", ["-5d", "-1mo"])
def test_a_negative_expiry_is_a_clear_error(
    env: Path, capsys: pytest.CaptureFixture[str], expires: str
) -> None:
    with pytest.raises(SystemExit):
        main(["invite", "--org", "solvik", "--role", "member", "--expires", expires])
    err = capsys.readouterr().err
    assert "expected one argument" not in err
    assert "--expires must be a duration such as 30d" in err


def test_a_zero_expiry_is_a_clear_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["invite", "--org", "solvik", "--role", "member", "--expires", "0d"])
    assert "is zero: a duration must be at least 1" in capsys.readouterr().err
