"""The built-in national contacts, used when `routines/_national.yaml` is broken at first start.

Built from plain objects, not parsed: nothing here may fail, so that 112 always works even when
every file on disk is broken. It mirrors the national contacts of DOMAIN.md; the real national
file may say more and wins as soon as it loads.
"""

from __future__ import annotations

from bot.routines.models import (
    DEFAULT_TIMEZONE,
    NATIONAL_PREFIX,
    SUPPORTED_LANGUAGES,
    Contact,
    Hours,
    National,
    Phone,
    Situation,
    Step,
    Text,
    Window,
)

_EVERY_DAY = frozenset(range(7))


def _text(sv: str, en: str) -> Text:
    return Text(values={"sv": sv, "en": en}, default="sv")


def _short(grouped: str) -> Phone:
    """A national short number: dialled as its digits, shown grouped as Swedes know it."""
    return Phone(raw=grouped, e164=grouped.replace(" ", ""), national=grouped)


def _contact(
    contact_id: str, name: Text, number: str, hours: Hours = None, note: Text | None = None
) -> Contact:
    return Contact(
        id=NATIONAL_PREFIX + contact_id, name=name, phone=_short(number), hours=hours, note=note
    )


FALLBACK_CONTACTS: dict[str, Contact] = {
    "112": _contact("112", _text("SOS Alarm – nödnummer", "SOS Alarm – emergency number"), "112"),
    "polisen": _contact(
        "polisen", _text("Polisen, när det inte är akut", "Police, non-emergency"), "114 14"
    ),
    "brottsofferjouren": _contact(
        "brottsofferjouren",
        _text("Brottsofferjouren", "Victim Support Sweden"),
        "116 006",
        hours=(Window(days=_EVERY_DAY, start=9 * 60, end=19 * 60),),
        note=_text(
            "Kontrollera öppettiderna på brottsofferjouren.se.",
            "Check the opening hours at brottsofferjouren.se.",
        ),
    ),
    "1177": _contact(
        "1177", _text("1177 Vårdguiden – sjukvårdsrådgivning", "1177 – health advice"), "1177"
    ),
    "11313": _contact(
        "11313", _text("Information i kris (113 13)", "Information in a crisis (113 13)"), "113 13"
    ),
}

FALLBACK_SITUATIONS = (
    Situation(
        id="akut",
        title=_text("Akut fara", "Immediate danger"),
        urgent=True,
        steps=(
            Step(contact=NATIONAL_PREFIX + "112"),
            Step(text=_text("Sätt dig i säkerhet först.", "Get to safety first.")),
            Step(contact=NATIONAL_PREFIX + "polisen"),
        ),
    ),
)

FALLBACK_NATIONAL = National(
    contacts=FALLBACK_CONTACTS,
    situations=FALLBACK_SITUATIONS,
    languages=SUPPORTED_LANGUAGES,
    timezone=DEFAULT_TIMEZONE,
    source=None,
)
