"""Telegram-HTML fragments shared by replies (handlers/) and the texts the domain queues.

They import no telegram, so the reminders' and reports' texts can use them without reaching up
into the edge.
"""

from __future__ import annotations

from bot.i18n import Html, escape
from bot.routines.models import Contact


def phone_link(contact: Contact) -> Html:
    """The contact's number in national format, linked as `tel:` with E.164 so a tap calls."""
    if contact.phone is None:
        return Html("")
    return Html(f'<a href="tel:{escape(contact.phone.e164)}">{escape(contact.phone.national)}</a>')
