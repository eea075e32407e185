"""The bot token never reaches a log or an error message, whatever goes wrong.

- `trygg run` at DEBUG (the most talkative an operator can choose) through a day of work and
  of Telegram errors: connection resets, a 502 page, 500s, 429s, a 401 on a method, a blocked
  user. Neither the token nor its secret half is in anything the bot wrote.
- A token Telegram refuses: python-telegram-bot's own message quotes the token ("The token `...`
  was rejected by the server"), and its retry loop logs it; the bot says what to check instead,
  exits 2, and the token is masked wherever it would have appeared.
- A token of the wrong shape: the configuration error names the variable, never the value.
"""

from __future__ import annotations

import pytest

from tests.e2e.conftest import TOKEN, StartBot, Trygg, has_buttons
from tests.e2e.test_faults import CASE, fill_form, join
from tests.fakes.bot_api_server import FakeBotApiServer

SECRET = TOKEN.split(":")[1]
REFUSED = "654321:ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210"  # well-formed, not the server's
KARIN = 7_850_001
MEMBER = 7_850_011


@pytest.mark.e2e
async def test_the_token_is_in_no_log_line_at_debug_through_telegram_errors(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    bot = await start_bot(TRYGG_LOG_LEVEL="DEBUG")
    await join(server, trygg, KARIN, "solvik", role="coordinator", contact="sakerhet")
    await join(server, trygg, MEMBER, "solvik")
    form = await fill_form(server, MEMBER)
    server.fail("sendMessage", retry_after=1, chat_id=KARIN)  # the outbox waits, and logs it
    server.push_callback(MEMBER, form["message_id"], "rep:send")
    await server.wait_for(MEMBER, "Referens:")

    # Telegram errors of every kind, each answered by a log line somewhere.
    server.fail("sendMessage", 401, "Unauthorized")
    server.push_message(MEMBER, "/kontakt")
    await server.wait_for_call("sendMessage", lambda c: c.status == 401)
    server.fail("sendMessage", retry_after=1)
    server.push_message(MEMBER, "/hjalp")
    await server.wait_for_call("sendMessage", lambda c: c.status == 429)
    server.set_down(True)
    await server.wait_for_call("getUpdates", lambda c: c.status == 0)
    server.set_down(False)
    server.set_down(True, mode="502")
    await server.wait_for_call("getUpdates", lambda c: c.status == 502)
    server.set_down(False)
    server.block_user(MEMBER)
    server.push_message(MEMBER, "/kontakt")
    await server.wait_for_call("sendMessage", lambda c: c.status == 403)
    server.block_user(MEMBER, blocked=False)
    await server.wait_for(KARIN, CASE, timeout=30)  # the outbox got through in the end
    server.push_message(MEMBER, "/kontakt")
    await server.wait_for(MEMBER, has_buttons, timeout=30)

    assert await bot.stop() == 0
    log = bot.log()
    assert "DEBUG bot." in log or "INFO bot." in log  # the log is there
    assert "failed with" in log
    assert TOKEN not in log and SECRET not in log


@pytest.mark.e2e
def test_a_refused_token_is_explained_and_never_shown(trygg: Trygg) -> None:
    done = trygg("run", env={"TELEGRAM_BOT_TOKEN": REFUSED, "TRYGG_LOG_LEVEL": "DEBUG"})
    assert done.returncode == 2, done.stderr
    assert "Telegram refused the bot token" in done.stderr
    assert "TELEGRAM_BOT_TOKEN" in done.stderr
    secret = REFUSED.split(":")[1]
    for output in (done.stdout, done.stderr):
        assert secret not in output, output
    assert "The token `********` was rejected" in done.stderr  # masked where PTB logs it


@pytest.mark.e2e
def test_a_token_of_the_wrong_shape_is_named_never_quoted(trygg: Trygg) -> None:
    wrong = TOKEN.replace(":", "/")
    done = trygg("run", env={"TELEGRAM_BOT_TOKEN": wrong})
    assert done.returncode == 2
    assert "TELEGRAM_BOT_TOKEN does not look like a bot token" in done.stderr
    assert SECRET not in done.stderr and SECRET not in done.stdout
    assert "Traceback" not in done.stderr
