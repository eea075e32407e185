"""Turn domain answers into Telegram HTML and keyboards, and split long replies cleanly.

Every text from a user or a routine file passes through `escape`. An answer is built for a
phone screen in a hurry: the fixed danger line, then whom to call now (one line each), then one
line for each contact that cannot be reached now saying when it can, then the steps; whatever
does not fit in `VISIBLE_LIMIT` characters, and every contact's notes, e-mail and hours, goes
into Telegram's expandable blockquote, folded until the reader taps it.

Numbers are plain text in international format ("+46 980 31 92 10"; short national numbers
such as 112 as Swedes know them), never `<a href="tel:…">`: Telegram documents only http(s)
and tg:// links, some clients refuse `tel:` or warn before opening it, while every client
detects a number written this way and makes it tappable.
"""

from __future__ import annotations

import html as html_lib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.fragments import phone_link
from bot.handlers import callbacks
from bot.i18n import Html, escape, t, words
from bot.routines.answer import Answer, Reachability
from bot.routines.hours import describe
from bot.routines.models import NATIONAL_PREFIX, Contact, Situation

MESSAGE_LIMIT = 4096
# Visible characters (before the fold) an answer may take: about one phone screen.
VISIBLE_LIMIT = 700
POLICE_REPORT_URL = "https://polisen.se/anmal-polisen/"
POLICE_REF = NATIONAL_PREFIX + "polisen"
FOLD_OPEN = "<blockquote expandable>"
FOLD_CLOSE = "</blockquote>"
# Step texts that tell the reader to report to the police, or that speak of evidence.
_POLICE_REPORT = re.compile(r"polisanmä|report (it )?to the police|police report", re.IGNORECASE)
_EVIDENCE = re.compile(r"skärmdump|bevis|fotografera|screenshot|evidence|photograph", re.IGNORECASE)


def danger_line(lang: str) -> Html:
    """The line every answer starts with, whatever a routine file says."""
    return t("danger.line", lang)


def visible_text(text: str) -> str:
    """What the reader sees before tapping: tags and the folded blockquote removed."""
    folded = re.sub(r"<blockquote expandable>.*?</blockquote>", "", text, flags=re.DOTALL)
    return html_lib.unescape(_TAG.sub("", folded)).strip()


def _when(moment: datetime, timezone: str, lang: str) -> str:
    local = moment.astimezone(ZoneInfo(timezone))
    day = words("weekday.short", lang)[local.weekday()]
    return f"{day} {local:%H:%M}"


def _name(contact: Contact, lang: str) -> str:
    name = f"<b>{escape(contact.name.get(lang))}</b>"
    if contact.person:
        name += f" ({escape(contact.person)})"
    return name


def _call_line(contact: Contact, lang: str, police_link: bool) -> str:
    """One reachable contact: name and number (or e-mail), on one line."""
    line = ("☎ " if contact.phone else "• ") + _name(contact, lang)
    if contact.phone:
        line += f": {phone_link(contact)}"
    elif contact.email:
        line += f": {escape(contact.email)}"
    if police_link and contact.id == POLICE_REF:
        line += " · " + t("answer.police_online", lang, url=POLICE_REPORT_URL)
    return line


def _later_line(reach: Reachability, lang: str, timezone: str) -> str:
    """One contact that cannot be reached now, on one line: when it can be.

    Whoever answers instead is already in the "call now" list, so it is not repeated here.
    """
    name = Html(_name(reach.contact, lang))
    if reach.opens_at is None:
        return t("reach.not_now", lang, contact=name)
    return t("reach.later", lang, contact=name, opens=_when(reach.opens_at, timezone, lang))


def _details(contact: Contact, lang: str, with_phone: bool) -> str | None:
    """A contact's notes, e-mail and hours (and number, if not in the "call now" list), for
    the folded part."""
    bits: list[str] = []
    if with_phone and contact.phone:
        bits.append(phone_link(contact))
    if contact.hours is not None:
        bits.append(escape(describe(contact.hours, lang)))
    if contact.email:
        bits.append(escape(contact.email))
    if contact.note:
        bits.append(escape(contact.note.get(lang)))
    if not bits:
        return None
    return (
        f"<b>{escape(contact.name.get(lang))}</b>: " + ". ".join(b.rstrip(".") for b in bits) + "."
    )


@dataclass
class _Parts:
    call_now: list[str]
    later: list[str]
    steps: list[str]
    details: list[str]


def _collect(answer: Answer, lang: str, timezone: str) -> _Parts:
    texts = [s.step.text.get(lang) for s in answer.steps if s.step.text is not None]
    police_link = any(_POLICE_REPORT.search(text) for text in texts)
    parts = _Parts([], [], [], [])
    called: set[str] = set()
    later: set[str] = set()
    described: list[Contact] = []

    for resolved in answer.steps:
        if resolved.step.text is not None:
            parts.steps.append(escape(resolved.step.text.get(lang)))
            continue
        reach = resolved.reach
        if reach is None:
            continue
        chain = (reach, *reach.instead)
        for link in chain:
            if all(link.contact.id != c.id for c in described):
                described.append(link.contact)
            if link.open_now:
                if link.contact.id not in called:
                    called.add(link.contact.id)
                    parts.call_now.append(_call_line(link.contact, lang, police_link))
                break
            if link.contact.id not in later and link.contact.id not in called:
                later.add(link.contact.id)
                parts.later.append(_later_line(link, lang, timezone))
    for contact in described:
        detail = _details(contact, lang, with_phone=contact.id not in called)
        if detail:
            parts.details.append(detail)
    if any(_EVIDENCE.search(text) for text in texts):
        parts.steps.append(t("answer.screenshots", lang))
    return parts


def render_answer(answer: Answer, lang: str, timezone: str, *, reserve: int = 0) -> Html:
    """A situation's answer for a phone screen: whom to call now first, the rest folded.

    `reserve` is room (visible characters) the caller will add around the answer, such as the
    guests' footer, so that the whole stays within `VISIBLE_LIMIT`.
    """
    title = escape(answer.situation.title.get(lang))
    icon = "🆘 " if answer.situation.urgent else ""
    head = [f"<b>{danger_line(lang)}</b>", f"{icon}<b>{title}</b>"]
    if answer.organisation:
        head.append(t("answer.from_routine", lang, organisation=answer.organisation))
    parts = _collect(answer, lang, timezone)
    shown = list(head)
    if parts.call_now:
        shown.append(t("answer.call_now", lang))
        shown.extend(parts.call_now)
    later = [t("answer.not_now", lang), *parts.later] if parts.later else []
    # In acute danger what to do (get to safety) matters more than who answers on Monday: the
    # steps come before the contacts that cannot be reached now, and the budget keeps room for them.
    steps_first = answer.situation.urgent
    if not steps_first:
        shown.extend(later)
    budget = VISIBLE_LIMIT - reserve
    if steps_first and later:
        budget -= len(visible_text("\n".join(later))) + 1
    folded: list[str] = []
    if parts.steps:
        shown.append(t("answer.do_this", lang))
    for number, step in enumerate(parts.steps, start=1):
        line = f"{number}. {step}"
        if not folded and len(visible_text("\n".join([*shown, line]))) <= budget:
            shown.append(line)
        else:
            folded.append(line)
    if parts.steps and shown[-1] == t("answer.do_this", lang):
        shown.pop()  # no step fitted: the heading goes into the fold with them
        folded.insert(0, t("answer.do_this", lang))
    if steps_first:
        shown.extend(later)
    if parts.details:
        folded.append(t("answer.details", lang))
        folded.extend(parts.details)
    text = "\n".join(shown)
    if folded:
        text += "\n" + FOLD_OPEN + "\n".join(folded) + FOLD_CLOSE
    return Html(text)


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

    Our HTML opens and closes tags within a line, except the expandable blockquote: a cut inside
    it closes it and opens it again in the next message.
    A single line longer than the limit loses its tags and is cut at spaces, never inside an
    `&amp;`-style entity.
    """
    room = limit - _utf16_len(FOLD_OPEN + FOLD_CLOSE)
    # Nearly every reply fits: the walk below would return it whole (it only drops empty
    # lines at the start).
    if _utf16_len(text) <= room and not text.startswith("\n"):
        return [text]
    chunks: list[str] = []
    current = ""
    folded = False  # inside the expandable blockquote, the one tag that spans lines
    for line in text.split("\n"):
        pieces = [line] if _utf16_len(line) <= room else _split_long_line(line, room)
        for piece in pieces:
            candidate = piece if not current else current + "\n" + piece
            if _utf16_len(candidate) <= (room if folded or FOLD_OPEN in piece else limit):
                current = candidate
            else:
                if current:
                    chunks.append(current + (FOLD_CLOSE if folded else ""))
                current = (FOLD_OPEN if folded and not piece.startswith(FOLD_OPEN) else "") + piece
            if FOLD_OPEN in piece:
                folded = True
            if FOLD_CLOSE in piece:
                folded = False
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
