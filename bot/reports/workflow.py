"""The life of a sent report: submit, acknowledge, reply and relay both ways, share, add, close.

Plain async functions on typed values: they take ids, text and the services they need (`Desk`:
database, sealer, clock, routines) and store what happened together with what to queue. Every
message to a coordinator or a reporter goes through the outbox, queued in the same transaction
as the change it tells of where storage offers one, so a Bot API outage delays it but never
loses it. The caller (the Telegram edge, or another channel) answers the person who acted and
kicks the outbox; nothing here knows Telegram.

Who may act is `bot.reports.access.may_act`, judged against the routine loaded now; the caller
checks it before an action and again when a text it asked for arrives (`take_text`).
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from bot import activity
from bot.crypto import Sealer, SealError
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Html, t
from bot.reports.access import Member, expectation, may_act, receiving_contact_ids
from bot.reports.anonymise import anonymise
from bot.reports.model import Draft, Report, new_reference, report_from_draft
from bot.reports.texts import Buttons, case_buttons, case_text, receipt_text, reporter_buttons
from bot.routines.models import Routine
from bot.routines.registry import RoutineRegistry
from bot.storage import Database, DuplicateReference, Membership, OutboxItem, Role

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

_REFERENCE_TRIES = 8
RELAY_LIMIT = 3000
LAST_WORD_LIMIT = 1000
ADDITION_LIMIT = 2000
DESCRIPTION_MAX = 4000
# A reporter's answer waits here, anonymised and sealed, until they press Send: they see first
# what the coordinator will receive, as with the description of a report.
STAGED = "answer_ready"


class Desk(Protocol):
    """The services the workflow needs (`bot.context.Services` fits)."""

    @property
    def db(self) -> Database: ...

    @property
    def sealer(self) -> Sealer: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def registry(self) -> RoutineRegistry: ...


def coordinator_key(user_id: int) -> str:
    """The key a coordinator's pending input is stored under."""
    return f"c:{user_id}"


def reporter_key(sealer: Sealer, user_id: int) -> str:
    """The key a reporter's pending input is stored under: their owner tag, never their id."""
    return "r:" + sealer.owner_tag(user_id)


def pending_keys(sealer: Sealer, user_id: int) -> list[str]:
    """The keys a user's pending input may be stored under: as coordinator, as reporter."""
    return [coordinator_key(user_id), reporter_key(sealer, user_id)]


async def drop_pending(desk: Desk, user_id: int) -> bool:
    """/avbryt: forget a reply, answer or addition the user was asked to write; True if any."""
    dropped = False
    for key in pending_keys(desk.sealer, user_id):
        if await desk.db.get_pending(key) is not None:
            await desk.db.clear_pending(key)
            dropped = True
    return dropped


# --- who receives --------------------------------------------------------------------------


async def receiving_coordinators(
    db: Database, routine: Routine, report: Report | None = None
) -> list[Membership]:
    """Coordinators bound to a contact that receives `report` (a new report when None): the
    `receives_reports` contacts, and the `escalate_to` contacts once it is escalated; in the
    routine's order of contacts, earliest joined first. One query."""
    wanted = receiving_contact_ids(routine, report)
    by_contact: dict[str, list[Membership]] = {}
    for m in await db.members_of(routine.id, Role.COORDINATOR):
        if m.contact_id in wanted:
            by_contact.setdefault(m.contact_id, []).append(m)
    return [m for contact_id in routine.contacts for m in by_contact.get(contact_id, [])]


async def languages(
    db: Database, members: Sequence[Membership], routine: Routine | None
) -> dict[int, str]:
    """Each member's language: the one they chose, else their Telegram's (kept when they
    joined or last wrote), else the organisation's. One query."""
    users = await db.users_by_id([m.user_id for m in members])
    default = routine.organisation.default_language if routine else DEFAULT_LANGUAGE
    found = {}
    for m in members:
        user = users.get(m.user_id)
        if user is not None and user.lang and user.lang in LANGUAGES:
            found[m.user_id] = user.lang
        else:
            found[m.user_id] = default
    return found


async def waiting_reports(db: Database, member: Member, routine: Routine) -> list[Report]:
    """The open reports of the organisation that `member` may act on, newest first."""
    return [r for r in await db.open_reports(routine.id) if may_act(member, r, routine)]


# --- what is queued ------------------------------------------------------------------------


def queued(
    sealer: Sealer,
    dedupe: str,
    text: str,
    buttons: Buttons | None = None,
    *,
    chat_id: int | None = None,
    to_reporter: bool = False,
    report_id: int | None = None,
    urgent: bool = False,
) -> OutboxItem:
    """An `OutboxItem` with `text` (HTML) and inline `buttons` sealed as its payload, in the
    form the outbox's sender reads (`bot.outbox.message` makes the same)."""
    payload = {"text": text, "buttons": buttons or None, "photo": None}
    return OutboxItem(
        dedupe=dedupe,
        payload=sealer.seal_json(payload),
        chat_id=chat_id,
        to_reporter=to_reporter,
        report_id=report_id,
        urgent=urgent,
    )


async def coordinator_items(
    desk: Desk,
    routine: Routine,
    report: Report,
    key: str,
    dedupe: str,
    *,
    skip: int | None = None,
    with_buttons: bool = False,
    **values: Any,
) -> list[OutboxItem]:
    """A message about `report` (catalogue `key`) to each of its receiving coordinators but
    `skip`, in their language, to queue together with a change of the report."""
    members = [
        m for m in await receiving_coordinators(desk.db, routine, report) if m.user_id != skip
    ]
    langs = await languages(desk.db, members, routine)
    items = []
    for m in members:
        lang = langs[m.user_id]
        text = t(key, lang, ref=report.ref, **values)
        buttons = case_buttons(report, lang) if with_buttons else None
        items.append(
            queued(
                desk.sealer,
                f"{dedupe}:{m.user_id}",
                text,
                buttons,
                chat_id=m.user_id,
                report_id=report.id,  # forgetting the report forgets what is queued about it
                urgent=True,
            )
        )
    return items


async def tell_coordinators(
    desk: Desk, routine: Routine, report: Report, key: str, dedupe: str, **kw: Any
) -> None:
    """Queue a message about `report` to the organisation's receiving coordinators."""
    items = await coordinator_items(desk, routine, report, key, dedupe, **kw)
    await desk.db.enqueue(items, desk.clock())


def reporter_item(
    desk: Desk,
    report: Report,
    lang: str,
    key: str,
    dedupe: str,
    buttons: Buttons | None = None,
    **values: Any,
) -> OutboxItem:
    """A message to the reporter, through the sealed link (the sender finds their chat)."""
    text = t(key, lang, ref=report.ref, **values)
    return queued(
        desk.sealer, dedupe, text, buttons, to_reporter=True, report_id=report.id, urgent=True
    )


async def is_linked(db: Database, report: Report) -> bool:
    """Whether the reporter can still be reached (asked to be contacted, link not released)."""
    return await db.link_of(report.id) is not None


async def reporter_lang(desk: Desk, report: Report, routine: Routine) -> str:
    """The reporter's own language, kept sealed with the link; the organisation's without."""
    default = routine.organisation.default_language
    sealed = await desk.db.link_language(report.id)
    if sealed is None:
        return default
    try:
        lang = desk.sealer.unseal(sealed).decode()
    except (SealError, UnicodeDecodeError):
        return default
    return lang if lang in LANGUAGES else default


# --- submitting ----------------------------------------------------------------------------


async def submit(
    desk: Desk,
    routine: Routine,
    draft: Draft,
    user_id: int,
    chat_id: int,
    lang: str | None = None,
    update_id: int | None = None,
) -> Report:
    """Store the report and queue it to every receiving coordinator, in one transaction.

    Three queries: the coordinators, their languages, and the transaction itself. A reporter
    who asked to be contacted has their language `lang` kept (sealed) with the link, so
    follow-ups and relays reach them in it. With `update_id`, the reference is kept (sealed)
    while that update is in the inbox, so the Send handled again after a crash shows it."""
    now = desk.clock()
    link = None
    if draft.values.get("contact_me") == "ja":
        link = (desk.sealer.owner_tag(user_id), desk.sealer.seal_chat(chat_id))
    coordinators = await receiving_coordinators(desk.db, routine)
    if not coordinators:
        log.warning(
            "report for %s kept, but no coordinator is registered to receive it", routine.id
        )
    langs = await languages(desk.db, coordinators, routine)
    for _ in range(_REFERENCE_TRIES):
        report = report_from_draft(draft, new_reference(), now)
        items = [
            queued(
                desk.sealer,
                f"report:{report.ref}:{m.user_id}",
                case_text(report, routine, langs[m.user_id]),
                case_buttons(report, langs[m.user_id]),
                chat_id=m.user_id,
                urgent=True,
            )
            for m in coordinators
        ]
        receipt = None
        if update_id is not None:
            receipt = (update_id, desk.sealer.seal(report.ref.encode()))
        lang_sealed = desk.sealer.seal(lang.encode()) if lang is not None else None
        try:
            stored = await desk.db.submit_report(
                report, link, items, user_id, now, receipt=receipt, lang_sealed=lang_sealed
            )
        except DuplicateReference:
            continue
        break
    else:  # pragma: no cover - 8 collisions in 7e8 values
        raise RuntimeError("could not find a free report reference")
    activity.count("reports")  # counted, not logged: a line per report dates it to the second
    return stored


async def receipt(desk: Desk, routine: Routine, report: Report, lang: str) -> Html:
    """What the reporter is told after sending (`texts.receipt_text`), promised only for the
    receiving contacts that have a coordinator registered now."""
    now = desk.clock()
    registered = {
        m.contact_id for m in await receiving_coordinators(desk.db, routine) if m.contact_id
    }
    return receipt_text(expectation(routine, registered, now), routine, report, now, lang)


# --- coordinator actions -------------------------------------------------------------------


def contact_name(routine: Routine, member: Member | None, lang: str) -> str:
    """The role a coordinator acts as (their routine contact's name), never the person."""
    contact = routine.contacts.get((member.contact_id if member else None) or "")
    return contact.name.get(lang) if contact else ""


async def acknowledge(
    desk: Desk, routine: Routine, report: Report, user_id: int, member: Member | None, lang: str
) -> bool:
    """Acknowledge a NEW report as the coordinator's contact; False if it was not NEW any more.

    The others and the reporter are told in the transaction that stores the acknowledgement:
    neither a crash nor an answer that fails (Telegram away) can leave them untold.
    """
    ref = report.ref
    notices = await coordinator_items(
        desk,
        routine,
        report,
        "case.acked_by",
        f"ack:{ref}",
        skip=user_id,
        contact=contact_name(routine, member, lang),
    )
    if await is_linked(desk.db, report):
        their_lang = await reporter_lang(desk, report, routine)
        notices.append(
            reporter_item(desk, report, their_lang, "relay.acknowledged", f"ack-reporter:{ref}")
        )
    contact_id = (member.contact_id if member else None) or ""
    return await desk.db.acknowledge(ref, contact_id, desk.clock(), notices)


async def close(
    desk: Desk,
    routine: Routine,
    report: Report,
    user_id: int,
    member: Member | None,
    lang: str,
    last_word: str | None,
) -> bool:
    """Close `report`; False if it was closed already. The reporter gets a closing message
    (with the coordinator's last word, if any), the other coordinators are told, then the link
    to the reporter is released: all in one transaction."""
    ref = report.ref
    closing = []
    if await is_linked(desk.db, report):
        their_lang = await reporter_lang(desk, report, routine)
        if last_word:
            item = reporter_item(
                desk,
                report,
                their_lang,
                "relay.closed_with_word",
                f"close-reporter:{ref}",
                text=last_word[:LAST_WORD_LIMIT],
            )
        else:
            item = reporter_item(desk, report, their_lang, "relay.closed", f"close-reporter:{ref}")
        closing.append(item)
    closing += await coordinator_items(
        desk,
        routine,
        report,
        "case.closed_by",
        f"close:{ref}",
        skip=user_id,
        contact=contact_name(routine, member, lang),
    )
    return await desk.db.close_report(ref, desk.clock(), closing)


async def ask_reply(desk: Desk, user_id: int, report: Report) -> bool:
    """The coordinator pressed Svara: their next text goes to the reporter. False when the
    reporter did not ask to be contacted or cannot be reached any more."""
    if not report.contact_me or not await is_linked(desk.db, report):
        return False
    await desk.db.set_pending(coordinator_key(user_id), "reply", report.id, desk.clock())
    return True


async def ask_last_word(desk: Desk, user_id: int, report: Report) -> bool:
    """The coordinator closes with a last word: their next text. False when nobody would read
    it (no link), and the report should be closed at once."""
    if not await is_linked(desk.db, report):
        return False
    await desk.db.set_pending(coordinator_key(user_id), "close", report.id, desk.clock())
    return True


# --- the reporter's side of the relay ------------------------------------------------------


async def own_linked_report(desk: Desk, user_id: int, ref: str) -> Report | None:
    """The report behind a reporter's relay button, if its link is theirs."""
    report = await desk.db.get_report(ref)
    link = await desk.db.link_of(report.id) if report else None
    if report is None or link is None or link[0] != desk.sealer.owner_tag(user_id):
        return None
    return report


async def ask_answer(desk: Desk, user_id: int, report: Report) -> None:
    """The reporter pressed Svara: their next text is an answer (shown back before it goes)."""
    await desk.db.set_pending(reporter_key(desk.sealer, user_id), "answer", report.id, desk.clock())


async def ask_addition(desk: Desk, user_id: int, report: Report) -> None:
    """/mina, Lägg till: the reporter's next text is added to the report's description."""
    await desk.db.set_pending(reporter_key(desk.sealer, user_id), "add", report.id, desk.clock())


async def own_reports(desk: Desk, user_id: int) -> list[Report]:
    """/mina: the reports the user sent that still have their contact link."""
    return await desk.db.reports_of_owner(desk.sealer.owner_tag(user_id))


async def delete(desk: Desk, report: Report) -> None:
    """The reporter deletes their report: with its link, pending inputs and queued messages."""
    await desk.db.delete_report(report.id)
    activity.count("deleted_reports")


async def readers_line(db: Database, routine: Routine, report: Report, lang: str) -> str:
    """Who reads what the reporter shares: the receiving contacts by role, with how many."""
    counts: dict[str, int] = {}
    for m in await receiving_coordinators(db, routine, report):
        counts[m.contact_id or ""] = counts.get(m.contact_id or "", 0) + 1
    parts = [
        t("access.role_count", lang, role=routine.contacts[cid].name.get(lang), count=n)
        for cid, n in counts.items()
        if cid in routine.contacts
    ]
    return ", ".join(parts) or t("access.nobody_yet", lang)


async def share_identity(desk: Desk, routine: Routine, report: Report, who: Html) -> None:
    """The reporter confirmed: `who` (as the channel names them) goes to the coordinators."""
    await desk.db.set_shared(report.id)
    await tell_coordinators(desk, routine, report, "relay.identity", f"share:{report.ref}", who=who)


async def stage_answer(desk: Desk, key: str, report: Report, text: str) -> str:
    """Anonymise the reporter's answer and keep it sealed until they press Send; returns the
    redacted text to show them."""
    redacted = anonymise(text[:RELAY_LIMIT]).text
    sealed = desk.sealer.seal(redacted.encode("utf-8"))
    await desk.db.stage_pending(key, STAGED, report.id, sealed, desk.clock())
    return redacted


async def relay_staged(
    desk: Desk, routine: Routine, report: Report, user_id: int, lang: str, stamp: str
) -> bool:
    """The reporter pressed Send: their staged answer goes to the coordinators, with the case's
    buttons, and "sent" to them, in the transaction that takes it from the staging row, so a
    crash can neither lose it nor send it twice. `stamp` names this press (the update id: the
    press handled again from the inbox makes the same dedupe keys). False if nothing of this
    report was staged (sent already, or dropped)."""
    key = reporter_key(desk.sealer, user_id)
    staged = await desk.db.staged(key, STAGED)
    if staged is None or staged[0] != report.id:
        return False
    answer = desk.sealer.unseal(staged[1]).decode("utf-8")
    items = await coordinator_items(
        desk,
        routine,
        report,
        "relay.from_reporter",
        f"relay-r:{report.ref}:{stamp}",
        with_buttons=True,
        text=answer,
    )
    items.append(
        reporter_item(desk, report, lang, "relay.sent", f"relay-sent:{report.ref}:{stamp}")
    )
    return await desk.db.consume_pending(key, items, desk.clock())


async def drop_staged(desk: Desk, user_id: int) -> None:
    await desk.db.take_staged(reporter_key(desk.sealer, user_id), STAGED)


# --- a text that was asked for -------------------------------------------------------------


class Taken(enum.Enum):
    """What became of a text the user was asked to write."""

    NOTHING = "nothing"  # nothing was asked: the text is not for the workflow
    NOT_FOUND = "not_found"  # the report or its link is gone
    ACCESS_LOST = "access_lost"  # the coordinator may not act on the report any more
    STAGED = "staged"  # the reporter's answer is shown back (`text` is the redacted form)
    RELAYED = "relayed"  # the coordinator's reply is queued to the reporter
    CLOSE = "close"  # the coordinator's last word: the caller closes with `text`
    ADDED = "added"  # the reporter's addition (`text`, redacted) is stored and queued
    DROPPED = "dropped"  # an input of an unknown kind (an older version's): cleared, no answer


@dataclass(frozen=True)
class TextTaken:
    what: Taken
    report: Report | None = None
    routine: Routine | None = None
    text: str = ""


async def take_text(
    desk: Desk, user_id: int, member: Member | None, text: str, lang: str, stamp: str
) -> TextTaken:
    """If the user was asked to write a reply, answer, last word or addition, take `text`.

    A reply or an addition is queued together with its "sent" (in `lang`, to the writer) in
    the transaction that takes the input: a crash leaves neither a text relayed unconfirmed nor
    one confirmed unrelayed. `stamp` names this text (the update id), so the same text handled
    again from the inbox after a crash makes the same dedupe keys.

    Access is checked again here, when the text arrives: a coordinator who lost access after
    pressing Svara (revoked, rebound, or their contact no longer receives the report) sends
    nothing, and a reporter whose link is gone reaches no one.
    """
    db = desk.db
    tag = desk.sealer.owner_tag(user_id)
    pending = await db.first_pending(pending_keys(desk.sealer, user_id))
    if pending is None:
        return TextTaken(Taken.NOTHING)
    key, action, report_id = pending
    report = await db.get_report_by_id(report_id)
    routine = desk.registry.get(report.org_id) if report else None
    if report is None or routine is None:
        await db.clear_pending(key)
        return TextTaken(Taken.NOT_FOUND)
    if action in ("reply", "close") and not may_act(member, report, routine):
        await db.clear_pending(key)
        log.warning("a coordinator's text on a report of %s was refused: no access", routine.id)
        return TextTaken(Taken.ACCESS_LOST, report, routine)
    if key.startswith("r:"):
        link = await db.link_of(report.id)
        if link is None or link[0] != tag:
            await db.clear_pending(key)
            return TextTaken(Taken.NOT_FOUND)
        if action in ("answer", STAGED):
            redacted = await stage_answer(desk, key, report, text)
            return TextTaken(Taken.STAGED, report, routine, redacted)
    if action == "close":
        await db.clear_pending(key)
        return TextTaken(Taken.CLOSE, report, routine, text[:LAST_WORD_LIMIT])
    if action == "reply":
        items = await relay_items(desk, routine, report, text, stamp)
        sent = t("relay.sent", lang, ref=report.ref)
        items.append(
            queued(
                desk.sealer,
                f"relay-sent:{report.ref}:{stamp}",
                sent,
                None,
                chat_id=user_id,
                report_id=report.id,
                urgent=True,
            )
        )
        await db.consume_pending(key, items, desk.clock())
        return TextTaken(Taken.RELAYED, report, routine)
    if action == "add":
        redacted = anonymise(text[:ADDITION_LIMIT]).text
        await db.append_description(report.ref, redacted, DESCRIPTION_MAX)
        items = await coordinator_items(
            desk, routine, report, "relay.added", f"add:{report.ref}:{stamp}", text=redacted
        )
        dedupe = f"add-sent:{report.ref}:{stamp}"
        items.append(reporter_item(desk, report, lang, "mine.added", dedupe, text=redacted))
        await db.consume_pending(key, items, desk.clock())
        return TextTaken(Taken.ADDED, report, routine, redacted)
    await db.clear_pending(key)
    return TextTaken(Taken.DROPPED, report, routine)


async def relay_items(
    desk: Desk, routine: Routine, report: Report, text: str, stamp: str
) -> list[OutboxItem]:
    """A coordinator's reply to the reporter, in their language, with the buttons to answer or
    share who they are; none if the link is gone. The coordinator writes as an official of the
    organisation: their text goes as is."""
    if not await is_linked(desk.db, report):
        return []
    lang = await reporter_lang(desk, report, routine)
    return [
        reporter_item(
            desk,
            report,
            lang,
            "relay.from_coordinator",
            f"relay-c:{report.ref}:{stamp}",
            reporter_buttons(report, lang),
            text=text[:RELAY_LIMIT],
        )
    ]
