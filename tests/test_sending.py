"""`send_html` sends what `send_message` sends, fails as it fails, and is counted like it;
`edit_html` edits as a button's `edit_message_text` does."""

from __future__ import annotations

from datetime import date

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LoginUrl, WebAppInfo
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.handlers.report import render_step
from bot.reports.model import STEPS, Draft
from bot.sending import edit_html, keyboard_json, send_html
from tests.conftest import Harness

USER = 4242
TEXT = '<b>Är du i fara nu? Ring 112.</b>\nRing <a href="https://polisen.se/">polisen</a> 😀'
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton("🆘 Akut fara", callback_data="sit:akut")],
        [InlineKeyboardButton("Hot", callback_data="sit:hot")],
    ]
)


def _shown(message: dict[str, object]) -> dict[str, object]:
    """A sent message without what differs between two sends (its id and time)."""
    return {k: v for k, v in message.items() if k not in ("message_id", "date")}


async def test_the_user_gets_the_same_message_as_from_send_message(harness: Harness) -> None:
    bot = harness.app.bot
    await bot.send_message(USER, TEXT, reply_markup=KEYBOARD)  # with the application's Defaults
    answer = await send_html(bot, USER, TEXT, KEYBOARD)
    await send_html(bot, USER, TEXT)
    classic, light, bare = harness.transport.calls("sendMessage")[-3:]
    assert light.params == classic.params  # text, parse_mode, link previews off, keyboard
    assert _shown(light.result) == _shown(classic.result)
    assert answer["message_id"] == light.result["message_id"]  # Telegram's answer, as JSON
    assert "reply_markup" not in bare.params and bare.result["text"] == classic.result["text"]


async def test_a_keyboard_sent_again_is_the_same_keyboard(harness: Harness) -> None:
    for _ in range(3):
        await send_html(harness.app.bot, USER, "x", KEYBOARD)
    sent = harness.transport.calls("sendMessage")[-3:]
    assert all(c.params["reply_markup"] == KEYBOARD.to_dict() for c in sent)
    assert all(c.result["reply_markup"] == KEYBOARD.to_dict() for c in sent)


async def test_telegrams_refusals_raise_as_from_send_message(harness: Harness) -> None:
    bot, transport = harness.app.bot, harness.transport
    transport.block_user(USER)
    with pytest.raises(Forbidden, match="blocked"):
        await send_html(bot, USER, "x")
    transport.block_user(USER, blocked=False)
    transport.fail_next("sendMessage", retry_after=3)
    with pytest.raises(RetryAfter):
        await send_html(bot, USER, "x")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await send_html(bot, USER, "<b>unclosed")


async def test_sent_answers_are_counted_by_the_monitoring(harness: Harness) -> None:
    metrics = harness.app.bot_data.metrics
    assert metrics is not None
    before = metrics.registry.get_sample_value("trygg_answers_total", {"kind": "send"}) or 0.0
    await send_html(harness.app.bot, USER, "x")
    after = metrics.registry.get_sample_value("trygg_answers_total", {"kind": "send"})
    assert after == before + 1


async def test_an_edit_is_the_same_edit_as_from_edit_message_text(harness: Harness) -> None:
    bot = harness.app.bot
    sent = await send_html(bot, USER, "Steg 1", KEYBOARD)
    message_id = sent["message_id"]
    # What `query.edit_message_text` sends for a button under that message.
    await bot.edit_message_text(TEXT, chat_id=USER, message_id=message_id, reply_markup=KEYBOARD)
    await send_html(bot, USER, "Steg 1", KEYBOARD)
    answer = await edit_html(bot, USER, message_id + 1, TEXT, KEYBOARD)
    classic, light = harness.transport.calls("editMessageText")[-2:]
    assert {**light.params, "message_id": message_id} == classic.params
    assert _shown(light.result) == _shown(classic.result)
    assert answer["message_id"] == message_id + 1 and answer["text"] == classic.result["text"]
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await edit_html(bot, USER, message_id + 1, TEXT, KEYBOARD)


@pytest.mark.parametrize(
    "buttons",
    [
        [[InlineKeyboardButton("Hot ✓", callback_data="rep:set.type.hot")]],
        [[InlineKeyboardButton("Polisen", url="https://polisen.se/")], []],
        [
            [
                InlineKeyboardButton("a", callback_data="x"),
                InlineKeyboardButton("b", url="https://a.se"),
            ]
        ],
        [[InlineKeyboardButton("app", web_app=WebAppInfo("https://a.se"))]],
        [[InlineKeyboardButton("in", login_url=LoginUrl("https://a.se"))]],
        [[InlineKeyboardButton("q", switch_inline_query="hot")]],
        [[InlineKeyboardButton("k", callback_data="x", api_kwargs={"future": 1})]],
    ],
)
def test_a_keyboard_is_sent_as_ptb_would_send_it(buttons: list[list[InlineKeyboardButton]]) -> None:
    markup = InlineKeyboardMarkup(buttons)
    assert keyboard_json(markup) == markup.to_dict()


def test_every_step_of_the_report_form_is_sent_as_ptb_would_send_it() -> None:
    for step in STEPS:
        for lang in ("sv", "en"):
            draft = Draft("solvik", step, {"description": "hej", "impact": ["avstod"]})
            _, markup = render_step(draft, lang, date(2026, 11, 24))
            assert keyboard_json(markup) == markup.to_dict()
