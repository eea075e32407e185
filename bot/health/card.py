"""The contact card: a picture for a phone's lock screen with the numbers an official needs most.

`build_card` decides what the card says (pure: a routine in, texts and numbers out), so tests can
check the text model rather than read pixels; `render_card` draws it with Pillow at 1080 × 1920 in
DejaVu Sans (shipped with matplotlib, with å, ä and ö), white on dark blue so it does not glare at
night; `CardCache` keeps one picture per organisation and language until the registry holds a new
routine object for it.

What goes on the card, top down: nothing in the top quarter, where the lock screen shows its
clock; the organisation; 112 in a red box with the urgent situation's title; the urgent
situation's other steps (texts shortened to three lines at a word, contacts with number, hours
and whom to call when they are closed); then "important numbers": the contacts that receive
reports first, then those most situations name, as many as fit; last, in a box of its own, the
hint of a contact without a number (the party's contact: where to find the number). Only the
member's own routine and the national file are read, so another organisation's numbers can
never appear.
"""

from __future__ import annotations

import importlib.util
import io
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from bot.health.report import as_plain
from bot.i18n import t
from bot.routines.answer import EMERGENCY_REF, situations_for
from bot.routines.hours import describe
from bot.routines.models import Contact, National, Routine, Situation

if TYPE_CHECKING:
    from PIL.ImageFont import FreeTypeFont

WIDTH, HEIGHT = 1080, 1920
CLOCK_RESERVE = 520  # the lock screen's date and clock sit over the top of the picture
MARGIN = 64
BOTTOM_RESERVE = 190  # the lock screen's torch and camera buttons, and the footer
MAX_IMPORTANT = 6
TEXT_LINES = 3

BACKGROUND = "#0d1b2a"
FOREGROUND = "#ffffff"
MUTED = "#c3cedb"
ACCENT = "#ffd166"
EMERGENCY = "#c62828"

Source = Routine | National


@dataclass(frozen=True)
class CardContact:
    name: str
    number: str | None
    detail: str | None = None
    after_hours: str | None = None


@dataclass(frozen=True)
class CardHint:
    """A contact without a number, and where to find one: its own place on the card."""

    name: str
    hint: str


@dataclass(frozen=True)
class CardStep:
    """One step of the urgent situation after 112: a text or a contact."""

    text: str | None = None
    contact: CardContact | None = None


@dataclass(frozen=True)
class Card:
    """Everything the card says, in one language."""

    lang: str
    title: str
    subtitle: str
    emergency: str
    then: str
    steps: tuple[CardStep, ...]
    important_heading: str
    important: tuple[CardContact, ...]
    footer: str
    hints: tuple[CardHint, ...] = ()

    def contacts(self) -> list[CardContact]:
        return [s.contact for s in self.steps if s.contact is not None] + list(self.important)

    def texts(self) -> list[str]:
        """Every text the card may show, numbers included, for checks without reading pixels."""
        found = [self.title, self.subtitle, "112", self.emergency, self.then]
        for step in self.steps:
            if step.text is not None:
                found.append(step.text)
        found.append(self.important_heading)
        for contact in self.contacts():
            found.extend(
                x
                for x in (contact.name, contact.number, contact.detail, contact.after_hours)
                if x is not None
            )
        for hint in self.hints:
            found.extend((hint.name, hint.hint))
        found.append(self.footer)
        return found


# --- what the card says ------------------------------------------------------------------------


def _lookup(source: Source, ref: str) -> Contact | None:
    if isinstance(source, Routine):
        try:
            return source.contact(ref)
        except KeyError:
            return None
    return source.contacts.get(ref.removeprefix("national."))


def _after_hours(source: Source, contact: Contact, lang: str) -> str | None:
    if contact.hours is None or contact.after_hours is None:
        return None
    ref = contact.after_hours
    if contact.is_national and not ref.startswith("national."):
        ref = "national." + ref
    target = _lookup(source, ref)
    if target is None or target.phone is None:
        return None
    who = f"{target.name.get(lang)} {target.phone.national}"
    return as_plain(t("card.after_hours", lang, contact=who))


def _card_contact(source: Source, contact: Contact, lang: str) -> CardContact:
    name = contact.name.get(lang)
    if contact.person:
        name += f" ({contact.person})"
    if contact.phone is not None:
        detail: str | None = describe(contact.hours, lang)
    elif contact.email is not None:
        detail = contact.email
    else:
        detail = contact.note.get(lang) if contact.note else None
    return CardContact(
        name=name,
        number=contact.phone.national if contact.phone else None,
        detail=detail,
        after_hours=_after_hours(source, contact, lang),
    )


def _urgent(source: Source) -> Situation | None:
    return next((s for s in situations_for(source) if s.urgent), None)


def _important(source: Source, shown: set[str]) -> list[Contact]:
    """Receivers of reports first, then the contacts most situations name; with a phone."""
    named: dict[str, int] = {}
    for situation in situations_for(source):
        for ref in dict.fromkeys(s.contact for s in situation.steps if s.contact):
            named[ref] = named.get(ref, 0) + 1
    if isinstance(source, Routine):
        for receiver in source.receiving_contacts():
            named.setdefault(receiver.id, 0)
    candidates: list[tuple[bool, int, int, Contact]] = []
    for order, (ref, count) in enumerate(named.items()):
        contact = _lookup(source, ref)
        if ref == EMERGENCY_REF or ref in shown or contact is None or contact.phone is None:
            continue
        candidates.append((not contact.receives_reports, -count, order, contact))
    return [c for *_, c in sorted(candidates, key=lambda item: item[:3])][:MAX_IMPORTANT]


def build_card(source: Source, lang: str) -> Card:
    """What the card of `source` (a member's routine, or the national file) says in `lang`."""
    urgent = _urgent(source)
    steps: list[CardStep] = []
    hints: list[CardHint] = []
    shown: set[str] = set()
    if urgent is not None:
        for step in urgent.steps:
            if step.contact == EMERGENCY_REF and not steps:
                continue  # 112 is the red box
            if step.text is not None:
                steps.append(CardStep(text=step.text.get(lang)))
            elif step.contact is not None:
                contact = _lookup(source, step.contact)
                if contact is not None:
                    shown.add(step.contact)
                    card_contact = _card_contact(source, contact, lang)
                    if card_contact.number is None and contact.note is not None:
                        # Its hint needs more than two lines under a name: a box of its own.
                        hints.append(CardHint(card_contact.name, contact.note.get(lang)))
                        card_contact = CardContact(name=card_contact.name, number=None)
                    steps.append(CardStep(contact=card_contact))
    important = tuple(_card_contact(source, c, lang) for c in _important(source, shown))
    urgent_title = urgent.title.get(lang) if urgent else ""
    if isinstance(source, Routine):
        org = source.organisation
        title = org.name
        footer = t("card.footer", lang, reviewed=org.reviewed.isoformat(), organisation=org.name)
    else:
        title = as_plain(t("card.national_title", lang))
        footer = t("card.national_footer", lang)
    return Card(
        lang=lang,
        title=title,
        subtitle=as_plain(t("card.subtitle", lang)),
        emergency=as_plain(t("card.emergency", lang, situation=urgent_title)),
        then=as_plain(t("card.then", lang)),
        steps=tuple(steps),
        important_heading=as_plain(t("card.important", lang)),
        important=important,
        footer=as_plain(footer),
        hints=tuple(hints),
    )


# --- drawing -----------------------------------------------------------------------------------


def _font_dir() -> Path | None:
    spec = importlib.util.find_spec("matplotlib")
    if spec is None or spec.origin is None:
        return None
    return Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf"


@cache
def _font(size: int, bold: bool) -> FreeTypeFont:
    from PIL import ImageFont

    directory = _font_dir()
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    if directory is not None and (directory / name).exists():
        return ImageFont.truetype(str(directory / name), size)
    return ImageFont.load_default(size)  # type: ignore[return-value]


def wrap(text: str, font: FreeTypeFont, width: float, max_lines: int) -> list[str]:
    """`text` in lines at most `width` pixels wide, at most `max_lines`, the last with "…"."""
    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if font.getlength(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        current = word
        while font.getlength(current) > width:  # one very long word: cut it
            cut = len(current) - 1
            while cut > 1 and font.getlength(current[:cut]) > width:
                cut -= 1
            lines.append(current[:cut])
            current = current[cut:]
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        kept = lines[:max_lines]
        words = kept[-1].split()
        # Shortened at a word, never inside one: a cut word can read as another word.
        while len(words) > 1 and font.getlength(" ".join(words) + " …") > width:
            words.pop()
        kept[-1] = " ".join(words) + " …"
        return kept
    return lines


@dataclass(frozen=True)
class _Text:
    x: float
    y: float
    text: str
    size: int
    bold: bool
    fill: str
    anchor: str = "la"


@dataclass
class _Layout:
    scale: float
    y: float = 0.0
    texts: list[_Text] = field(default_factory=list)
    boxes: list[tuple[tuple[float, float, float, float], str]] = field(default_factory=list)
    outlines: list[tuple[float, float, float, float]] = field(default_factory=list)

    def size(self, points: int) -> int:
        return max(12, round(points * self.scale))

    def lines(
        self,
        text: str,
        points: int,
        *,
        bold: bool = False,
        fill: str = FOREGROUND,
        indent: float = 0,
        max_lines: int = 2,
        gap: float = 0.25,
    ) -> None:
        size = self.size(points)
        font = _font(size, bold)
        width = WIDTH - 2 * MARGIN - indent
        for line in wrap(text, font, width, max_lines):
            self.texts.append(_Text(MARGIN + indent, self.y, line, size, bold, fill))
            self.y += size * (1 + gap)

    def space(self, points: float) -> None:
        self.y += points * self.scale


def _contact(layout: _Layout, contact: CardContact, indent: float) -> None:
    layout.lines(contact.name, 36, bold=True, indent=indent, max_lines=2, gap=0.2)
    if contact.number is not None:
        layout.lines(contact.number, 56, bold=True, fill=ACCENT, indent=indent, max_lines=1)
    if contact.detail:
        layout.lines(contact.detail, 30, fill=MUTED, indent=indent, max_lines=2, gap=0.2)
    if contact.after_hours:
        layout.lines(contact.after_hours, 30, fill=MUTED, indent=indent, max_lines=2, gap=0.2)
    layout.space(22)


def _hint(layout: _Layout, hint: CardHint) -> None:
    """A contact without a number in an outlined box: its name, then where to find it."""
    top = layout.y
    layout.y += 20 * layout.scale
    layout.lines(hint.name, 34, bold=True, fill=ACCENT, indent=24, max_lines=2, gap=0.2)
    layout.lines(hint.hint, 30, fill=FOREGROUND, indent=24, max_lines=4, gap=0.22)
    layout.y += 8 * layout.scale
    layout.outlines.append((MARGIN - 8, top, WIDTH - MARGIN + 8, layout.y))
    layout.space(20)


def _layout(card: Card, scale: float, important: int) -> _Layout:
    layout = _Layout(scale=scale, y=CLOCK_RESERVE)
    layout.lines(card.title, 52, bold=True, max_lines=2, gap=0.15)
    layout.lines(card.subtitle, 32, fill=MUTED, max_lines=1)
    layout.space(24)
    top = layout.y
    number = layout.size(190)
    layout.texts.append(_Text(WIDTH / 2, top + 20 * scale, "112", number, True, FOREGROUND, "ma"))
    label = layout.size(40)
    label_y = top + 20 * scale + number * 1.02
    layout.texts.append(_Text(WIDTH / 2, label_y, card.emergency, label, True, FOREGROUND, "ma"))
    bottom = label_y + label * 1.3 + 16 * scale
    layout.boxes.append(((MARGIN - 16, top, WIDTH - MARGIN + 16, bottom), EMERGENCY))
    layout.y = bottom + 34 * scale
    if card.steps:
        layout.lines(card.then, 42, bold=True, fill=ACCENT, max_lines=1)
        layout.space(6)
    for index, step in enumerate(card.steps, start=1):
        marker = f"{index}."
        marker_size = layout.size(36)
        layout.texts.append(_Text(MARGIN, layout.y, marker, marker_size, True, FOREGROUND))
        indent = 64 * scale
        if step.text is not None:
            layout.lines(step.text, 34, indent=indent, max_lines=TEXT_LINES, gap=0.22)
            layout.space(16)
        elif step.contact is not None:
            _contact(layout, step.contact, indent)
    if important:
        layout.space(12)
        layout.lines(card.important_heading, 42, bold=True, fill=ACCENT, max_lines=1)
        layout.space(6)
        for contact in card.important[:important]:
            _contact(layout, contact, 0)
    if card.hints:
        layout.space(8)
    for hint in card.hints:
        _hint(layout, hint)
    footer_size = layout.size(28)
    for offset, line in enumerate(
        wrap(card.footer, _font(footer_size, False), WIDTH - 2 * MARGIN, 2)
    ):
        y = HEIGHT - BOTTOM_RESERVE + 40 + offset * footer_size * 1.3
        layout.texts.append(_Text(WIDTH / 2, y, line, footer_size, False, MUTED, "ma"))
    return layout


def _fit(card: Card) -> _Layout:
    """The largest type that fits, dropping important numbers from the end before shrinking:
    down to two of them while the type is large, to one below 0.8 (small type on a lock screen
    costs more than a second important number), to none only at the smallest type."""
    limit = HEIGHT - BOTTOM_RESERVE
    scale = 1.0
    while True:
        keep = min(2 if scale >= 0.8 else 1, len(card.important))
        for important in range(len(card.important), -1, -1):
            layout = _layout(card, scale, important)
            if layout.y <= limit and (important >= keep or scale <= 0.6):
                return layout
        if scale <= 0.6:
            return _layout(card, scale, 0)
        scale = round(scale - 0.05, 2)


@dataclass(frozen=True)
class RenderedCard:
    png: bytes
    drawn: tuple[str, ...]
    """Every line of text drawn, in order, so tests can check what the picture says."""
    top: float = 0.0
    """Where the highest text starts, in pixels from the top: below the lock screen's clock."""


def render_card(card: Card) -> RenderedCard:
    """Draw `card` as a 1080 × 1920 PNG."""
    from PIL import Image, ImageDraw

    layout = _fit(card)
    image = Image.new("RGB", (WIDTH, HEIGHT), BACKGROUND)
    draw = ImageDraw.Draw(image)
    for box, colour in layout.boxes:
        draw.rounded_rectangle(box, radius=28, fill=colour)
    for outline in layout.outlines:
        draw.rounded_rectangle(outline, radius=20, outline=MUTED, width=3)
    for text in layout.texts:
        font = _font(text.size, text.bold)
        draw.text((text.x, text.y), text.text, font=font, fill=text.fill, anchor=text.anchor)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    top = min((text.y for text in layout.texts), default=0.0)
    return RenderedCard(buffer.getvalue(), tuple(text.text for text in layout.texts), top)


# --- cache -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Entry:
    source: Source
    card: RenderedCard


class CardCache:
    """Rendered cards per (organisation, language), kept while the routine object is the same.

    The registry makes a new `Routine` whenever a file is reloaded (and every routine anew when
    the national file changes), so comparing objects by identity regenerates exactly when the
    routine may have changed. Bounded, least recently used first out.
    """

    def __init__(self, size: int = 64) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self.stored = 0

    def get(self, key: str, lang: str, source: Source) -> RenderedCard | None:
        entry = self._entries.get((key, lang))
        if entry is None or entry.source is not source:
            return None
        self._entries.move_to_end((key, lang))
        return entry.card

    def put(self, key: str, lang: str, source: Source, card: RenderedCard) -> None:
        self._entries[(key, lang)] = _Entry(source, card)
        self.stored += 1
        self._entries.move_to_end((key, lang))
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


def card_key(source: Source) -> str:
    return source.id if isinstance(source, Routine) else "national"


def contact_numbers(contacts: Sequence[Contact]) -> set[str]:
    """The ways a number can be written on a card (national format, E.164), for checks."""
    found: set[str] = set()
    for contact in contacts:
        if contact.phone is not None:
            found |= {contact.phone.national, contact.phone.e164}
    return found
