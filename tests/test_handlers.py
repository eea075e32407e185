"""The real handlers through the recording transport: what an official sees in the chat."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from bot.cli import configure_logging
from bot.fragments import phone_text
from bot.handlers import callbacks
from tests.conftest import NIGHT, Harness, buttons, html, texts
from tests.fakes import telegram_objects as tg

ANNA = 1001
BERIT = 1002
CARL = 1003


async def test_a_non_member_gets_national_contacts_and_how_to_join(harness: Harness) -> None:
    calls = await harness.send(CARL, "/start")
    said = "\n".join(texts(calls))
    assert "inbjudningslänk" in said
    labels = [label for label, _ in buttons(calls)]
    assert labels[0] == "🆘 Akut fara"
    assert len(labels) == 13

    calls = await harness.press(CARL, callbacks.situation("hot"))
    assert "114 14" in "\n".join(texts(calls))
    assert "nationella kontakterna" in "\n".join(texts(calls))


async def test_joining_with_an_invite_gives_the_organisations_answer(harness: Harness) -> None:
    calls = await harness.join(ANNA, "solvik")
    assert "Solviks kommun (fiktiv)" in texts(calls)[0]
    membership = await harness.services.db.get_membership(ANNA)
    assert membership is not None and membership.org_id == "solvik"

    calls = await harness.press(ANNA, callbacks.situation("hot"))
    answer = "\n".join(texts(calls))
    assert "Karin Holm" in answer  # Solvik's security coordinator
    assert "+46 980 31 92 10" in answer  # international format: every client can dial it
    assert "tel:" not in html(calls)
    call_now = answer.split("Ring nu:")[1].split("Gör så här:")[0]
    assert "Säkerhetssamordnare (Karin Holm): +46 980 31 92 10" in call_now  # Tuesday 10:00


async def test_at_night_a_closed_contact_offers_the_after_hours_one(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    harness.clock.moment = NIGHT
    calls = await harness.press(ANNA, callbacks.situation("hot"))
    answer = "\n".join(texts(calls))
    call_now, later = answer.split("Ring nu:")[1].split("Kan inte nås nu:")
    assert "Tjänsteman i beredskap (TiB): +46 70 174 06 12" in call_now
    assert "Säkerhetssamordnare (Karin Holm): nås från ons 08:00" in later
    assert "Stängt" not in answer  # people are not "closed"


async def test_two_organisations_never_see_each_others_numbers(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    await harness.join(BERIT, "region-norrmark")
    solvik = "\n".join(texts(await harness.press(ANNA, callbacks.situation("hot"))))
    norrmark = "\n".join(texts(await harness.press(BERIT, callbacks.situation("hot"))))
    solvik_phone = harness.services.registry.get("solvik").contacts["sakerhet"].phone  # type: ignore[union-attr]
    assert solvik_phone is not None
    assert phone_text(solvik_phone) in solvik
    assert phone_text(solvik_phone) not in norrmark
    assert "Region Norrmark" in norrmark and "Solvik" not in norrmark


async def test_acute_words_go_straight_to_112(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "det står en man utanför mitt hus med en kniv")
    answer = texts(calls)[0]
    assert answer.startswith("Är du i fara nu? Ring 112.\n🆘 Akut fara")
    assert answer.split("Ring nu:\n")[1].startswith("☎ SOS Alarm – nödnummer: 112")


async def test_a_plain_message_is_triaged_to_its_situation(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "jag fick ett hotfullt mejl i natt")
    assert texts(calls)[0].startswith("Är du i fara nu? Ring 112.\nJag har fått ett hot")


async def test_when_unsure_the_best_situations_are_offered(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "hot på nätet")
    assert "inte säker" in texts(calls)[0]
    offered = [data for _, data in buttons(calls)]
    assert offered[:2] == [callbacks.situation("hot"), callbacks.situation("nathat")]
    assert offered[-1] == callbacks.menu()


async def test_nonsense_gets_the_menu(harness: Harness) -> None:
    calls = await harness.send(CARL, "🙂🙂🙂")
    assert texts(calls)[0].startswith("Är du i fara nu? Ring 112.\nJag förstod inte")
    offered = [data for _, data in buttons(calls)]
    assert offered == [*(callbacks.situation(s) for s in ("akut", "hot", "nathat")), "menu:"]


async def test_english_users_get_english_and_can_switch(harness: Harness) -> None:
    calls = await harness.send(CARL, "/start", language_code="en-GB")
    assert "In immediate danger: call 112" in texts(calls)[0]
    calls = await harness.send(CARL, "/language", language_code="en-GB")
    assert [label for label, _ in buttons(calls)] == ["Svenska", "English"]
    calls = await harness.press(CARL, callbacks.language("sv"), language_code="en-GB")
    assert texts(calls) == ["Klart, jag skriver på svenska."]
    calls = await harness.send(CARL, "/hjalp", language_code="en-GB")
    assert "Så här hjälper jag dig" in texts(calls)[0]


async def test_routine_texts_fall_back_to_the_default_language(harness: Harness) -> None:
    """A text without English in the file is shown in the organisation's default language."""
    routine = harness.routines / "solvik.yaml"
    routine.write_text(
        routine.read_text(encoding="utf-8").replace(
            "name: Solviks kommun (fiktiv)", "name: Solviks kommun (fiktiv)"
        ),
        encoding="utf-8",
    )
    await harness.join(ANNA, "solvik", language_code="en")
    calls = await harness.press(ANNA, callbacks.situation("hot"), language_code="en")
    assert "Security coordinator" in texts(calls)[0]


async def test_switching_organisation_asks_first(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    code = await harness.invite("region-norrmark")
    calls = await harness.send(ANNA, f"/start {code}")
    assert "Vill du byta till" in texts(calls)[0]
    calls = await harness.press(ANNA, callbacks.join("-"))
    assert "kvar" in texts(calls)[0]
    assert (await harness.services.db.get_membership(ANNA)).org_id == "solvik"  # type: ignore[union-attr]

    calls = await harness.press(ANNA, callbacks.join(code))
    assert "Region Norrmark" in texts(calls)[0]
    assert (await harness.services.db.get_membership(ANNA)).org_id == "region-norrmark"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        ("unknown", "känner jag inte igen"),
        ("expired", "har gått ut"),
        ("used", "redan använd"),
        ("ghost", "finns inte i boten"),
    ],
)
async def test_bad_invites_are_explained(harness: Harness, make: str, expected: str) -> None:
    if make == "unknown":
        code = "NoSuchCode123456"
    elif make == "expired":
        code = await harness.invite("solvik", expires=timedelta(hours=1))
        harness.clock.advance(timedelta(hours=2))
    elif make == "used":
        code = await harness.invite("solvik", uses=1)
        await harness.send(BERIT, f"/start {code}")
    else:
        code = await harness.invite("no-such-org")
    calls = await harness.send(ANNA, f"/start {code}")
    assert expected in texts(calls)[0]
    assert await harness.services.db.get_membership(ANNA) is None


async def test_a_coordinator_is_bound_to_a_contact_and_gets_their_menu(harness: Harness) -> None:
    calls = await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    assert "säkerhetssamordnare" in texts(calls)[0]
    assert "Säkerhetssamordnare" in texts(calls)[0]  # the contact's name from the file
    scoped = [c for c in calls if c.method == "setMyCommands" and "scope" in c.params]
    names = {cmd["command"] for c in scoped for cmd in c.params["commands"]}
    assert "rutin" in names and "routine" in names
    coordinators = await harness.services.db.coordinators_for_contact("solvik", "sakerhet")
    assert [m.user_id for m in coordinators] == [ANNA]

    calls = await harness.send(ANNA, "/rutin")
    assert "Rutinfilen är inläst utan fel" in texts(calls)[0]


async def test_members_cannot_use_coordinator_commands(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "/rutin")
    assert texts(calls) == ["Det kommandot är för säkerhetssamordnare."]


async def test_a_broken_file_keeps_the_last_good_routine(harness: Harness) -> None:
    from bot.app import reload_routines

    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    await harness.join(BERIT, "region-norrmark")
    (harness.routines / "solvik.yaml").write_text(
        "schema: 1\norganisation: [oops\n", encoding="utf-8"
    )
    await reload_routines(harness.app)

    calls = await harness.press(ANNA, callbacks.situation("hot"))
    assert "Karin Holm" in texts(calls)[0]
    calls = await harness.send(ANNA, "/rutin")
    assert "senaste fungerande versionen" in texts(calls)[0]
    assert "\nsolvik.yaml:3:1: invalid YAML" in texts(calls)[0]
    calls = await harness.press(BERIT, callbacks.situation("hot"))
    assert "Region Norrmark" in texts(calls)[0]


async def test_forget_deletes_the_membership_after_confirmation(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "/glom")
    assert [data for _, data in buttons(calls)] == [callbacks.forget(True), callbacks.forget(False)]
    await harness.press(ANNA, callbacks.forget(False))
    assert await harness.services.db.get_membership(ANNA) is not None
    calls = await harness.press(ANNA, callbacks.forget(True))
    assert "raderat" in texts(calls)[0]
    assert await harness.services.db.get_membership(ANNA) is None
    assert await harness.services.db.get_user(ANNA) is None
    calls = await harness.send(ANNA, "/start")
    assert "inte kopplad" in texts(calls)[0]


async def test_in_a_group_only_national_numbers_and_a_private_link(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.send(ANNA, "/kontakt", chat_type="group", chat_id=-500)
    said = "\n".join(texts(calls))
    assert "privat chatt" in said and "https://t.me/" in said
    assert "112" in said
    assert "Karin Holm" not in said
    assert all(c.chat_id == -500 for c in calls if c.method == "sendMessage")


# --- bad input: always a helpful answer, never a crash -------------------------------------


async def test_a_4096_character_message_is_answered(harness: Harness) -> None:
    calls = await harness.send(ANNA, ("bla " * 1100)[:4096])
    assert texts(calls)


async def test_text_that_looks_like_html_is_escaped(harness: Harness) -> None:
    calls = await harness.send(ANNA, "<b>hot</b> & <script>alert(1)</script>")
    assert texts(calls)  # Telegram would refuse unescaped markup: the recording transport too


@pytest.mark.parametrize("kind", ["sticker", "photo"])
async def test_non_text_messages_get_a_hint(harness: Harness, kind: str) -> None:
    update = tg.sticker_update(ANNA) if kind == "sticker" else tg.photo_update(ANNA, caption="x")
    calls = await harness.update(update)
    assert "Jag kan bara läsa text" in texts(calls)[0]


async def test_an_edited_message_is_not_answered_twice(harness: Harness) -> None:
    calls = await harness.update(tg.edited_message_update(ANNA, "jag fick ett hot", message_id=5))
    assert texts(calls) == [
        "Jag läser inte ändrade meddelanden. Skicka gärna ett nytt meddelande i stället."
    ]


async def test_a_forwarded_threat_is_triaged(harness: Harness) -> None:
    await harness.join(ANNA, "solvik")
    calls = await harness.update(
        tg.forwarded_message_update(ANNA, "Du ska få se, jag vet var du bor. Hotet är allvarligt.")
    )
    assert texts(calls)


@pytest.mark.parametrize("data", ["sit:no-such-situation", "evil:payload", "x" * 64, "lang:fi"])
async def test_old_or_forged_buttons_get_a_clear_answer(harness: Harness, data: str) -> None:
    calls = await harness.press(ANNA, data)
    said = texts(calls)
    assert said and "gäller inte längre" in said[0]
    assert any(c.method == "answerCallbackQuery" for c in calls)


@pytest.mark.parametrize("fault", [{"status": 500}, {"retry_after": 3}])
async def test_a_press_whose_spinner_cannot_be_stopped_is_still_answered(
    harness: Harness, fault: dict[str, int]
) -> None:
    """The callback query is answered beside the press's work: its failure costs nothing."""
    await harness.join(ANNA, "solvik")
    harness.transport.fail_next("answerCallbackQuery", **fault)
    calls = await harness.press(ANNA, callbacks.situation("hot"))
    said = texts(calls)
    assert said and said[0].startswith("Är du i fara nu? Ring 112.")
    assert not any("något gick fel" in text for text in said)
    assert [c.ok for c in calls if c.method == "answerCallbackQuery"] == [False]


async def test_an_unknown_command_points_to_help(harness: Harness) -> None:
    calls = await harness.send(ANNA, "/hemligt")
    assert "/hjalp" in texts(calls)[0]


async def test_a_failing_handler_apologises_and_logs_nothing_personal(
    harness: Harness, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "Hemlig Text"

    async def broken(user_id: int) -> None:
        raise RuntimeError(f"database gone while reading {user_id} {secret}")

    monkeypatch.setattr(harness.services.db, "get_profile", broken)
    configure_logging("DEBUG")  # the most a deployment can log: third-party loggers stay capped
    with caplog.at_level(logging.NOTSET):
        calls = await harness.send(ANNA, secret, first_name="Anna", username="anna_b")
    assert "något gick fel" in texts(calls)[0]
    logged = caplog.text
    assert "RuntimeError" in logged
    for personal in (str(ANNA), "Hemlig Text", "anna_b", "Anna"):
        assert personal not in logged
