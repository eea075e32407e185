"""`trygg` end to end: the real bot as a subprocess, talking HTTP to a fake Bot API server.

Each test reads as what an official, a coordinator or an operator notices. One bot per test,
started in a temporary directory with its own database and copy of the routines.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (
    TOKEN,
    Phone,
    RunningBot,
    StartBot,
    Trygg,
    buttons,
    coordinator_phone,
    has_buttons,
    organisation_phones,
    phone,
    routine_yaml,
    sent_html,
)
from tests.fakes import telegram_objects as tg
from tests.fakes.bot_api_server import FakeBotApiServer

JSONDict = dict[str, Any]

# Users, by Telegram id: distinctive numbers, so a search of the log cannot hit them by chance.
ANNA = 7_310_001  # member of Solviks kommun
BERIT = 7_320_002  # member of Region Norrmark
CARL = 7_330_003  # never joins
KARIN = 7_340_004  # coordinator of Solvik
OLLE = 7_350_005  # tries Karin's coordinator invite after her

ACUTE = "det står en man utanför mitt hus med kniv"
THREAT_TITLE = "Jag har fått ett hot (mejl, brev, sms, samtal)"
NEW_NUMBER = "0980-31 92 99"  # in the range PTS reserves for fiction


async def say(
    server: FakeBotApiServer, user: int, text: str, expect: Any, **kwargs: Any
) -> JSONDict:
    """`user` writes `text` in their private chat; the bot's reply that matches `expect`."""
    server.push_message(user, text, **kwargs)
    return await server.wait_for(user, expect)


async def press(
    server: FakeBotApiServer, user: int, message: JSONDict, data: str, expect: Any, **kwargs: Any
) -> JSONDict:
    """`user` taps the button carrying `data` under the bot's `message`."""
    server.push_callback(user, message["message_id"], data, **kwargs)
    return await server.wait_for(user, expect)


async def join(server: FakeBotApiServer, trygg: Trygg, user: int, org: str, **kwargs: Any) -> None:
    """`user` opens a member invite link of `org` and is welcomed (then shown the menu)."""
    code = await trygg.invite(org)
    await say(server, user, f"/start {code}", "Du är nu med i", **kwargs)
    await server.wait_for(user, has_buttons)


async def threat_answer(server: FakeBotApiServer, user: int) -> tuple[str, str]:
    """/kontakt, then the threat button: the answer as read (text) and as sent (HTML)."""
    menu = await say(server, user, "/kontakt", has_buttons)
    answer = await press(server, user, menu, "sit:hot", THREAT_TITLE)
    return answer["text"], sent_html(server, answer)


def assert_shows(text: str, html: str, number: Phone) -> None:
    assert number.link in text
    assert "tel:" not in html


def assert_hides(text: str, html: str, numbers: set[Phone]) -> None:
    for number in numbers:
        assert number.national not in text
        assert number.link not in text


def call_now(text: str) -> str:
    """The first contact of the "call now" list."""
    return text.split("Ring nu:\n")[1].splitlines()[0]


def atomic_write(path: Path, text: str) -> None:
    """Save as editors do: a new file renamed over the old, never half-written."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text, "utf-8")
    os.replace(partial, path)


def coordinator_line(routines: Path, org: str) -> tuple[int, str]:
    """The 1-based line number and text of the coordinator's phone line in `org`'s file."""
    data = routine_yaml(routines, org)
    raw = data["contacts"][data["organisation"]["owner"]]["phone"]
    lines = (routines / f"{org}.yaml").read_text("utf-8").split("\n")
    index = next(i for i, line in enumerate(lines) if line.strip() == f'phone: "{raw}"')
    return index + 1, lines[index]


def replace_line(path: Path, number: int, new: str) -> None:
    lines = path.read_text("utf-8").split("\n")
    lines[number - 1] = new
    atomic_write(path, "\n".join(lines))


def failed_sends(server: FakeBotApiServer) -> list[Any]:
    return [c for c in server.calls() if c.method != "getUpdates" and not c.ok]


# ------------------------------------------------------------------------------ 1. whom to call


@pytest.mark.e2e
async def test_each_official_is_told_their_own_organisations_coordinator(
    bot: RunningBot, trygg: Trygg, server: FakeBotApiServer, routines: Path
) -> None:
    await join(server, trygg, ANNA, "solvik")
    await join(server, trygg, BERIT, "region-norrmark")

    # Anna's menu: Solvik's situations, immediate danger first.
    menu = await say(server, ANNA, "/kontakt", has_buttons)
    assert "Solviks kommun" in menu["text"]
    offered = buttons(menu)
    assert offered[0] == ("🆘 Akut fara", "sit:akut")
    solvik_ids = {s["id"] for s in routine_yaml(routines, "solvik")["situations"]}
    assert {f"sit:{i}" for i in solvik_ids} <= {data for _, data in offered}
    assert (THREAT_TITLE, "sit:hot") in offered

    answer = await press(server, ANNA, menu, "sit:hot", THREAT_TITLE)
    text, html = answer["text"], sent_html(server, answer)
    assert "Enligt rutinen för Solviks kommun" in text
    assert_shows(text, html, coordinator_phone(routines, "solvik"))
    assert_hides(text, html, organisation_phones(routines, "region-norrmark"))

    # Berit gets the region's coordinator, and nothing of Solvik's.
    text, html = await threat_answer(server, BERIT)
    assert "Enligt rutinen för Region Norrmark" in text
    assert_shows(text, html, coordinator_phone(routines, "region-norrmark"))
    assert_hides(text, html, organisation_phones(routines, "solvik"))

    # Carl never joined: the national contacts, and how to get his organisation's routine.
    menu = await say(server, CARL, "/kontakt", has_buttons)
    assert "nationella kontakter" in menu["text"]
    assert buttons(menu)[0] == ("🆘 Akut fara", "sit:akut")
    answer = await press(server, CARL, menu, "sit:hot", THREAT_TITLE)
    text, html = answer["text"], sent_html(server, answer)
    assert "Polisen" in text
    assert "114 14" in text
    assert "Be din säkerhetssamordnare om en inbjudningslänk" in text
    assert "Enligt rutinen" not in text
    assert_hides(
        text,
        html,
        organisation_phones(routines, "solvik") | organisation_phones(routines, "region-norrmark"),
    )

    # In their own words, acute danger: everyone's answer starts with 112.
    for user in (ANNA, BERIT, CARL):
        acute = await say(server, user, ACUTE, "Akut fara")
        assert acute["text"].startswith("Är du i fara nu? Ring 112.\n🆘 Akut fara")
        assert "☎ SOS Alarm – nödnummer: 112" in call_now(acute["text"])

    assert failed_sends(server) == []


# ------------------------------------------------------------------------------ 2. coordinators


@pytest.mark.e2e
async def test_coordinator_invite_binds_a_contact_and_works_once(
    bot: RunningBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    # At start everyone gets the members' menu, without the coordinators' command.
    default = await server.wait_for_call("setMyCommands")
    assert default.params["scope"]["type"] == "default"
    assert "rutin" not in [c["command"] for c in default.params["commands"]]

    code = await trygg.invite("solvik", "coordinator", contact="sakerhet")
    welcome = await say(server, KARIN, f"/start {code}", "säkerhetssamordnare")
    assert welcome["text"].startswith(
        "Välkommen! Du är nu säkerhetssamordnare i Solviks kommun (fiktiv) som Säkerhetssamordnare."
    )

    # Her own chat's menu gets /rutin.
    menu = await server.wait_for_call(
        "setMyCommands", lambda c: c.params["scope"] == {"type": "chat", "chat_id": KARIN}
    )
    commands = [c["command"] for c in menu.params["commands"]]
    assert "rutin" in commands
    assert "kontakt" in commands
    status = await say(server, KARIN, "/rutin", "Rutinfilen")
    assert "✅ Rutinfilen är inläst utan fel." in status["text"]

    # The invite was for one person: Olle cannot use it after her.
    refused = await say(server, OLLE, f"/start {code}", "Inbjudan")
    assert refused["text"] == "Inbjudan är redan använd. Be din säkerhetssamordnare om en ny länk."
    menu_olle = await say(server, OLLE, "/kontakt", has_buttons)
    assert "nationella kontakter" in menu_olle["text"]
    no_access = await say(server, OLLE, "/rutin", "säkerhetssamordnare")
    assert no_access["text"] == "Det kommandot är för säkerhetssamordnare."
    chat_menus = [
        c for c in server.calls("setMyCommands") if c.params["scope"].get("chat_id") == OLLE
    ]
    assert chat_menus == []


# ------------------------------------------------------------------------------ 3. reloading


@pytest.mark.e2e
async def test_sighup_reloads_a_changed_number(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer, routines: Path
) -> None:
    # Polling for changes only once an hour: only the signal can reload in this test.
    bot = await start_bot(TRYGG_RELOAD_INTERVAL="3600")
    await join(server, trygg, ANNA, "solvik")
    old = coordinator_phone(routines, "solvik")
    text, html = await threat_answer(server, ANNA)
    assert_shows(text, html, old)

    line, content = coordinator_line(routines, "solvik")
    replace_line(routines / "solvik.yaml", line, content.split('"')[0] + f'"{NEW_NUMBER}"')
    mark = len(bot.log())
    bot.send_signal(signal.SIGHUP)
    await bot.wait_log(r"routines reloaded: .*updated solvik", after=mark)

    text, html = await threat_answer(server, ANNA)
    assert_shows(text, html, phone(NEW_NUMBER))
    assert old.national not in text
    assert bot.running


@pytest.mark.e2e
async def test_saved_change_is_served_and_a_broken_file_keeps_the_last_good_version(
    bot: RunningBot, trygg: Trygg, server: FakeBotApiServer, routines: Path
) -> None:
    await join(server, trygg, ANNA, "solvik")
    await join(server, trygg, BERIT, "region-norrmark")
    region = coordinator_phone(routines, "region-norrmark")
    path = routines / "solvik.yaml"

    # The coordinator saves a new number; within the poll interval Anna is told it.
    line, content = coordinator_line(routines, "solvik")
    fixed = content.split('"')[0] + f'"{NEW_NUMBER}"'
    mark = len(bot.log())
    replace_line(path, line, fixed)
    await bot.wait_log(r"routines reloaded: .*updated solvik", after=mark)
    text, html = await threat_answer(server, ANNA)
    assert_shows(text, html, phone(NEW_NUMBER))

    # Then a broken save: Anna still gets the last good version, Berit's region is untouched,
    # and the log says where the file is broken.
    mark = len(bot.log())
    replace_line(path, line, fixed + " ]")
    await bot.wait_log(rf"{re.escape(str(path))}:{line}:\d+: invalid YAML", after=mark)
    assert "keeping its last good version" in bot.log()[mark:]

    text, html = await threat_answer(server, ANNA)
    assert "Enligt rutinen för Solviks kommun" in text
    assert_shows(text, html, phone(NEW_NUMBER))
    text, html = await threat_answer(server, BERIT)
    assert "Enligt rutinen för Region Norrmark" in text
    assert_shows(text, html, region)
    assert bot.running


# ------------------------------------------------------------------------------ 4. language


@pytest.mark.e2e
async def test_english_client_gets_english_until_swedish_is_chosen(
    bot: RunningBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    code = await trygg.invite("solvik")
    welcome = await say(server, ANNA, f"/start {code}", "Welcome", language_code="en")
    assert welcome["text"].startswith("Welcome! You are now a member of Solviks kommun")
    await server.wait_for(ANNA, has_buttons)  # the menu after the welcome
    menu = await say(server, ANNA, "/contact", has_buttons, language_code="en")
    assert menu["text"].startswith("What happened?")
    assert buttons(menu)[0] == ("🆘 Immediate danger", "sit:akut")

    choose = await say(server, ANNA, "/sprak", has_buttons, language_code="en")
    assert choose["text"] == "Choose a language:"
    assert buttons(choose) == [("Svenska", "lang:sv"), ("English", "lang:en")]
    done = await press(server, ANNA, choose, "lang:sv", "svenska", language_code="en")
    assert done["text"] == "Klart, jag skriver på svenska."

    # The choice is kept although the Telegram client is still in English.
    menu = await say(server, ANNA, "/kontakt", has_buttons, language_code="en")
    assert menu["text"].startswith("Vad har hänt?")
    assert buttons(menu)[0] == ("🆘 Akut fara", "sit:akut")


# ------------------------------------------------------------------------------ 5. the CLI


@pytest.mark.e2e
def test_run_without_a_token_says_what_to_set(trygg: Trygg) -> None:
    done = trygg("run", "--no-chat", env={"TELEGRAM_BOT_TOKEN": None})
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in done.stderr
    assert "export TELEGRAM_BOT_TOKEN=" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.e2e
def test_check_points_at_every_error_and_passes_good_routines(trygg: Trygg, routines: Path) -> None:
    good = trygg("check", str(routines))
    assert good.returncode == 0, good.stdout + good.stderr
    assert good.stdout.splitlines()[-1].startswith(f"ok: {routines}")  # warnings may come first

    path = routines / "solvik.yaml"
    line, content = coordinator_line(routines, "solvik")
    replace_line(path, line, content.split('"')[0] + '"not a number"')
    broken = trygg("check", str(path))
    assert broken.returncode == 1
    printed = [p for p in broken.stdout.strip().splitlines() if ": warning: " not in p]
    assert len(printed) == 1, broken.stdout
    found = re.fullmatch(r"(.+):(\d+):(\d+): ([\w.]+): (.+)", printed[0])
    assert found is not None, printed[0]
    assert found[1] == str(path)
    assert int(found[2]) == line
    assert int(found[3]) == content.index('"') + 1
    assert found[4] == "contacts.sakerhet.phone"
    assert "'not a number' is not a phone number" in found[5]

    # The whole directory: the same error, and the exit code says so.
    everything = trygg("check", str(routines))
    assert everything.returncode == 1
    lines = everything.stdout.strip().splitlines()
    assert [p for p in lines if ": warning: " not in p] == printed


# ------------------------------------------------------------------------------ 6. odd input


@pytest.mark.e2e
async def test_odd_input_gets_an_answer_and_never_crashes(
    bot: RunningBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    await join(server, trygg, ANNA, "solvik")

    longest = ("Jag fick ett hotfullt mejl igår kväll. " * 120)[:4096]
    assert len(longest) == 4096
    await say(server, ANNA, longest, THREAT_TITLE)

    # A knife emoji is danger: the acute answer, 112 first.
    acute = await say(server, ANNA, "😱😱😱🔪", "Akut fara")
    assert acute["text"].startswith("Är du i fara nu? Ring 112.\n🆘 Akut fara")

    html_like = "<b>x</b> & <script>alert(1)</script> &amp; </i>"
    await say(server, ANNA, html_like, lambda m: "text" in m)

    server.push_photo(ANNA)
    await server.wait_for(ANNA, "Jag kan bara läsa text")
    server.push_update(tg.sticker_update(ANNA, message_id=server.api.allocate_message_id(ANNA)))
    await server.wait_for(ANNA, "Jag kan bara läsa text")
    server.push_update(tg.edited_message_update(ANNA, "jag ändrade mig", 2))
    await server.wait_for(ANNA, "Jag läser inte ändrade meddelanden")

    menu = await say(server, ANNA, "/kontakt", has_buttons)
    for forged in ("sit:finns_inte", "admin:drop", "lang:xx", "", "sit:" + "a" * 300, "ö:ä"):
        outdated = await press(server, ANNA, menu, forged, "Den knappen gäller inte längre")
        assert outdated["text"].startswith("Är du i fara nu? Ring 112.\nDen knappen gäller inte")
    await press(server, ANNA, menu, "join:forged-code", "Den inbjudningskoden känner jag inte")
    # A button under a message the bot never sent.
    server.push_callback(ANNA, 9999, "sit:hot")
    await server.wait_for(ANNA, THREAT_TITLE)
    # In a group: only the national numbers, and a link to a private chat.
    group = tg.DEFAULT_GROUP_ID
    server.push_message(ANNA, "/kontakt", chat_type="supergroup", chat_id=group)
    await server.wait_for(group, "privat chatt")

    # After all that, a plain question still gets its plain answer.
    await say(server, ANNA, ACUTE, "Akut fara")
    assert bot.running
    assert failed_sends(server) == []
    assert "failed with" not in bot.log()


# ------------------------------------------------------------------------------ 7. Telegram errors


@pytest.mark.e2e
async def test_bot_rides_out_telegram_errors_and_answers_again(
    bot: RunningBot, server: FakeBotApiServer
) -> None:
    # Telegram answers 500 to the next three messages the bot sends.
    server.fail("sendMessage", 500, "Internal Server Error", times=3)
    server.push_message(CARL, "/kontakt")
    for _ in range(2):  # the menu, then the apology: both lost
        await server.wait_for_call("sendMessage", lambda c: c.status == 500)
    # The next update loses its reply too, but the apology gets through.
    sorry = await say(server, CARL, "/hjalp", "Förlåt, något gick fel")
    assert sorry["text"].startswith("Är du i fara nu? Ring 112.\n")  # 112 first, even here
    await say(server, CARL, "/kontakt", has_buttons)

    # Telegram is down: connections break, for every method (getUpdates too).
    server.set_down(True)
    server.push_message(CARL, "/kontakt")  # taken by the waiting long poll; the reply is lost
    await server.wait_for_call("getUpdates", lambda c: c.status == 0)
    server.set_down(False)
    server.push_message(CARL, ACUTE)
    await server.wait_for(CARL, "Akut fara", timeout=15)

    # And a 502 from Telegram's front end.
    server.set_down(True, mode="502")
    server.push_message(CARL, "/kontakt")
    await server.wait_for_call("getUpdates", lambda c: c.status == 502)
    server.set_down(False)
    server.push_message(CARL, "/hjalp")
    await server.wait_for(CARL, "Så här hjälper jag dig", timeout=15)
    assert bot.running


# ------------------------------------------------------------------------------ 8. anonymity


@pytest.mark.e2e
async def test_the_log_holds_nothing_about_the_users(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    # The most talkative level an operator can choose, so INFO and above are covered too.
    bot = await start_bot(TRYGG_LOG_LEVEL="DEBUG")
    who: JSONDict = {"first_name": "Anna", "username": "anna_b"}
    secret_text = "Någon har lagt ut mitt personnummer 19850312-4821 och min adress"
    code = await trygg.invite("solvik")
    await say(server, ANNA, f"/start {code}", "Du är nu med i", **who)
    await server.wait_for(ANNA, has_buttons)
    menu = await say(server, ANNA, "/kontakt", has_buttons, **who)
    await press(server, ANNA, menu, "sit:hot", THREAT_TITLE, **who)
    await say(server, ANNA, secret_text, lambda m: "text" in m, **who)
    await say(server, ANNA, "/okänt_kommando", "Det kommandot finns inte", **who)
    # A failure on the way, so the error handler writes to the log too.
    server.fail("sendMessage", 400, "Bad Request: chat not found", times=1)
    await say(server, ANNA, ACUTE, "Förlåt, något gick fel", **who)
    confirm = await say(server, ANNA, "/glom", has_buttons, **who)
    await press(
        server, ANNA, confirm, "forget:yes", "Allt jag hade sparat om dig är raderat", **who
    )

    assert await bot.stop() == 0
    log = bot.log()
    assert "failed with BadRequest" in log  # the log is there, and says what happened
    # Joins and forgettings are counted (bot/activity.py), never a line each: a join line next
    # to a report line would name the reporter.
    assert "joined" not in log and "was forgotten" not in log
    for personal in (
        str(ANNA),
        "Anna",
        "anna_b",
        "19850312",
        "4821",
        secret_text,
        "personnummer",
        "kniv",
        "okänt_kommando",
        code,
        TOKEN,
        TOKEN.split(":")[1],
    ):
        assert personal not in log, personal
