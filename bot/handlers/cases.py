"""What coordinators receive and do with reports, and the anonymous relay between the two sides.

Every message to a coordinator or a reporter goes through the outbox, so a Bot API outage
delays it but never loses it. A coordinator acts only on the reports their contact receives
(`bot.reports.access.may_act`, judged against the routine loaded now, on every action and again
when a reply they started arrives); anything else, a reference of another organisation, or
callback data the bot did not make, is refused. Case, relay and report buttons work only in a
private chat, so a forged button in a group cannot post case text there.
"""

from __future__ import annotations

import html
import logging
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from telegram import Message, Update
from telegram.error import BadRequest

from bot import activity
from bot.context import Services, TryggContext
from bot.crypto import SealError
from bot.fragments import phone_link
from bot.handlers import callbacks
from bot.handlers.common import Profile, is_private, markup, profile, reply
from bot.handlers.report_text import report_line, summary_lines
from bot.i18n import DEFAULT_LANGUAGE, LANGUAGES, Html, t
from bot.outbox import message
from bot.reports.access import expectation, may_act, receiving_contact_ids
from bot.reports.anonymise import anonymise
from bot.reports.model import Draft, Report, State, new_reference, report_from_draft
from bot.routines.models import Duration, Routine
from bot.storage import DuplicateReference, Membership, OutboxItem

log = logging.getLogger(__name__)

_REFERENCE_TRIES = 8


# --- who receives --------------------------------------------------------------------------


async def receiving_coordinators(
    services: Services, routine: Routine, report: Report | None = None
) -> list[Membership]:
    """Coordinators bound to a contact that receives `report` (a new report when None): the
    `receives_reports` contacts, and the `escalate_to` contacts once it is escalated."""
    wanted = receiving_contact_ids(routine, report)
    found: list[Membership] = []
    for contact_id in (c for c in routine.contacts if c in wanted):
        found += await services.db.coordinators_for_contact(routine.id, contact_id)
    return found


async def refuse_outside_private(update: Update, context: TryggContext) -> bool:
    """Case, relay, /mina and report buttons act only in a private chat: True (and a short
    answer, with nothing of the case) when this one came from a group or channel."""
    if is_private(update):
        return False
    p = await profile(update, context)
    log.warning("a case or report button was pressed outside a private chat; refused")
    await reply(update, t("access.private_only", p.lang))
    return True


async def _lang_of(services: Services, user_id: int, routine: Routine | None) -> str:
    user = await services.db.get_user(user_id)
    if user is not None and user.lang_chosen and user.lang:
        return user.lang
    return routine.organisation.default_language if routine else DEFAULT_LANGUAGE


def _button(text: str, data: str) -> dict[str, str]:
    return {"text": text, "callback_data": data}


# --- the case message ----------------------------------------------------------------------


def _when(moment: datetime, routine: Routine) -> str:
    """The day, short enough for a phone: `2/12`. Storage keeps when a report was acknowledged
    or closed only as its day (a time could help date the report to a person), so no hour."""
    return f"{moment.day}/{moment.month}"


def case_state(report: Report, routine: Routine, lang: str) -> Html:
    """The report's status: acknowledged by whom (a contact's role, never a person) and when."""
    if report.state == State.ACKNOWLEDGED and report.acknowledged_at is not None:
        contact = routine.contacts.get(report.acknowledged_by or "")
        who = contact.name.get(lang) if contact else t("case.someone", lang)
        when = _when(report.acknowledged_at, routine)
        return t("case.state.acknowledged_by", lang, contact=who, when=when)
    if report.state == State.CLOSED and report.closed_at is not None:
        return t("case.state.closed_at", lang, when=_when(report.closed_at, routine))
    return t(f"case.state.{report.state.value}", lang)


def case_text(report: Report, routine: Routine, lang: str, headline_key: str = "case.new") -> Html:
    """A report as a coordinator reads it: codes as labels, the redacted description, and its
    status as it is now (the headline says "new" only while it is)."""
    values: dict[str, object] = {
        "type": report.type,
        "channel": report.channel,
        "month": report.month_code or report.month,
        "repeated": report.repeated_answer(),
        "perpetrator": report.perpetrator,
        "police": report.police,
        "gender": report.gender,
        "description": report.description,
        "contact_me": "ja" if report.contact_me else "nej",
    }
    lines = summary_lines(values, list(report.impacts), lang)
    if headline_key == "case.new" and report.state != State.NEW:
        headline_key = "case.report"
    head = t(headline_key, lang, ref=report.ref, organisation=routine.organisation.name)
    state = case_state(report, routine, lang)
    return Html(head + "\n" + "\n".join(lines) + "\n" + t("case.state_line", lang, state=state))


def case_buttons(report: Report, lang: str) -> list[list[dict[str, str]]]:
    row = []
    if report.state == State.NEW:
        row.append(_button(t("button.ack", lang), callbacks.case(f"ack.{report.ref}")))
    if report.contact_me and report.state != State.CLOSED:
        row.append(_button(t("button.reply", lang), callbacks.case(f"reply.{report.ref}")))
    if report.state != State.CLOSED:
        row.append(_button(t("button.close", lang), callbacks.case(f"close.{report.ref}")))
    return [row] if row else []


def _status_marks() -> tuple[str, ...]:
    """The status line's label in every language, as it reads once Telegram drops the tags."""
    marks = (re.sub(r"<[^>]+>", "", t("case.state_line", lang, state="")) for lang in LANGUAGES)
    return tuple(html.unescape(mark).strip() for mark in marks)


async def _refresh_case_message(
    update: Update, context: TryggContext, routine: Routine, ref: str, lang: str
) -> None:
    """Show the report's status as it is now on the case message whose button was pressed.

    Only a case message is rewritten: the same buttons also sit under relayed messages, whose
    text must stay. The outbox keeps no message ids, so the other coordinators' copies are not
    edited; they are told in a message, and their old buttons answer with the status.
    """
    query = update.callback_query
    message = query.message if query is not None else None
    if query is None or not isinstance(message, Message):
        return
    shown = message.text or ""
    if ref not in shown or not any(mark in shown for mark in _status_marks()):
        return
    report = await context.services.db.get_report(ref)
    if report is None:
        return
    try:
        await query.edit_message_text(
            case_text(report, routine, lang), reply_markup=markup(case_buttons(report, lang))
        )
    except BadRequest as error:  # "not modified": it shows the status already
        log.info("could not update a case message (%s)", type(error).__name__)


def _close_confirm_buttons(report: Report, lang: str, linked: bool) -> list[list[dict[str, str]]]:
    first = []
    if linked:
        first.append(_button(t("button.close_word", lang), callbacks.case(f"closew.{report.ref}")))
    first.append(_button(t("button.close_now", lang), callbacks.case(f"closeok.{report.ref}")))
    return [first, [_button(t("button.close_keep", lang), callbacks.case(f"closeno.{report.ref}"))]]


# --- submitting ----------------------------------------------------------------------------


async def submit(
    context: TryggContext,
    routine: Routine,
    draft: Draft,
    user_id: int,
    chat_id: int,
    lang: str | None = None,
    update_id: int | None = None,
) -> Report:
    """Store the report and queue it to every receiving coordinator, in one transaction.

    A reporter who asked to be contacted has their language `lang` kept (sealed) with the link,
    so follow-ups and relays reach them in it. With `update_id`, the reference is kept (sealed)
    while that update is in the inbox, so handling it again after a crash shows it again."""
    services = context.services
    now = services.clock()
    link = None
    if draft.values.get("contact_me") == "ja":
        link = (services.sealer.owner_tag(user_id), services.sealer.seal_chat(chat_id))
    coordinators = await receiving_coordinators(services, routine)
    if not coordinators:
        log.warning(
            "report for %s kept, but no coordinator is registered to receive it", routine.id
        )
    languages = {m.user_id: await _lang_of(services, m.user_id, routine) for m in coordinators}
    for _ in range(_REFERENCE_TRIES):
        report = report_from_draft(draft, new_reference(), now)
        items = [
            message(
                services.sealer,
                f"report:{report.ref}:{m.user_id}",
                case_text(report, routine, languages[m.user_id]),
                case_buttons(report, languages[m.user_id]),
                chat_id=m.user_id,
                urgent=True,
            )
            for m in coordinators
        ]
        receipt = None
        if update_id is not None:
            receipt = (update_id, services.sealer.seal(report.ref.encode()))
        lang_sealed = services.sealer.seal(lang.encode()) if lang is not None else None
        try:
            stored = await services.db.submit_report(
                report, link, items, user_id, now, receipt=receipt, lang_sealed=lang_sealed
            )
        except DuplicateReference:
            continue
        break
    else:  # pragma: no cover - 8 collisions in 7e8 values
        raise RuntimeError("could not find a free report reference")
    activity.count("reports")  # counted, not logged: a line per report dates it to the second
    await services.outbox.kick(context.application)
    return stored


# --- the receipt ---------------------------------------------------------------------------

_WEEKDAYS = {
    "sv": ("mån", "tis", "ons", "tors", "fre", "lör", "sön"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}


def _moment_text(moment: datetime, now: datetime, timezone: str, lang: str) -> str:
    """`mån 08:00`, or with the date when it is more than six days away."""
    local, today = moment.astimezone(ZoneInfo(timezone)), now.astimezone(ZoneInfo(timezone))
    day = _WEEKDAYS.get(lang, _WEEKDAYS["sv"])[local.weekday()]
    if (local.date() - today.date()).days > 6:
        return f"{day} {local:%Y-%m-%d %H:%M}"
    return f"{day} {local:%H:%M}"


def duration_text(duration: Duration, lang: str) -> str:
    """`24 h`, `2 dygn`, `30 min`: a routine duration as a reporter reads it."""
    return t(f"receipt.unit.{duration.unit}", lang, n=duration.amount)


async def receipt(context: TryggContext, routine: Routine, report: Report, lang: str) -> Html:
    """What the reporter is told after sending: who receives it (or, honestly, that nobody is
    registered to yet and the report is kept), when it will be read and acknowledged, and whom
    to call now if it cannot wait."""
    services = context.services
    now = services.clock()
    registered = {
        m.contact_id for m in await receiving_coordinators(services, routine) if m.contact_id
    }
    promise = expectation(routine, registered, now)
    tz = routine.organisation.timezone
    within = duration_text(promise.ack_within, lang)
    lines: list[str] = []
    if promise.received:
        readers = ", ".join(c.name.get(lang) for c in promise.readers)
        lines.append(t("receipt.sent", lang, ref=report.ref, readers=readers))
        if promise.readable_now:
            lines.append(t("receipt.read_now", lang, within=within))
        elif promise.read_from is not None:
            when = _moment_text(promise.read_from, now, tz, lang)
            lines.append(t("receipt.read_from", lang, when=when, within=within))
        else:
            lines.append(t("receipt.ack_within", lang, within=within))
    else:
        lines.append(t("receipt.kept", lang, ref=report.ref))
    if promise.call_now is not None:
        contact = promise.call_now
        lines.append(
            t("receipt.call_now", lang, contact=contact.name.get(lang), phone=phone_link(contact))
        )
    lines.append(t("receipt.emergency", lang))
    lines.append(t("receipt.next", lang))
    return Html("\n".join(lines))


# --- coordinator actions -------------------------------------------------------------------


async def _coordinator_report(
    update: Update, context: TryggContext, ref: str
) -> tuple[Profile, Routine, Report] | None:
    """The report behind a coordinator's button, if their contact receives it (now)."""
    if await refuse_outside_private(update, context):
        return None
    p = await profile(update, context)
    if not p.is_coordinator or p.routine is None:
        await reply(update, t("coordinator.only", p.lang))
        return None
    report = await context.services.db.get_report(ref)
    if report is None or not may_act(p.membership, report, p.routine):
        if report is not None and report.org_id != p.routine.id:
            log.warning("a coordinator of %s tried a report of another organisation", p.routine.id)
        elif report is not None:
            log.warning("a coordinator of %s was refused a report it does not get", p.routine.id)
        await reply(update, t("case.not_found", p.lang))
        return None
    return p, p.routine, report


async def _tell_coordinators(
    context: TryggContext,
    routine: Routine,
    report: Report,
    key: str,
    dedupe: str,
    *,
    skip: int | None = None,
    with_buttons: bool = False,
    **values: Any,
) -> None:
    """Queue a message about `report` to the organisation's receiving coordinators."""
    services = context.services
    items = await _coordinator_items(
        context, routine, report, key, dedupe, skip=skip, with_buttons=with_buttons, **values
    )
    await services.db.enqueue(items, services.clock())


async def _coordinator_items(
    context: TryggContext,
    routine: Routine,
    report: Report,
    key: str,
    dedupe: str,
    *,
    skip: int | None = None,
    with_buttons: bool = False,
    **values: Any,
) -> list[OutboxItem]:
    """The messages of `_tell_coordinators`, to queue together with a change of the report."""
    services = context.services
    items = []
    for m in await receiving_coordinators(services, routine, report):
        if m.user_id == skip:
            continue
        lang = await _lang_of(services, m.user_id, routine)
        text = t(key, lang, ref=report.ref, **values)
        buttons = case_buttons(report, lang) if with_buttons else None
        items.append(
            message(
                services.sealer,
                f"{dedupe}:{m.user_id}",
                text,
                buttons,
                chat_id=m.user_id,
                report_id=report.id,  # forgetting the report forgets what is queued about it
                urgent=True,
            )
        )
    return items


async def _tell_reporter(
    context: TryggContext,
    report: Report,
    lang: str,
    key: str,
    dedupe: str,
    buttons: list[list[dict[str, str]]] | None = None,
    **values: Any,
) -> None:
    """Queue a message to the reporter, through the sealed link; nothing if there is none."""
    services = context.services
    if await services.db.link_of(report.id) is None:
        return
    item = _to_reporter(services, report, lang, key, dedupe, buttons, **values)
    await services.db.enqueue([item], services.clock())


async def reporter_lang(services: Services, report: Report, routine: Routine) -> str:
    """The reporter's own language, kept with the link; the organisation's default without."""
    default = routine.organisation.default_language
    sealed = await services.db.link_language(report.id)
    if sealed is None:
        return default
    try:
        lang = services.sealer.unseal(sealed).decode()
    except (SealError, UnicodeDecodeError):
        return default
    return lang if lang in LANGUAGES else default


def _to_reporter(
    services: Services,
    report: Report,
    lang: str,
    key: str,
    dedupe: str,
    buttons: list[list[dict[str, str]]] | None = None,
    **values: Any,
) -> OutboxItem:
    text = t(key, lang, ref=report.ref, **values)
    return message(
        services.sealer, dedupe, text, buttons, to_reporter=True, report_id=report.id, urgent=True
    )


def _reporter_buttons(report: Report, lang: str) -> list[list[dict[str, str]]]:
    return [
        [
            _button(t("button.answer", lang), callbacks.relay(f"answer.{report.ref}")),
            _button(t("button.share_identity", lang), callbacks.relay(f"share.{report.ref}")),
        ]
    ]


async def case_button(update: Update, context: TryggContext, arg: str) -> None:
    """A coordinator's button under a report: ack, reply, close (closeok, closew, closeno once
    asked) or show, then `.<ref>`. A button that no longer fits says what the status is."""
    verb, _, ref = arg.partition(".")
    found = await _coordinator_report(update, context, ref)
    if found is None:
        return
    p, routine, report = found
    services = context.services
    now = services.clock()
    contact_id = (p.membership.contact_id if p.membership else None) or ""
    contact = routine.contacts.get(contact_id)
    contact_name = contact.name.get(p.lang) if contact else ""
    stale = report.state == State.CLOSED or (verb == "ack" and report.state != State.NEW)
    if verb in ("ack", "close", "closeok", "closew", "closeno", "reply") and stale:
        key = "case.closed_no_reply" if verb == "reply" else "case.already_state"
        await reply(update, t(key, p.lang, ref=ref, state=case_state(report, routine, p.lang)))
        await _refresh_case_message(update, context, routine, ref, p.lang)
        return
    if verb == "show":
        await reply(
            update, case_text(report, routine, p.lang), markup(case_buttons(report, p.lang))
        )
    elif verb == "ack":
        # The others and the reporter are told in the transaction that stores the
        # acknowledgement: neither a crash nor an answer that fails (Telegram away) can leave
        # them untold.
        notices = await _coordinator_items(
            context,
            routine,
            report,
            "case.acked_by",
            f"ack:{ref}",
            skip=p.user_id,
            contact=contact_name,
        )
        if await services.db.link_of(report.id) is not None:
            lang = await reporter_lang(services, report, routine)
            notices.append(
                _to_reporter(services, report, lang, "relay.acknowledged", f"ack-reporter:{ref}")
            )
        if not await services.db.acknowledge(ref, contact_id, now, notices):
            await reply(update, t("case.already", p.lang, ref=ref))
            await _refresh_case_message(update, context, routine, ref, p.lang)
            return
        await _refresh_case_message(update, context, routine, ref, p.lang)
        await reply(update, t("case.acked", p.lang, ref=ref))
    elif verb == "close":
        # Closing ends the follow-up for good: asked first, with room for a last word.
        linked = await services.db.link_of(report.id) is not None
        key = "case.close_confirm" if linked else "case.close_confirm_no_link"
        await reply(
            update,
            t(key, p.lang, ref=ref),
            markup(_close_confirm_buttons(report, p.lang, linked)),
        )
        return
    elif verb == "closeok":
        await close_case(update, context, p, routine, report, None)
    elif verb == "closew":
        if await services.db.link_of(report.id) is None:
            await close_case(update, context, p, routine, report, None)
            return
        await services.db.set_pending(f"c:{p.user_id}", "close", report.id, now)
        await reply(update, t("case.write_last_word", p.lang, ref=ref))
    elif verb == "closeno":
        await reply(update, t("case.close_kept", p.lang, ref=ref))
    elif verb == "reply":
        if not report.contact_me or await services.db.link_of(report.id) is None:
            await reply(update, t("case.no_contact", p.lang, ref=ref))
            return
        await services.db.set_pending(f"c:{p.user_id}", "reply", report.id, now)
        await reply(update, t("case.write_reply", p.lang, ref=ref))
    else:
        await reply(update, t("callback.outdated", p.lang))
        return
    await services.outbox.kick(context.application)


async def tell_waiting(
    update: Update, context: TryggContext, membership: Membership, routine: Routine, lang: str
) -> None:
    """A coordinator who just joined: the open reports their contact receives, if any, which
    were kept (and the reporters told so) while nobody was registered."""
    if membership.role != "coordinator":
        return
    waiting = [
        r
        for r in await context.services.db.open_reports(routine.id)
        if may_act(membership, r, routine)
    ]
    if waiting:
        await reply(update, t("access.waiting", lang, count=len(waiting)))


async def close_case(
    update: Update,
    context: TryggContext,
    p: Profile,
    routine: Routine,
    report: Report,
    last_word: str | None,
) -> None:
    """Close `report`: the reporter gets a closing message (with the coordinator's last word,
    if any), the other coordinators are told, then the link to the reporter is released."""
    services = context.services
    ref = report.ref
    contact_id = (p.membership.contact_id if p.membership else None) or ""
    contact = routine.contacts.get(contact_id)
    contact_name = contact.name.get(p.lang) if contact else ""
    closing = []
    if await services.db.link_of(report.id) is not None:
        lang = await reporter_lang(services, report, routine)
        if last_word:
            item = _to_reporter(
                services,
                report,
                lang,
                "relay.closed_with_word",
                f"close-reporter:{ref}",
                text=last_word,
            )
        else:
            item = _to_reporter(services, report, lang, "relay.closed", f"close-reporter:{ref}")
        closing.append(item)
    closing += await _coordinator_items(
        context,
        routine,
        report,
        "case.closed_by",
        f"close:{ref}",
        skip=p.user_id,
        contact=contact_name,
    )
    if not await services.db.close_report(ref, services.clock(), closing):
        await reply(update, t("case.already", p.lang, ref=ref))
        return
    await reply(update, t("case.closed", p.lang, ref=ref))
    await services.outbox.kick(context.application)


async def cases_command(update: Update, context: TryggContext) -> None:
    """/arenden: the organisation's open reports, newest first."""
    p = await profile(update, context)
    if not p.is_coordinator or p.routine is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    routine = p.routine
    reports = [
        r
        for r in await context.services.db.open_reports(routine.id)
        if may_act(p.membership, r, routine)
    ]
    if not reports:
        await reply(update, t("case.none_open", p.lang))
        return
    lines: list[str] = [t("case.list_head", p.lang, count=len(reports))]
    buttons = []
    for report in reports[:30]:
        lines.append(report_line(report, p.lang))
        buttons.append(
            [{"text": report.ref, "callback_data": callbacks.case(f"show.{report.ref}")}]
        )
    await reply(update, "\n".join(lines), markup(buttons))


# --- the relay -----------------------------------------------------------------------------

# A reporter's answer waits here, anonymised and sealed, until they press Send: they see first
# what the coordinator will receive, as with the description of a report.
_STAGED = "answer_ready"
RELAY_LIMIT = 3000


async def _own_linked_report(
    update: Update, context: TryggContext, ref: str
) -> tuple[Profile, Report, str] | None:
    """The report behind a reporter's relay button, if its link is theirs."""
    if await refuse_outside_private(update, context):
        return None
    p = await profile(update, context)
    services = context.services
    report = await services.db.get_report(ref)
    link = await services.db.link_of(report.id) if report else None
    tag = services.sealer.owner_tag(p.user_id)
    if report is None or link is None or link[0] != tag:
        await reply(update, t("case.not_found", p.lang))
        return None
    return p, report, tag


def _confirm_buttons(lang: str, ref: str, yes_key: str, yes: str, no: str) -> Any:
    """Cancel first: the safe choice is the one a thumb finds without reading."""
    return markup(
        [
            [
                _button(t("button.cancel", lang), callbacks.relay(f"{no}.{ref}")),
                _button(t(yes_key, lang), callbacks.relay(f"{yes}.{ref}")),
            ]
        ]
    )


async def _readers_line(services: Services, routine: Routine, report: Report, lang: str) -> str:
    """Who reads what the reporter shares: the receiving contacts by role, with how many."""
    counts: dict[str, int] = {}
    for m in await receiving_coordinators(services, routine, report):
        counts[m.contact_id or ""] = counts.get(m.contact_id or "", 0) + 1
    parts = [
        t("access.role_count", lang, role=routine.contacts[cid].name.get(lang), count=n)
        for cid, n in counts.items()
        if cid in routine.contacts
    ]
    return ", ".join(parts) or t("access.nobody_yet", lang)


async def relay_button(update: Update, context: TryggContext, arg: str) -> None:
    """The reporter's buttons under a coordinator's message: answer, or share who they are
    (after a confirmation that says what is shared and with whom; Cancel comes first)."""
    verb, _, ref = arg.partition(".")
    found = await _own_linked_report(update, context, ref)
    if found is None:
        return
    p, report, tag = found
    services = context.services
    routine = services.registry.get(report.org_id)
    now = services.clock()
    user = update.effective_user
    assert user is not None
    if verb == "answer":
        await services.db.set_pending("r:" + tag, "answer", report.id, now)
        await reply(update, t("relay.write_answer", p.lang, ref=ref))
    elif verb == "share" and routine is not None:
        shared = [t("access.share_name", p.lang, name=user.full_name)]
        if user.username:
            shared.append(t("access.share_username", p.lang, username=user.username))
        readers = await _readers_line(services, routine, report, p.lang)
        text = t(
            "access.share_confirm",
            p.lang,
            ref=ref,
            what=Html("\n".join(shared)),
            readers=readers,
            organisation=routine.organisation.name,
        )
        buttons = _confirm_buttons(p.lang, ref, "button.share_yes", "shareyes", "sharenot")
        await reply(update, text, buttons)
    elif verb == "shareyes" and routine is not None:
        await services.db.set_shared(report.id)
        name = html.escape(user.full_name, quote=False)
        who = f'<a href="tg://user?id={user.id}">{name}</a>'
        if user.username:
            who += f" @{html.escape(user.username, quote=False)}"
        await _tell_coordinators(
            context, routine, report, "relay.identity", f"share:{ref}", who=Html(who)
        )
        await reply(update, t("relay.identity_shared", p.lang, ref=ref))
        await services.outbox.kick(context.application)
    elif verb == "sharenot":
        await reply(update, t("access.share_cancelled", p.lang, ref=ref))
    elif verb == "send" and routine is not None:
        staged = await services.db.staged("r:" + tag, _STAGED)
        if staged is None or staged[0] != report.id:
            await reply(update, t("access.nothing_staged", p.lang, ref=ref))
            return
        answer = services.sealer.unseal(staged[1]).decode("utf-8")
        # The update id, not the time: pressed again from the inbox after a crash, the same
        # answer gets the same dedupe keys. The answer, its "sent" and taking it from the
        # staging row are one transaction: a crash cannot lose it nor send it twice.
        stamp = str(update.update_id)
        items = await _coordinator_items(
            context,
            routine,
            report,
            "relay.from_reporter",
            f"relay-r:{report.ref}:{stamp}",
            with_buttons=True,
            text=answer,
        )
        items.append(
            message(
                services.sealer,
                f"relay-sent:{report.ref}:{stamp}",
                t("relay.sent", p.lang, ref=ref),
                to_reporter=True,
                report_id=report.id,
                urgent=True,
            )
        )
        if not await services.db.consume_pending("r:" + tag, items, now):
            await reply(update, t("access.nothing_staged", p.lang, ref=ref))
            return
        await services.outbox.kick(context.application)
    elif verb == "drop":
        await services.db.take_staged("r:" + tag, _STAGED)
        await reply(update, t("access.answer_dropped", p.lang, ref=ref))
    else:
        await reply(update, t("callback.outdated", p.lang))


async def _stage_answer(
    update: Update, context: TryggContext, p: Profile, key: str, report: Report, text: str
) -> None:
    """Anonymise the reporter's answer and show it back; it is sent when they press Send."""
    services = context.services
    redacted = anonymise(text[:RELAY_LIMIT]).text
    sealed = services.sealer.seal(redacted.encode("utf-8"))
    await services.db.stage_pending(key, _STAGED, report.id, sealed, services.clock())
    buttons = _confirm_buttons(p.lang, report.ref, "button.send_answer", "send", "drop")
    shown = t("access.answer_shown", p.lang, ref=report.ref, text=redacted)
    await reply(update, shown, buttons)


async def pending_text(update: Update, context: TryggContext, p: Profile) -> bool:
    """If the user was asked to write a reply, answer or addition, take this text for it.

    Access is checked again here, when the text arrives: a coordinator who lost access after
    pressing Svara (revoked, rebound, or their contact no longer receives the report) sends
    nothing, and a reporter whose link is gone reaches no one.
    """
    services = context.services
    incoming = update.effective_message
    text = (incoming.text or "") if incoming else ""
    tag = services.sealer.owner_tag(p.user_id)
    keys = (f"c:{p.user_id}", "r:" + tag)
    pending = await services.db.first_pending(keys)
    if pending is None:
        return False
    key, action, report_id = pending
    report = await services.db.get_report_by_id(report_id)
    routine = services.registry.get(report.org_id) if report else None
    if report is None or routine is None:
        await services.db.clear_pending(key)
        await reply(update, t("case.not_found", p.lang))
        return True
    if action in ("reply", "close") and not may_act(p.membership, report, routine):
        await services.db.clear_pending(key)
        log.warning("a coordinator's text on a report of %s was refused: no access", routine.id)
        await reply(update, t("access.lost", p.lang, ref=report.ref))
        return True
    if key.startswith("r:"):
        link = await services.db.link_of(report.id)
        if link is None or link[0] != tag:
            await services.db.clear_pending(key)
            await reply(update, t("case.not_found", p.lang))
            return True
        if action in ("answer", _STAGED):
            await _stage_answer(update, context, p, key, report, text)
            return True
    if action == "close":
        await services.db.clear_pending(key)
        await close_case(update, context, p, routine, report, text[:1000])
        return True
    now = services.clock()
    # The update id, not the time: handled again from the inbox after a crash, the same text
    # gets the same dedupe keys.
    stamp = str(update.update_id)
    linked = await services.db.link_of(report.id) is not None
    items: list[OutboxItem] = []
    if action == "reply":
        # The coordinator writes as an official of the organisation: their text goes as is.
        if linked:
            lang = await reporter_lang(services, report, routine)
            items.append(
                _to_reporter(
                    services,
                    report,
                    lang,
                    "relay.from_coordinator",
                    f"relay-c:{report.ref}:{stamp}",
                    _reporter_buttons(report, lang),
                    text=text[:RELAY_LIMIT],
                )
            )
        confirmation = t("relay.sent", p.lang, ref=report.ref)
    else:  # add
        redacted = anonymise(text[:2000]).text
        await services.db.append_description(report.ref, redacted, 4000)
        items += await _coordinator_items(
            context, routine, report, "relay.added", f"add:{report.ref}:{stamp}", text=redacted
        )
        confirmation = t("mine.added", p.lang, ref=report.ref, text=redacted)
    # The confirmation goes with the relay, in the same transaction as taking the input: a
    # crash cannot leave the text relayed unconfirmed, nor confirmed unrelayed. A reporter's
    # goes through the sealed link (their chat id is kept nowhere in plain), else directly.
    confirm_direct = True
    if action == "reply" and update.effective_chat is not None:
        items.append(
            message(
                services.sealer,
                f"relay-sent:{report.ref}:{stamp}",
                confirmation,
                chat_id=update.effective_chat.id,
                urgent=True,
            )
        )
        confirm_direct = False
    elif linked:
        items.append(
            message(
                services.sealer,
                f"relay-sent:{report.ref}:{stamp}",
                confirmation,
                to_reporter=True,
                report_id=report.id,
                urgent=True,
            )
        )
        confirm_direct = False
    await services.db.consume_pending(key, items, now)
    if confirm_direct:
        await reply(update, confirmation)
    await services.outbox.kick(context.application)
    return True
