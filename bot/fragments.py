"""Telegram-HTML fragments shared by replies (handlers/) and the texts the domain queues.

They import no telegram, so the reminders' and reports' texts can use them without reaching up
into the edge.
"""

from __future__ import annotations

import phonenumbers

from bot.i18n import Html, escape
from bot.routines.models import Contact, Phone


def phone_text(phone: Phone) -> str:
    """A number as Telegram clients detect it and make tappable: international format, or a
    national short number (112, 114 14). Telegram documents no `tel:` links, and some clients
    refuse them or warn before opening one; the international form also dials from abroad."""
    if not phone.e164.startswith("+"):
        return phone.national
    try:
        parsed = phonenumbers.parse(phone.e164, None)
    except phonenumbers.NumberParseException:
        return phone.e164
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def phone_link(contact: Contact) -> Html:
    """The contact's number, ready to tap (the name is kept for its callers of old)."""
    if contact.phone is None:
        return Html("")
    return escape(phone_text(contact.phone))
