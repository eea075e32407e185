"""Who may see and act on a report, and what a reporter is told to expect after sending one.

Least privilege: a report is read only by the coordinators bound to a contact that receives it,
the routine's `receives_reports` contacts, and, once it is escalated, the `reminders.escalate_to`
contacts. Being a coordinator of the same organisation is not enough: a party's security
contact, the press service or the kommundirektör may be coordinators too.

The rule is checked against the routine as it is loaded at the moment of the action, so a
routine change that takes `receives_reports` away from a contact takes effect for every
existing report at the next reload. Plain functions on typed values: no Telegram, no SQL.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from bot.reports.model import Report
from bot.routines.answer import reachability
from bot.routines.hours import next_opening
from bot.routines.models import Contact, Duration, Routine

__all__ = [
    "Expectation",
    "Member",
    "call_now",
    "expectation",
    "may_act",
    "receiving_contact_ids",
]

COORDINATOR = "coordinator"


class Member(Protocol):
    """What the rule needs of a membership (bot.storage's `Membership` fits)."""

    @property
    def org_id(self) -> str: ...

    @property
    def role(self) -> str: ...

    @property
    def contact_id(self) -> str | None: ...


def receiving_contact_ids(routine: Routine, report: Report | None = None) -> frozenset[str]:
    """The routine's own contacts that receive `report`: `receives_reports`, plus the
    `escalate_to` contacts once it was escalated. Without a report: those of a new one."""
    found = {c.id for c in routine.receiving_contacts()}
    if report is not None and report.escalated_at is not None:
        found |= {ref for ref in routine.reminders.escalate_to if ref in routine.contacts}
    return frozenset(found)


def may_act(member: Member | None, report: Report, routine: Routine | None) -> bool:
    """Whether `member` may see `report` and act on it (list, open, acknowledge, reply, close,
    relay), judged by the routine loaded now. No routine loaded: nobody may."""
    if member is None or routine is None or str(member.role) != COORDINATOR:
        return False
    if member.org_id != report.org_id or routine.id != report.org_id:
        return False
    return member.contact_id is not None and member.contact_id in receiving_contact_ids(
        routine, report
    )


# --- what a reporter can expect ---------------------------------------------------------------


@dataclass(frozen=True)
class Expectation:
    """What the receipt promises, and nothing more.

    `received` is False when no coordinator is registered for any receiving contact: the report
    is kept, and read once someone registers. `read_from` is None when it can be read now (a
    receiving contact is open) or when no opening is known; `readable_now` tells the two apart.
    `call_now` is the first contact of the routine reachable now for a reporter who cannot
    wait, or None (then 112 and the police's 114 14).
    """

    received: bool
    readers: tuple[Contact, ...]
    readable_now: bool
    read_from: datetime | None
    ack_within: Duration
    call_now: Contact | None


def expectation(routine: Routine, registered: Collection[str], now: datetime) -> Expectation:
    """The receipt's promise for a report sent at `now`, when coordinators are registered for
    the contacts in `registered` (contact ids)."""
    tz = routine.organisation.timezone
    readers = tuple(c for c in routine.receiving_contacts() if c.id in registered)
    openings: list[datetime] = []
    readable_now = False
    for contact in readers:
        opens = next_opening(contact.hours, now, tz)
        if contact.hours is None or (opens is not None and opens <= now):
            readable_now = True
        elif opens is not None:
            openings.append(opens)
    return Expectation(
        received=bool(readers),
        readers=readers,
        readable_now=readable_now,
        read_from=None if readable_now or not openings else min(openings),
        ack_within=routine.reminders.ack_within,
        call_now=call_now(routine, now),
    )


def call_now(routine: Routine, now: datetime) -> Contact | None:
    """The first contact with a phone that is reachable now, starting from the receiving
    contacts and following their `after_hours` chains, as the answer to a situation does."""
    for contact in routine.receiving_contacts():
        reach = reachability(routine, contact.id, now)
        if reach is None:
            continue
        for candidate in (reach, *reach.instead):
            if candidate.open_now and candidate.contact.phone is not None:
                if candidate.contact.is_national:
                    break  # 112 and 114 14 are said anyway
                return candidate.contact
    return None
