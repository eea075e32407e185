"""What coordinators receive and do with reports, and the anonymous relay between the two sides.

Every message to a coordinator or a reporter goes through the outbox, so a Bot API outage
delays it but never loses it. A coordinator acts only on reports of their own organisation: a
reference of another organisation, or callback data the bot did not make, is refused.
"""

from __future__ import annotations

import html
import logging
from typing import Any

from telegram import Update

from bot.context import Services, TryggContext
from bot.crypto import SealError
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


def case_text(report: Report, routine: Routine, lang: str, headline_key: str = "case.new") -> Html:
    """A report as a coordinator reads it: codes as labels, the redacted description."""
    values: dict[str, object] = {
        "type": report.type,
        "channel": report.channel,
        "month": report.month,
        "repeated": "ja" if report.repeated else "nej",
        "perpetrator": report.perpetrator,
        "police": report.police,
        "gender": report.gender,
        "description": report.description,
        "contact_me": "ja" if report.contact_me else "nej",
    }
    lines = summary_lines(values, list(report.impacts), lang)
    head = t(headline_key, lang, ref=report.ref, organisation=routine.organisation.name)
    state = t(f"case.state.{report.state.value}", lang)
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
        try:
            stored = await services.db.submit_report(
                report, link, items, user_id, now, receipt=receipt
            )
        except DuplicateReference:
            continue
        break
    else:  # pragma: no cover - 8 collisions in 7e8 values
        raise RuntimeError("could not find a free report reference")
    if link is not None and lang is not None:
        await services.db.set_link_language(stored.id, services.sealer.seal(lang.encode()))
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
    """A coordinator's button under a report: ack, reply, close or show, then `.<ref>`."""
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
            return
        await reply(update, t("case.acked", p.lang, ref=ref))
    elif verb == "close":
        # Closing ends the follow-up; the reporter is told, then the link to them is released.
        closing = []
        if await services.db.link_of(report.id) is not None:
            lang = await reporter_lang(services, report, routine)
            closing.append(
                _to_reporter(services, report, lang, "relay.closed", f"close-reporter:{ref}")
            )
        closing += await _coordinator_items(
            context,
            routine,
            report,
            "case.closed_by",
            f"close:{ref}",
            skip=p.user_id,
            contact=contact_name,
        )
        if not await services.db.close_report(ref, now, closing):
            await reply(update, t("case.already", p.lang, ref=ref))
            return
        await reply(update, t("case.closed", p.lang, ref=ref))
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
    incoming = update.effective_message
    text = (incoming.text or "") if incoming else ""
    keys = (f"c:{p.user_id}", "r:" + services.sealer.owner_tag(p.user_id))
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
                    text=text[:3000],
                )
            )
        confirmation = t("relay.sent", p.lang, ref=report.ref)
    elif action == "answer":
        items += await _coordinator_items(
            context,
            routine,
            report,
            "relay.from_reporter",
            f"relay-r:{report.ref}:{stamp}",
            with_buttons=True,
            text=text[:3000],
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
