"""The bot's aiohttp client (bot/http_client.py) against the fake Bot API over HTTP: what the
server receives and what PTB raises are the same as with PTB's own httpx client."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.request import BaseRequest, HTTPXRequest

from bot.http_client import AiohttpRequest, parse_json_payload
from tests.fakes.bot_api_server import FakeBotApiServer, server_threads

USER = 4242
CLIENTS: dict[str, Callable[..., BaseRequest]] = {
    "aiohttp": AiohttpRequest,
    "httpx": HTTPXRequest,
}


@pytest.fixture(autouse=True)
def _timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # RetryAfter without PTB's deprecation warning


@pytest.fixture
def server() -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer() as running:
        yield running
    assert running.errors == []
    assert server_threads() == []


def _bot(server: FakeBotApiServer, client: str, **options: Any) -> Bot:
    return Bot(server.token, base_url=server.base_url, request=CLIENTS[client](**options))


async def _sent(server: FakeBotApiServer, client: str) -> list[dict[str, Any]]:
    """What the server recorded for a message with a keyboard, a photo and a document."""
    server.clear()
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Åtgärd ✓", callback_data="sit:hot")]])
    async with _bot(server, client) as bot:
        await bot.send_message(USER, "<b>Ring 112</b> &amp; sedan", reply_markup=keyboard)
        await bot.send_document(USER, document=b"%PDF-1.4 hej", filename="rutin.pdf", caption="R")
        await bot.send_photo(USER, photo=b"\x89PNG\r\n\x1a\n", caption="kod")
    return [{"method": c.method, **c.params} for c in server.calls() if c.method != "getMe"]


async def test_the_server_receives_the_same_requests_from_both_clients(
    server: FakeBotApiServer,
) -> None:
    ours, ptbs = await _sent(server, "aiohttp"), await _sent(server, "httpx")
    assert ours == ptbs
    assert [call["method"] for call in ours] == ["sendMessage", "sendDocument", "sendPhoto"]
    assert ours[0]["text"] == "<b>Ring 112</b> &amp; sedan"


@pytest.mark.parametrize("client", CLIENTS)
async def test_telegrams_refusals_and_faults_surface_alike(
    server: FakeBotApiServer, client: str
) -> None:
    async with _bot(server, client) as bot:
        server.retry_after("sendMessage", 3)
        with pytest.raises(RetryAfter):
            await bot.send_message(USER, "x")
        server.block_user(USER)
        with pytest.raises(Forbidden, match="bot was blocked by the user"):
            await bot.send_message(USER, "x")
        server.block_user(USER, False)
        with pytest.raises(BadRequest):
            await bot.send_message(USER, "<b>trasig", parse_mode="HTML")
        server.fail("sendMessage", 502, "Bad Gateway")
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(USER, "x")
        server.fail("sendMessage", network="reset")
        with pytest.raises(NetworkError):
            await bot.send_message(USER, "x")
        server.set_down(True)
        with pytest.raises(NetworkError):
            await bot.get_me()
        server.set_down(False)
        assert (await bot.send_message(USER, "tillbaka")).text == "tillbaka"


@pytest.mark.parametrize("client", CLIENTS)
async def test_an_answer_that_does_not_come_is_a_timeout(
    server: FakeBotApiServer, client: str
) -> None:
    async with _bot(server, client, read_timeout=0.2) as bot:
        server.fail("sendMessage", network="timeout")
        with pytest.raises(TimedOut):
            await bot.send_message(USER, "x")
        assert (await bot.send_message(USER, "sedan")).text == "sedan"


async def test_nothing_listening_is_a_network_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match=r"aiohttp\.Client"):
            await request.do_request(f"http://127.0.0.1:{port}/botX/getMe", "POST")
    finally:
        await request.shutdown()


async def test_long_polling_waits_for_an_update(server: FakeBotApiServer) -> None:
    async with _bot(server, "aiohttp") as bot:
        polling = asyncio.create_task(bot.get_updates(timeout=5))
        await server.wait_polling()
        server.push_message(USER, "hej")
        updates = await polling
    assert [u.message.text for u in updates if u.message] == ["hej"]


async def test_a_request_before_initialize_is_refused() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/x", "POST")


async def test_a_bad_address_is_not_repeated_in_the_error() -> None:
    """The URL holds the token: an error that would quote it names only its kind."""
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError) as raised:
            await request.do_request("http://[::1/bot123:SECRET/getMe", "POST")
    finally:
        await request.shutdown()
    assert "SECRET" not in str(raised.value)


def test_answers_are_decoded_as_ptb_decodes_them() -> None:
    """orjson decodes the bot's answers (bot/http_client.py); what it refuses, PTB decodes."""
    answers = [
        b'{"ok": true, "result": {"text": "R\xc3\xa5d \\u00e5 \xf0\x9f\x9a\xa8",'
        b' "id": 9007199254740993}}',
        b'{"ok": true, "result": "\xff broken utf-8"}',
        b'{"ok": false, "error_code": 400, "description": "Bad Request: x"}',
    ]
    for payload in answers:
        assert parse_json_payload(payload) == BaseRequest.parse_json_payload(payload)
