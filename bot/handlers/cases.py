"""What coordinators receive and do with reports, and the anonymous relay between the two sides.

Every message to a coordinator or a reporter goes through the outbox, so a Bot API outage
delays it but never loses it. A coordinator acts only on reports of their own organisation: a
reference of another organisation, or callback data the bot did not make, is refused.
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

from bot.context import Services, TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, markup, profile, reply
from bot.handlers.report_text import report_line, summary_lines
from bot.i18n import LANGUAGES, Html, t
from bot.outbox import message
from bot.reports.anonymise import anonymise
from bot.reports.model import Draft, Report, State, new_reference, report_from_draft
from bot.routines.models import Routine
from bot.storage.db import DuplicateReference, Membership, OutboxItem

log = logging.getLogger(__name__)

_REFERENCE_TRIES = 8


# --- who receives --------------------------------------------------------------------------


async def receiving_coordinators(services: Services, routine: Routine) -> list[Membership]:
    """Coordinators bound to a contact with `receives_reports` in the organisation's routine."""
    found: list[Membership] = []
    for contact in routine.receiving_contacts():
        found += await services.db.coordinators_for_contact(routine.id, contact.id)
    return found


async def _lang_of(services: Services, user_id: int, routine: Routine | None) -> str:
    user = await services.db.get_user(user_id)
    if user is not None and user.lang_chosen and user.lang:
        return user.lang
    return routine.organisation.default_language if routine else "sv"


def _button(text: str, data: str) -> dict[str, str]:
    return {"text": text, "callback_data": data}


# --- the case message ----------------------------------------------------------------------


def _when(moment: datetime, routine: Routine) -> str:
    """Day and time in the organisation's time zone, short enough for a phone: `2/12 14:05`."""
    local = moment.astimezone(ZoneInfo(routine.organisation.timezone))
    return f"{local.day}/{local.month} {local:%H:%M}"


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
    context: TryggContext, routine: Routine, draft: Draft, user_id: int, chat_id: int
) -> Report:
    """Store the report and queue it to every receiving coordinator, in one transaction."""
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
        try:
            stored = await services.db.submit_report(report, link, items, user_id, now)
        except DuplicateReference:
            continue
        break
    else:  # pragma: no cover - 8 collisions in 7e8 values
        raise RuntimeError("could not find a free report reference")
    log.info("report submitted for %s to %d coordinators", routine.id, len(coordinators))
    await services.outbox.kick(context.application)
    return stored


# --- coordinator actions -------------------------------------------------------------------


async def _coordinator_report(
    update: Update, context: TryggContext, ref: str
) -> tuple[Profile, Routine, Report] | None:
    """The report behind a coordinator's button, if it is of their organisation."""
    p = await profile(update, context)
    if not p.is_coordinator or p.routine is None:
        await reply(update, t("coordinator.only", p.lang))
        return None
    report = await context.services.db.get_report(ref)
    if report is None or report.org_id != p.routine.id:
        if report is not None:
            log.warning("a coordinator of %s tried a report of another organisation", p.routine.id)
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
    for m in await receiving_coordinators(services, routine):
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
            lang = routine.organisation.default_language
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
        lang = routine.organisation.default_language
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
    reports = await context.services.db.open_reports(p.routine.id)
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


async def relay_button(update: Update, context: TryggContext, arg: str) -> None:
    """The reporter's buttons under a coordinator's message: answer, or share who they are."""
    verb, _, ref = arg.partition(".")
    p = await profile(update, context)
    services = context.services
    report = await services.db.get_report(ref)
    link = await services.db.link_of(report.id) if report else None
    tag = services.sealer.owner_tag(p.user_id)
    if report is None or link is None or link[0] != tag:
        await reply(update, t("case.not_found", p.lang))
        return
    routine = services.registry.get(report.org_id)
    now = services.clock()
    if verb == "answer":
        await services.db.set_pending("r:" + tag, "answer", report.id, now)
        await reply(update, t("relay.write_answer", p.lang, ref=ref))
    elif verb == "share" and routine is not None:
        user = update.effective_user
        assert user is not None
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
    else:
        await reply(update, t("callback.outdated", p.lang))


async def pending_text(update: Update, context: TryggContext, p: Profile) -> bool:
    """If the user was asked to write a reply, answer or addition, take this text for it."""
    services = context.services
    message = update.effective_message
    text = (message.text or "") if message else ""
    keys = (f"c:{p.user_id}", "r:" + services.sealer.owner_tag(p.user_id))
    pending = await services.db.first_pending(keys)
    if pending is None:
        return False
    key, action, report_id = pending
    await services.db.clear_pending(key)
    report = await services.db.get_report_by_id(report_id)
    routine = services.registry.get(report.org_id) if report else None
    if report is None or routine is None:
        await reply(update, t("case.not_found", p.lang))
        return True
    now = services.clock()
    stamp = now.strftime("%Y%m%d%H%M%S%f")
    if action == "reply":
        # The coordinator writes as an official of the organisation: their text goes as is.
        await _tell_reporter(
            context,
            report,
            routine.organisation.default_language,
            "relay.from_coordinator",
            f"relay-c:{report.ref}:{stamp}",
            _reporter_buttons(report, routine.organisation.default_language),
            text=text[:3000],
        )
        await reply(update, t("relay.sent", p.lang, ref=report.ref))
    elif action == "answer":
        await _tell_coordinators(
            context,
            routine,
            report,
            "relay.from_reporter",
            f"relay-r:{report.ref}:{stamp}",
            with_buttons=True,
            text=text[:3000],
        )
        await reply(update, t("relay.sent", p.lang, ref=report.ref))
    elif action == "close":
        await close_case(update, context, p, routine, report, text[:1000])
        return True
    elif action == "add":
        redacted = anonymise(text[:2000]).text
        await services.db.append_description(report.ref, redacted, 4000)
        await _tell_coordinators(
            context, routine, report, "relay.added", f"add:{report.ref}:{stamp}", text=redacted
        )
        await reply(update, t("mine.added", p.lang, ref=report.ref, text=redacted))
    await services.outbox.kick(context.application)
    return True
