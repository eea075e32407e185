"""The fakes behave as Telegram does for python-telegram-bot: offline and over HTTP."""

from __future__ import annotations

import asyncio
import datetime as dtm
import http.client
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    EndPointNotFound,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import HTTPXRequest

from bot.devchat.transport import (
    ApiReply,
    Call,
    EntityParseError,
    FakeBotApi,
    NetworkFault,
    RecordingRequest,
    file_record,
    parse_html,
)
from tests.fakes import telegram_objects as tg
from tests.fakes.bot_api_server import FakeBotApiServer, server_threads, texts

USER = 4242
TOKEN = "123456:TEST"


# ------------------------------------------------------------------------------ a tiny bot


def keyboard(*data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(d.title(), callback_data=d)] for d in data])


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.effective_message is not None
    await update.effective_message.reply_text(
        "<b>Välkommen!</b> Vad har hänt?", parse_mode=ParseMode.HTML, reply_markup=keyboard("hot")
    )


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    assert update.message is not None and update.message.text is not None
    await update.message.reply_text(f"Du skrev: {update.message.text}")


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    assert query is not None
    await query.answer("OK")
    await query.edit_message_text(f"Valt: <i>{query.data}</i>", parse_mode=ParseMode.HTML)


def build_app(request: Any = None, **base: str) -> Application[Any, Any, Any, Any, Any, Any]:
    builder = Application.builder().token(base.pop("token", TOKEN))
    if request is not None:
        builder = builder.request(request).get_updates_request(request.updates_request())
    if "base_url" in base:
        builder = builder.base_url(base["base_url"])
    app = builder.build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, echo))
    app.add_handler(CallbackQueryHandler(on_button))
    return app


@pytest.fixture
def rr() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def app(rr: RecordingRequest) -> AsyncIterator[Application[Any, Any, Any, Any, Any, Any]]:
    application = build_app(rr)
    async with application:
        yield application


@pytest.fixture
def timedelta_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB 22 warns (PTBDeprecationWarning) when it builds a RetryAfter unless PTB_TIMEDELTA
    is set; under filterwarnings=error that warning would replace the RetryAfter."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def server() -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer() as running:
        yield running
    assert running.errors == []
    assert server_threads() == []


# ----------------------------------------------------------------- (a) RecordingRequest


async def test_initialize_is_offline_and_get_me_answers(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest
) -> None:
    assert app.bot.username == "trygg_test_bot"
    assert app.bot.id == 123456  # from the token
    assert [c.method for c in rr.calls()] == ["getMe"]

    custom = RecordingRequest(username="other_bot", bot_id=99)
    bot = Bot("1:X", request=custom, get_updates_request=custom)
    async with bot:
        assert (bot.id, bot.username) == (99, "other_bot")


async def test_handlers_reply_edit_and_answer_through_the_transport(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest
) -> None:
    sent: list[tuple[str, str | None]] = []
    rr.on_send = lambda call, message: sent.append((call.method, message.get("text")))

    await app.process_update(tg.ptb(tg.message_update(USER, "/start"), app.bot))
    await app.process_update(tg.ptb_message(app.bot, USER, "hej"))

    calls = rr.sent_to(USER)
    assert [c.method for c in calls] == ["sendMessage", "sendMessage"]
    welcome = calls[0]
    assert welcome.params["parse_mode"] == "HTML"
    assert welcome.params["reply_markup"] == {
        "inline_keyboard": [[{"text": "Hot", "callback_data": "hot"}]]
    }
    # Telegram's echo: plain text, entities, the inline keyboard
    assert welcome.result["text"] == "Välkommen! Vad har hänt?"
    assert welcome.result["entities"] == [{"type": "bold", "offset": 0, "length": 10}]
    assert welcome.result["reply_markup"] == welcome.params["reply_markup"]
    assert [c.result["message_id"] for c in calls] == [1, 2]
    assert rr.last_text(USER) == "Du skrev: hej"

    message_id = welcome.result["message_id"]
    await app.process_update(tg.ptb_callback(app.bot, USER, "hot", message_id))
    assert rr.calls("answerCallbackQuery")[0].params["text"] == "OK"
    edit = rr.calls("editMessageText")[0]
    assert edit.ok and edit.params["message_id"] == message_id
    assert rr.last_text(USER) == "Valt: hot"
    current = rr.api.message(USER, message_id)
    assert current is not None and "reply_markup" not in current  # an edit drops the keyboard
    assert sent == [
        ("sendMessage", "Välkommen! Vad har hänt?"),
        ("sendMessage", "Du skrev: hej"),
        ("editMessageText", "Valt: hot"),
    ]
    rr.clear()
    assert rr.calls() == [] and rr.last_text(USER) is None


async def test_edit_to_same_content_is_not_modified(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest
) -> None:
    message = await app.bot.send_message(USER, "Ett", reply_markup=keyboard("a"))
    await app.bot.edit_message_text("Två", USER, message.message_id, reply_markup=keyboard("a"))
    with pytest.raises(BadRequest, match="not modified"):
        await app.bot.edit_message_text("Två", USER, message.message_id, reply_markup=keyboard("a"))
    await app.bot.edit_message_reply_markup(USER, message.message_id)  # removes the keyboard
    with pytest.raises(BadRequest, match="not modified"):
        await app.bot.edit_message_reply_markup(USER, message.message_id)
    with pytest.raises(BadRequest, match="no caption"):
        await app.bot.edit_message_caption(USER, message.message_id, caption="x")
    assert await app.bot.delete_message(USER, message.message_id)
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("Tre", USER, message.message_id)


async def test_telegram_rules_on_text_and_buttons(
    app: Application[Any, Any, Any, Any, Any, Any],
) -> None:
    with pytest.raises(BadRequest, match=r'(?i)can\'t parse entities: unsupported start tag "br"'):
        await app.bot.send_message(USER, "rad<br>rad", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Message text is empty"):
        await app.bot.send_message(USER, "   ")
    with pytest.raises(BadRequest, match="Message is too long"):
        await app.bot.send_message(USER, "x" * 4097)
    with pytest.raises(BadRequest, match="Button_data_invalid"):
        await app.bot.send_message(USER, "x", reply_markup=keyboard("d" * 65))
    assert (await app.bot.send_message(USER, "x" * 4096)).text == "x" * 4096
    # A keyboard given as JSON text is what the wire carries anyway: decoded as Telegram does,
    # and refused as Telegram does when it is not JSON.
    as_text: Any = '{"inline_keyboard": [[{"text": "A", "callback_data": "a"}]]}'
    shown = await app.bot.send_message(USER, "x", reply_markup=as_text)
    assert shown.reply_markup == keyboard("a")
    with pytest.raises(BadRequest, match=r"(?i)can't parse reply keyboard markup"):
        await app.bot.send_message(USER, "x", reply_markup="{not json")  # type: ignore[arg-type]


async def test_photo_upload_is_recorded_by_size_and_name(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest
) -> None:
    message = await app.bot.send_photo(
        USER,
        photo=b"\x89PNG" + bytes(96),
        filename="karta.png",
        caption="<b>Karta</b>",
        parse_mode=ParseMode.HTML,
    )
    assert message.caption == "Karta" and message.photo
    call = rr.sent_to(USER)[-1]
    assert call.method == "sendPhoto"
    assert call.params["photo"] == file_record("karta.png", 100, "image/png")
    by_id = await app.bot.send_photo(USER, photo=message.photo[-1].file_id)
    assert rr.calls("sendPhoto")[-1].params["photo"] == message.photo[-1].file_id
    assert by_id.photo


async def test_commands_menu_and_lifecycle_methods(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest
) -> None:
    bot = app.bot
    assert await bot.set_my_commands([("start", "Börja"), ("hjalp", "Hjälp")])
    assert await bot.set_my_commands([("start", "Start")], language_code="en")
    assert [c.command for c in await bot.get_my_commands()] == ["start", "hjalp"]
    assert [c.description for c in await bot.get_my_commands(language_code="en")] == ["Start"]
    assert await bot.delete_my_commands()
    assert await bot.get_my_commands() == ()
    with pytest.raises(BadRequest, match="Bot_command_invalid"):
        await bot.set_my_commands([("Start!", "x")])
    assert await bot.set_chat_menu_button()
    assert await bot.delete_webhook()
    assert await bot.get_updates() == ()
    assert await bot.log_out() and await bot.close()
    with pytest.raises(EndPointNotFound):
        await bot.do_api_request("noSuchMethod")
    assert rr.calls("noSuchMethod")[0].status == 404


async def test_get_updates_offset_limit_and_allowed_updates(rr: RecordingRequest) -> None:
    async with Bot(TOKEN, request=rr, get_updates_request=rr) as bot:
        first = rr.push_update(tg.message_update(USER, "ett"))
        rr.push_update(tg.message_update(USER, "två"))
        updates = await bot.get_updates(limit=1)
        assert [u.update_id for u in updates] == [first["update_id"]]
        updates = await bot.get_updates(offset=first["update_id"] + 1)
        assert [u.message.text for u in updates if u.message] == ["två"]
        assert await bot.get_updates(offset=updates[-1].update_id + 1) == ()
        # allowed_updates applies to updates that arrive after it
        await bot.get_updates(allowed_updates=["callback_query"])
        rr.push_update(tg.message_update(USER, "bortfiltrerad"))
        rr.push_update(tg.callback_update(USER, "hot", 1))
        updates = await bot.get_updates()
        assert [u.callback_query.data for u in updates if u.callback_query] == ["hot"]
        assert len(updates) == 1 and len(rr.api.dropped_updates) == 1
        # a negative offset keeps only the last updates
        await bot.get_updates(allowed_updates=[])
        for text in ("a", "b", "c"):
            rr.push_update(tg.message_update(USER, text))
        updates = await bot.get_updates(offset=-2)
        assert [u.message.text for u in updates if u.message] == ["b", "c"]


async def test_faults_surface_in_ptb_as_telegram_errors(
    app: Application[Any, Any, Any, Any, Any, Any], rr: RecordingRequest, timedelta_errors: None
) -> None:
    bot = app.bot
    rr.fail_next("sendMessage", retry_after=7)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(USER, "x")
    assert flood.value.retry_after == dtm.timedelta(seconds=7)

    rr.block_user(USER)
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(USER, "x")
    rr.block_user(USER, False)

    rr.fail_next("sendMessage", 500, times=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_message(USER, "x")
    rr.fail_next("*", network="reset")
    with pytest.raises(NetworkError, match="disconnected"):
        await bot.send_message(USER, "x")
    rr.fail_next("sendMessage", network="timeout")
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "x")
    rr.fail_next("sendMessage", 403, chat_id=USER + 1)
    assert (await bot.send_message(USER, "x")).text == "x"  # another chat's fault
    with pytest.raises(Forbidden):
        await bot.send_message(USER + 1, "x")

    def responder(method: str, params: dict[str, Any]) -> ApiReply | NetworkFault | None:
        if method == "answerCallbackQuery":
            raise BadRequest("Query is too old and response timeout expired or query id is invalid")
        if params.get("text") == "sov":
            return NetworkFault("timeout")
        return None

    rr.responder = responder
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("1")
    with pytest.raises(TimedOut):
        await bot.send_message(USER, "sov")
    rr.responder = None
    rr.api.set_down()
    with pytest.raises(NetworkError):
        await bot.send_message(USER, "x")
    rr.api.set_down(False)
    assert (await bot.send_message(USER, "x")).text == "x"
    failed = [c for c in rr.calls("sendMessage") if not c.ok]
    assert [c.status for c in failed] == [429, 403, 500, 500, 0, 0, 403, 0, 0]
    assert all(c.ok for c in rr.sent_to(USER))


async def test_updater_can_poll_the_recording_request(rr: RecordingRequest) -> None:
    application = build_app(rr)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=5)
        rr.push_update(tg.message_update(USER, "via polling"))
        reply = await rr.api.wait_until(lambda: rr.last_text(USER), timeout=5, what="the echo")
        assert reply == "Du skrev: via polling"
        await application.updater.stop()
        await application.stop()
    assert rr.api.pending_updates() == []  # the cleanup poll confirmed it


def test_parse_html_like_telegram() -> None:
    text, entities = parse_html(
        '  <b>Fet <i>kursiv</i></b> &lt;3 😀 <a href="tel:+4687">ring</a>\n'
    )
    assert text == "  Fet kursiv <3 😀 ring\n"  # trimming happens when a message is sent
    assert entities == [
        {"type": "bold", "offset": 2, "length": 10},
        {"type": "italic", "offset": 6, "length": 6},
        {"type": "text_link", "offset": 19, "length": 4, "url": "tel:+4687"},
    ]
    raw, found = parse_html("😀<b>x</b>")
    assert raw == "😀x" and found == [{"type": "bold", "offset": 2, "length": 1}]  # UTF-16
    pre = parse_html('<pre><code class="language-python">x = 1</code></pre>')[1]
    assert pre == [{"type": "pre", "offset": 0, "length": 5, "language": "python"}]
    assert parse_html("a &amp; b &unknown; &#229;")[0] == "a & b &unknown; å"
    for bad, message in [
        ("a < b", 'Unsupported start tag "" at byte offset 2'),
        ("<b>x", 'Can\'t find end tag corresponding to start tag "b"'),
        ("<b>x</i>", 'Unmatched end tag at byte offset 4, expected "</b>", found "</i>"'),
        ("x</b>", "Unexpected end tag at byte offset 1"),
        ('<span class="x">y</span>', 'Tag "span" must have class "tg-spoiler"'),
        ("<b", "Unclosed start tag at byte offset 0"),
    ]:
        with pytest.raises(EntityParseError) as error:
            parse_html(bad)
        assert str(error.value) == message


async def test_html_echo_is_trimmed_with_entities_moved(
    app: Application[Any, Any, Any, Any, Any, Any],
) -> None:
    message = await app.bot.send_message(
        USER, '\n  <b>Fet</b> <a href="tel:+4687">ring</a>  ', parse_mode=ParseMode.HTML
    )
    assert message.text == "Fet ring"
    assert [(e.type, e.offset, e.length) for e in message.entities] == [
        ("bold", 0, 3),
        ("text_link", 4, 4),
    ]


def test_builders_make_valid_ptb_updates() -> None:
    bot = Bot(TOKEN)
    command = tg.ptb(tg.message_update(USER, "/start abc", first_name="Anna"), bot)
    assert command.message is not None
    assert command.message.text == "/start abc"
    assert command.message.entities[0].type == "bot_command"
    assert command.effective_user is not None and command.effective_user.language_code == "sv"
    group = tg.ptb(tg.message_update(USER, "hej", chat_type="supergroup"), bot)
    assert group.effective_chat is not None and group.effective_chat.type == "supergroup"
    edited = tg.ptb(tg.edited_message_update(USER, "ändrad", 5), bot)
    assert edited.edited_message is not None and edited.edited_message.edit_date is not None
    photo = tg.ptb(tg.photo_update(USER, caption="bild"), bot)
    assert photo.message is not None and len(photo.message.photo) == 3
    sticker = tg.ptb(tg.sticker_update(USER), bot)
    assert sticker.message is not None and sticker.message.sticker is not None
    for origin in ("user", "hidden_user", "chat", "channel"):
        fwd = tg.ptb(tg.forwarded_message_update(USER, "hot", origin=origin), bot)
        assert fwd.message is not None and fwd.message.forward_origin is not None
    callback = tg.ptb(tg.callback_update(USER, "hot", 7, chat_type="group"), bot)
    assert callback.callback_query is not None and callback.callback_query.message is not None
    blocked = tg.ptb(tg.my_chat_member_update(USER, "kicked"), bot)
    assert blocked.my_chat_member is not None
    assert blocked.my_chat_member.new_chat_member.status == "kicked"
    ids = [tg.message_update(USER, "x")["update_id"] for _ in range(3)]
    assert ids == sorted(ids) and len(set(ids)) == 3


# ------------------------------------------------------------------- (b) over HTTP


async def test_polling_end_to_end_over_http(server: FakeBotApiServer) -> None:
    application = build_app(base_url=server.base_url, token=server.token)
    async with application:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        await server.wait_polling()

        server.push_message(USER, "/start")
        welcome = await server.wait_for(USER, "Välkommen")
        assert welcome["entities"] == [{"type": "bold", "offset": 0, "length": 10}]
        assert welcome["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "hot"

        server.push_message(USER, "hjälp mig")
        assert (await server.wait_for(USER))["text"] == "Du skrev: hjälp mig"

        server.push_callback(USER, welcome["message_id"], "hot")
        edited = await server.wait_for(USER, lambda m: "edit_date" in m)
        assert edited["text"] == "Valt: hot" and "reply_markup" not in edited
        answer = await server.wait_for_call("answerCallbackQuery")
        assert answer.params["text"] == "OK"

        await application.updater.stop()
        await application.stop()
    assert server.pending_updates() == []
    assert texts(server.messages_to(USER)) == [
        "Välkommen! Vad har hänt?",
        "Du skrev: hjälp mig",
    ]
    assert server.calls("deleteWebhook") and server.calls("getMe")
    # message ids are one sequence per chat, shared by the user and the bot
    assert [m["message_id"] for m in server.messages_to(USER)] == [2, 4]


async def test_long_poll_waits_for_an_update_and_times_out(server: FakeBotApiServer) -> None:
    async with Bot(server.token, base_url=server.base_url) as bot:
        started = time.monotonic()
        assert await bot.get_updates(timeout=dtm.timedelta(milliseconds=300)) == ()
        assert 0.25 <= time.monotonic() - started < 2

        poll = asyncio.create_task(bot.get_updates(timeout=5))
        await server.wait_polling()
        server.push_message(USER, "vakna")
        started = time.monotonic()
        updates = await poll
        assert time.monotonic() - started < 1
        assert [u.message.text for u in updates if u.message] == ["vakna"]

        # a newer getUpdates ends the older one with 409 Conflict, as on Telegram
        async with Bot(server.token, base_url=server.base_url) as other:
            older = asyncio.create_task(
                bot.get_updates(offset=updates[-1].update_id + 1, timeout=5)
            )
            await server.wait_polling()
            assert await other.get_updates(timeout=0) == ()
            with pytest.raises(Conflict, match="terminated by other getUpdates"):
                await older


async def test_http_faults_surface_in_ptb(server: FakeBotApiServer, timedelta_errors: None) -> None:
    async with Bot(server.token, base_url=server.base_url) as bot:
        server.retry_after("sendMessage", 3)
        with pytest.raises(RetryAfter) as flood:
            await bot.send_message(USER, "x")
        assert flood.value.retry_after == dtm.timedelta(seconds=3)

        server.block_user(USER)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "x")
        server.block_user(USER, False)

        server.fail("sendMessage", 502, "Bad Gateway")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "x")

        server.fail("sendMessage", network="reset")
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "x")

        server.set_down(True)
        with pytest.raises(NetworkError):
            await bot.get_me()
        server.set_down(True, mode="502")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
        server.set_down(False)
        assert (await bot.send_message(USER, "tillbaka")).text == "tillbaka"

        with pytest.raises(EndPointNotFound):
            await bot.do_api_request("noSuchMethod")

    quick = HTTPXRequest(read_timeout=0.2)
    async with Bot(server.token, base_url=server.base_url, request=quick) as bot:
        server.fail("sendMessage", network="timeout")
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "x")


async def test_uploads_and_wrong_token_over_http() -> None:
    with FakeBotApiServer(token="42:RIGHT") as server:
        async with Bot("42:RIGHT", base_url=server.base_url) as bot:
            assert bot.id == 42
            message = await bot.send_document(
                USER, document=b"%PDF-1.4 hej", filename="rutin.pdf", caption="Rutinen"
            )
            assert message.document is not None and message.document.file_name == "rutin.pdf"
            call = server.calls("sendDocument")[0]
            assert call.params["document"] == file_record("rutin.pdf", 12, "application/pdf")
            assert call.params["chat_id"] == USER and call.params["caption"] == "Rutinen"
        with pytest.raises(InvalidToken):
            async with Bot("42:WRONG", base_url=server.base_url):
                pass


def _http(
    server: FakeBotApiServer, method: str, path: str, body: bytes = b"", **headers: str
) -> Any:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_http_accepts_get_json_form_and_case_insensitive_methods(server: FakeBotApiServer) -> None:
    base = f"/bot{server.token}"
    status, body = _http(server, "GET", f"{base}/getMe")
    assert status == 200 and body["result"]["username"] == "trygg_test_bot"
    status, body = _http(server, "GET", f"{base}/sendmessage?chat_id=5&text=123")
    assert status == 200 and body["result"]["text"] == "123"
    payload = json.dumps({"chat_id": 5, "text": "json", "reply_markup": {"inline_keyboard": []}})
    status, body = _http(
        server,
        "POST",
        f"{base}/sendMessage",
        payload.encode(),
        **{"Content-Type": "application/json"},
    )
    assert status == 200 and body["result"]["text"] == "json"
    form = b"chat_id=5&text=true&disable_notification=true"
    status, body = _http(
        server,
        "POST",
        f"{base}/sendMessage",
        form,
        **{"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 200 and body["result"]["text"] == "true"
    assert server.calls("sendMessage")[-1].params == {
        "chat_id": 5,
        "text": "true",
        "disable_notification": True,
    }
    status, body = _http(server, "GET", f"{base}/unknownThing")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    status, _ = _http(server, "GET", "/botnot-a-token/getMe")
    assert status == 404


def test_stop_ends_idle_keep_alive_connections(server: FakeBotApiServer) -> None:
    client = socket.create_connection(("127.0.0.1", server.port))
    try:
        request = f"GET /bot{server.token}/getMe HTTP/1.1\r\nHost: x\r\n\r\n".encode()
        client.sendall(request)
        assert b"200 OK" in client.recv(4096)
        assert any("connection" in t.name for t in server_threads())  # serves the idle socket
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 2
        assert not server.running and server_threads() == []
    finally:
        client.close()


async def test_wait_for_times_out_with_what_was_said(server: FakeBotApiServer) -> None:
    server.api.handle("sendMessage", {"chat_id": USER, "text": "något annat"})
    with pytest.raises(TimeoutError, match="något annat"):
        await server.wait_for(USER, "Välkommen", timeout=0.1)


def test_call_records_are_plain_json() -> None:
    api = FakeBotApi()
    response = api.handle("sendMessage", {"chat_id": "7", "text": "x"})
    assert isinstance(response, ApiReply) and response.ok
    assert api.calls() == [Call("sendMessage", {"chat_id": "7", "text": "x"}, 200, response.result)]
    assert api.sent_to(7) == api.calls()
