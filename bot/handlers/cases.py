"""The Telegram edge of a report's life: coordinators' case buttons, the reporter's relay
buttons, and the texts they were asked to write. The life itself is `bot.reports.workflow`.

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

from telegram import Message, Update
from telegram.error import BadRequest

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, is_private, markup, profile, reply
from bot.i18n import Html, t
from bot.reports import workflow
from bot.reports.access import may_act, receiving_contact_ids
from bot.reports.model import Report, State
from bot.reports.texts import (
    case_buttons,
    case_state,
    case_text,
    close_confirm_buttons,
    closed_for_reporter_text,
    confirm_buttons,
    report_line,
    status_marks,
)
from bot.reports.workflow import Taken
from bot.routines.models import Routine
from bot.sending import edit_html
from bot.storage import Membership

__all__ = [
    "case_button",
    "case_buttons",  # bot.reminders.jobs queues them under reminders
    "cases_command",
    "close_case",
    "pending_text",
    "refuse_outside_private",
    "relay_button",
    "tell_waiting",
]

log = logging.getLogger(__name__)


async def refuse_outside_private(update: Update, context: TryggContext) -> bool:
    """Case, relay, /mina and report buttons act only in a private chat: True (and a short
    answer, with nothing of the case) when this one came from a group or channel."""
    if is_private(update):
        return False
    p = await profile(update, context)
    log.warning("a case or report button was pressed outside a private chat; refused")
    await reply(update, t("access.private_only", p.lang))
    return True


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
    if ref not in shown or not any(mark in shown for mark in status_marks()):
        return
    report = await context.services.db.get_report(ref)
    if report is None:
        return
    try:
        await edit_html(
            query.get_bot(),
            message.chat.id,
            message.message_id,
            case_text(report, routine, lang),
            markup(case_buttons(report, lang)),
        )
    except BadRequest as error:  # "not modified": it shows the status already
        log.info("could not update a case message (%s)", type(error).__name__)


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


async def case_button(update: Update, context: TryggContext, arg: str) -> None:
    """A coordinator's button under a report: ack, reply, close (closeok, closew, closeno once
    asked) or show, then `.<ref>`. A button that no longer fits says what the status is."""
    verb, _, ref = arg.partition(".")
    found = await _coordinator_report(update, context, ref)
    if found is None:
        return
    p, routine, report = found
    services = context.services
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
        acked = await workflow.acknowledge(
            services, routine, report, p.user_id, p.membership, p.lang
        )
        if not acked:
            await reply(update, t("case.already", p.lang, ref=ref))
            await _refresh_case_message(update, context, routine, ref, p.lang)
            return
        await _refresh_case_message(update, context, routine, ref, p.lang)
        await reply(update, t("case.acked", p.lang, ref=ref))
    elif verb == "close":
        # Closing ends the follow-up for good: asked first, with room for a last word.
        linked = await workflow.is_linked(services.db, report)
        key = "case.close_confirm" if linked else "case.close_confirm_no_link"
        buttons = close_confirm_buttons(report, p.lang, linked)
        await reply(update, t(key, p.lang, ref=ref), markup(buttons))
        return
    elif verb == "closeok":
        await close_case(update, context, p, routine, report, None)
    elif verb == "closew":
        if not await workflow.ask_last_word(services, p.user_id, report):
            await close_case(update, context, p, routine, report, None)
            return
        await reply(update, t("case.write_last_word", p.lang, ref=ref))
    elif verb == "closeno":
        await reply(update, t("case.close_kept", p.lang, ref=ref))
    elif verb == "reply":
        if not await workflow.ask_reply(services, p.user_id, report):
            await reply(update, t("case.no_contact", p.lang, ref=ref))
            return
        await reply(update, t("case.write_reply", p.lang, ref=ref))
    else:
        await reply(update, t("callback.outdated", p.lang))
        return
    services.outbox.kick_soon(context.application)


async def tell_waiting(
    update: Update, context: TryggContext, membership: Membership, routine: Routine, lang: str
) -> None:
    """A coordinator who just joined: the open reports their contact receives, if any, which
    were kept (and the reporters told so) while nobody was registered."""
    if membership.role != "coordinator":
        return
    waiting = await workflow.waiting_reports(context.services.db, membership, routine)
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
    """Close `report` (`workflow.close`) and tell the coordinator who closed it."""
    services = context.services
    closed = await workflow.close(
        services, routine, report, p.user_id, p.membership, p.lang, last_word
    )
    if not closed:
        await reply(update, t("case.already", p.lang, ref=report.ref))
        return
    await reply(update, t("case.closed", p.lang, ref=report.ref))
    services.outbox.kick_soon(context.application)


async def cases_command(update: Update, context: TryggContext) -> None:
    """/arenden: the organisation's open reports, newest first."""
    p = await profile(update, context)
    if not p.is_coordinator or p.routine is None or p.membership is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    reports = await workflow.waiting_reports(context.services.db, p.membership, p.routine)
    if not reports:
        await reply(update, _none_open(p.routine, p.membership.contact_id, p.lang))
        return
    lines: list[str] = [t("case.list_head", p.lang, count=len(reports))]
    buttons = []
    for report in reports[:30]:
        lines.append(report_line(report, p.lang))
        buttons.append(
            [{"text": report.ref, "callback_data": callbacks.case(f"show.{report.ref}")}]
        )
    await reply(update, "\n".join(lines), markup(buttons))


def _none_open(routine: Routine, contact_id: str | None, lang: str) -> str:
    """Nothing to list: say why when the coordinator's contact receives no reports at all, so
    "no open reports" is never read as "nothing has happened"."""
    escalated = set(routine.reminders.escalate_to)
    if contact_id is not None and contact_id in receiving_contact_ids(routine) | escalated:
        return t("case.none_open", lang)
    contact = routine.contacts.get(contact_id or "")
    role = contact.name.get(lang) if contact is not None else (contact_id or "")
    receivers = ", ".join(c.name.get(lang) for c in routine.receiving_contacts())
    if not receivers:
        return t("case.role_receives_nothing_nobody", lang, role=role)
    return t("case.role_receives_nothing", lang, role=role, receivers=receivers)


# --- the relay -----------------------------------------------------------------------------


async def _own_linked_report(
    update: Update, context: TryggContext, ref: str
) -> tuple[Profile, Report] | None:
    """The report behind a reporter's relay button, if its link is theirs."""
    if await refuse_outside_private(update, context):
        return None
    p = await profile(update, context)
    services = context.services
    report = await workflow.own_linked_report(services, p.user_id, ref)
    if report is None or report.state == State.CLOSED:
        # A close releases the link, so the button's owner cannot be told from anyone else;
        # those buttons sit in a reporter's chat, and "not yours" would alarm its writer.
        closed = report or await services.db.get_report(ref)
        if closed is not None and closed.state == State.CLOSED:
            routine = services.registry.get(closed.org_id)
            text = closed_for_reporter_text(routine, closed, services.clock(), p.lang)
            await reply(update, text)
        else:
            await reply(update, t("case.not_found", p.lang))
        return None
    return p, report


def _identity(update: Update) -> tuple[str, str | None, Html]:
    """The reporter as Telegram names them: full name, username, and a link coordinators open."""
    user = update.effective_user
    assert user is not None
    name = html.escape(user.full_name, quote=False)
    who = f'<a href="tg://user?id={user.id}">{name}</a>'
    if user.username:
        who += f" @{html.escape(user.username, quote=False)}"
    return user.full_name, user.username, Html(who)


async def relay_button(update: Update, context: TryggContext, arg: str) -> None:
    """The reporter's buttons under a coordinator's message: answer, or share who they are
    (after a confirmation that says what is shared and with whom; Cancel comes first)."""
    verb, _, ref = arg.partition(".")
    found = await _own_linked_report(update, context, ref)
    if found is None:
        return
    p, report = found
    services = context.services
    routine = services.registry.get(report.org_id)
    if verb == "answer":
        await workflow.ask_answer(services, p.user_id, report)
        await reply(update, t("relay.write_answer", p.lang, ref=ref))
    elif verb == "share" and routine is not None:
        full_name, username, _ = _identity(update)
        shared = [t("access.share_name", p.lang, name=full_name)]
        if username:
            shared.append(t("access.share_username", p.lang, username=username))
        readers = await workflow.readers_line(services.db, routine, report, p.lang)
        text = t(
            "access.share_confirm",
            p.lang,
            ref=ref,
            what=Html("\n".join(shared)),
            readers=readers,
            organisation=routine.organisation.name,
        )
        buttons = confirm_buttons(p.lang, ref, "button.share_yes", "shareyes", "sharenot")
        await reply(update, text, markup(buttons))
    elif verb == "shareyes" and routine is not None:
        await workflow.share_identity(services, routine, report, _identity(update)[2])
        await reply(update, t("relay.identity_shared", p.lang, ref=ref))
        services.outbox.kick_soon(context.application)
    elif verb == "sharenot":
        await reply(update, t("access.share_cancelled", p.lang, ref=ref))
    elif verb == "send" and routine is not None:
        stamp = str(update.update_id)
        if not await workflow.relay_staged(services, routine, report, p.user_id, p.lang, stamp):
            await reply(update, t("access.nothing_staged", p.lang, ref=ref))
            return
        services.outbox.kick_soon(context.application)  # the answer, and "sent" to them
    elif verb == "drop":
        await workflow.drop_staged(services, p.user_id)
        await reply(update, t("access.answer_dropped", p.lang, ref=ref))
    else:
        await reply(update, t("callback.outdated", p.lang))


async def pending_text(update: Update, context: TryggContext, p: Profile) -> bool:
    """If the user was asked to write a reply, answer or addition, take this text for it
    (`workflow.take_text`, which checks access again now); False if nothing was asked."""
    services = context.services
    message = update.effective_message
    text = (message.text or "") if message else ""
    # The update id names the text: handled again from the inbox after a crash, the same text
    # makes the same dedupe keys, so it is relayed once.
    stamp = str(update.update_id)
    taken = await workflow.take_text(services, p.user_id, p.membership, text, p.lang, stamp)
    report = taken.report
    if taken.what == Taken.NOTHING:
        return False
    if taken.what == Taken.NOT_FOUND or report is None:
        await reply(update, t("case.not_found", p.lang))
        return True
    if taken.what == Taken.ACCESS_LOST:
        await reply(update, t("access.lost", p.lang, ref=report.ref))
        return True
    if taken.what == Taken.STAGED:
        buttons = confirm_buttons(p.lang, report.ref, "button.send_answer", "send", "drop")
        shown = t("access.answer_shown", p.lang, ref=report.ref, text=taken.text)
        await reply(update, shown, markup(buttons))
        return True
    if taken.what == Taken.CLOSE and taken.routine is not None:
        await close_case(update, context, p, taken.routine, report, taken.text)
        return True
    # A relayed reply or an addition: its "sent" is queued with it (`workflow.take_text`).
    services.outbox.kick_soon(context.application)
    return True
