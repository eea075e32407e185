"""Replies: long answers split cleanly, callback data round-trips, forged data is refused."""

from __future__ import annotations

import pytest

from bot.devchat.transport import parse_html, utf16_len
from bot.handlers import callbacks
from bot.handlers.register import BUTTON_CALLBACKS
from bot.handlers.render import split_html


def test_short_text_is_one_message() -> None:
    assert split_html("<b>hej</b>\nrad två") == ["<b>hej</b>\nrad två"]


def test_long_text_splits_between_lines_and_keeps_markup_valid() -> None:
    lines = [
        f'{n}. <b>Kontakt {n}</b> ☎ <a href="tel:+46980319210">0980-31 92 10</a> 🙂'
        for n in range(400)
    ]
    parts = split_html("\n".join(lines))
    assert len(parts) > 1
    for part in parts:
        text, _ = parse_html(part)  # raises like Telegram on broken markup
        assert utf16_len(part) <= 4096
        assert text
    assert "\n".join(parts) == "\n".join(lines)


def test_a_single_huge_line_is_cut_at_spaces_without_breaking_entities() -> None:
    line = "<b>" + ("ord &amp; " * 1500) + "</b>"
    parts = split_html(line)
    assert len(parts) > 1
    for part in parts:
        parse_html(part)
        assert utf16_len(part) <= 4096
        assert not part.endswith("&")


def test_emoji_count_as_two_units() -> None:
    parts = split_html("🙂" * 3000)
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert "".join(parts) == "🙂" * 3000


def test_callback_data_round_trips() -> None:
    for data in (
        callbacks.situation("infor_mote"),
        callbacks.language("en"),
        callbacks.join("Ab-_9"),
        callbacks.forget(True),
        callbacks.menu(),
    ):
        parsed = callbacks.parse(data)
        assert parsed is not None
        assert len(data.encode()) <= 64


@pytest.mark.parametrize(
    "data", [None, "", "sit", "nope:x", "sit:<b>", "sit:" + "a" * 61, "SIT:hot"]
)
def test_data_the_bot_did_not_make_is_refused(data: str | None) -> None:
    assert callbacks.parse(data) is None


def test_every_button_the_bot_makes_has_a_route() -> None:
    """A button whose action had no handler would answer "outdated" although the bot made it."""
    assert set(BUTTON_CALLBACKS) == callbacks.ACTIONS


def test_a_long_fold_is_closed_and_reopened_across_messages() -> None:
    """The expandable blockquote spans lines: a cut inside it keeps every part valid markup."""
    folded = "\n".join(
        f"<b>Kontakt {n}</b>: en lång anteckning om kontakten. " * 3 for n in range(80)
    )
    text = (
        "Är du i fara nu? Ring 112.\nRing nu:\n<blockquote expandable>" + folded + "</blockquote>"
    )
    parts = split_html(text)
    assert len(parts) > 1
    for part in parts:
        assert utf16_len(part) <= 4096
        plain, entities = parse_html(part)  # raises if a tag were cut open
        assert any(e["type"] == "expandable_blockquote" for e in entities)
        assert plain


def test_the_terminal_chat_marks_what_telegram_folds() -> None:
    from bot.devchat.chat import show_folds

    plain, entities = parse_html("Ring nu: 112\n<blockquote expandable>Mer\nom 😀</blockquote>")
    shown = show_folds(plain, entities)
    assert shown.startswith("Ring nu: 112\n  ┌ (folded in Telegram until tapped)\n")
    assert shown.endswith("  │ Mer\n  │ om 😀")
