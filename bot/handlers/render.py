"""Turn domain answers into Telegram HTML and keyboards, and split long replies cleanly.

Every text from a user or a routine file passes through `escape`; numbers are shown in national
format and linked as `tel:` with E.164, so a tap calls.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.fragments import phone_link
from bot.handlers import callbacks
from bot.i18n import Html, escape, t, words
from bot.routines.answer import Answer, Reachability
from bot.routines.hours import describe
from bot.routines.models import Situation

MESSAGE_LIMIT = 4096


def _when(moment: datetime, timezone: str, lang: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    day = words("weekday.short", lang)[local.weekday()]
    return f"{day} {local:%H:%M}"


def contact_lines(
    reach: Reachability, lang: str, timezone: str, *, brief: bool = False
) -> list[Html]:
    """The lines describing one contact: name, number, e-mail, note, hours and status now.

    `brief` leaves out e-mail and note, for the contacts offered instead of a closed one.
    """
    c = reach.contact
    head = f"<b>{escape(c.name.get(lang))}</b>"
    if c.person:
        head += f" ({escape(c.person)})"
    if c.phone:
        head += f" ☎ {phone_link(c)}"
    lines = [Html(head)]
    if c.email and not brief:
        lines.append(Html(f"✉ {escape(c.email)}"))
    if c.note and not brief:
        lines.append(Html(f"<i>{escape(c.note.get(lang))}</i>"))
    if c.hours is not None:
        hours = escape(describe(c.hours, lang))
        if reach.open_now:
            lines.append(t("reach.open", lang, hours=hours))
        elif reach.opens_at is not None:
            opens = _when(reach.opens_at, timezone, lang)
            lines.append(t("reach.closed_until", lang, hours=hours, opens=opens))
        else:
            lines.append(t("reach.closed", lang, hours=hours))
    for alt in reach.instead:
        alt_lines = contact_lines(alt, lang, timezone, brief=True)
        lines.append(t("reach.instead", lang, contact=alt_lines[0]))
        lines.extend(Html("   " + line) for line in alt_lines[1:])
    return lines


def render_answer(answer: Answer, lang: str, timezone: str) -> Html:
    """The whole answer to a situation as numbered steps."""
    title = answer.situation.title.get(lang)
    icon = "🆘 " if answer.situation.urgent else ""
    parts: list[str] = [f"{icon}<b>{escape(title)}</b>"]
    if answer.organisation:
        parts.append(t("answer.from_routine", lang, organisation=answer.organisation))
    for number, resolved in enumerate(answer.steps, start=1):
        if resolved.reach is not None:
            lines = contact_lines(resolved.reach, lang, timezone)
            parts.append(f"{number}. " + lines[0])
            parts.extend("    " + line for line in lines[1:])
        elif resolved.step.text is not None:
            parts.append(f"{number}. {escape(resolved.step.text.get(lang))}")
    return Html("\n".join(parts))


def situation_keyboard(situations: Sequence[Situation], lang: str) -> InlineKeyboardMarkup:
    """One button per situation, labelled with its title; urgent ones are already first."""
    rows = [
        [
            InlineKeyboardButton(
                ("🆘 " if s.urgent else "") + s.title.get(lang)[:60],
                callback_data=callbacks.situation(s.id),
            )
        ]
        for s in situations
    ]
    return InlineKeyboardMarkup(rows)


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_TAG = re.compile(r"<[^>]*>")


def split_html(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Split a reply into messages of at most `limit` UTF-16 units, at line breaks.

    Our HTML opens and closes tags within a line, so cutting between lines never breaks markup.
    A single line longer than the limit loses its tags and is cut at spaces, never inside an
    `&amp;`-style entity.
    """
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        pieces = [line] if _utf16_len(line) <= limit else _split_long_line(line, limit)
        for piece in pieces:
            candidate = piece if not current else current + "\n" + piece
            if _utf16_len(candidate) <= limit:
                current = candidate
            else:
                if current:
                    chunks.append(current)
                current = piece
    if current or not chunks:
        chunks.append(current)
    return chunks


def _split_long_line(line: str, limit: int) -> list[str]:
    plain = _TAG.sub("", line)
    out: list[str] = []
    while _utf16_len(plain) > limit:
        cut = limit
        while _utf16_len(plain[:cut]) > limit:
            cut -= 1
        space = plain.rfind(" ", 0, cut)
        if space > limit // 2:
            cut = space
        amp = plain.rfind("&", 0, cut)
        if amp != -1 and ";" not in plain[amp:cut]:
            cut = amp if amp > 0 else cut
        out.append(plain[:cut].rstrip())
        plain = plain[cut:].lstrip()
    if plain:
        out.append(plain)
    return out
