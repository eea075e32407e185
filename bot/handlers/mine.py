"""/mina: a reporter's own reports, found through the keyed tag of their link, never an id."""

from __future__ import annotations

import logging

from telegram import Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.cases import refuse_outside_private
from bot.handlers.common import markup, profile, reply
from bot.i18n import t
from bot.reports import workflow
from bot.reports.model import Report
from bot.reports.texts import report_line

log = logging.getLogger(__name__)


async def mine_command(update: Update, context: TryggContext) -> None:
    """/mina: the user's reports that still have a contact link, with add and delete buttons."""
    p = await profile(update, context)
    services = context.services
    reports = await workflow.own_reports(services, p.user_id)
    if not reports:
        await reply(update, t("mine.none", p.lang))
        return
    lines: list[str] = [t("mine.head", p.lang, count=len(reports))]
    rows = []
    for report in reports[:20]:
        lines.append(report_line(report, p.lang))
        rows.append(
            [
                {
                    "text": t("button.add_info", p.lang, ref=report.ref),
                    "callback_data": callbacks.mine(f"add.{report.ref}"),
                },
                {
                    "text": t("button.delete_report", p.lang, ref=report.ref),
                    "callback_data": callbacks.mine(f"del.{report.ref}"),
                },
            ]
        )
    await reply(update, "\n".join(lines), markup(rows))


async def _own_report(update: Update, context: TryggContext, ref: str) -> Report | None:
    if await refuse_outside_private(update, context):
        return None
    p = await profile(update, context)
    report = await workflow.own_linked_report(context.services, p.user_id, ref)
    if report is None:
        await reply(update, t("case.not_found", p.lang))
        return None
    return report


async def mine_button(update: Update, context: TryggContext, arg: str) -> None:
    """`add.<ref>` asks for more text; `del.<ref>` asks to confirm; `delyes.<ref>` deletes."""
    verb, _, ref = arg.partition(".")
    report = await _own_report(update, context, ref)
    if report is None:
        return
    p = await profile(update, context)
    services = context.services
    if verb == "add":
        await workflow.ask_addition(services, p.user_id, report)
        await reply(update, t("mine.write_addition", p.lang, ref=ref))
    elif verb == "del":
        rows = [
            [
                {
                    "text": t("button.delete_yes", p.lang),
                    "callback_data": callbacks.mine(f"delyes.{ref}"),
                },
                {
                    "text": t("button.forget_no", p.lang),
                    "callback_data": callbacks.mine(f"keep.{ref}"),
                },
            ]
        ]
        await reply(update, t("mine.confirm_delete", p.lang, ref=ref), markup(rows))
    elif verb == "delyes":
        await workflow.delete(services, report)
        await reply(update, t("mine.deleted", p.lang, ref=ref))
    elif verb == "keep":
        await reply(update, t("forget.kept", p.lang))
    else:
        await reply(update, t("callback.outdated", p.lang))
