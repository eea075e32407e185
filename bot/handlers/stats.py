"""/statistik (/stats): anonymised statistics as text, a chart, and an Excel file on request.

A coordinator sees their own organisation; the national role sees every organisation
together and per organisation. Everyone else gets the coordinators' refusal. Nothing here
takes an organisation from the user: it comes from the membership, so a coordinator can never
ask for another organisation's numbers, whatever they type or press.

The Excel file (the button under the chart) holds the same suppressed summary; for a
coordinator it adds their organisation's reports, one per row, as codes and labels without
descriptions. The national role never gets per-report rows. The chart and the workbook are
made in a worker thread.
"""

from __future__ import annotations

import asyncio
from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, profile, reply
from bot.i18n import t
from bot.reports.access import may_act
from bot.stats.aggregate import standard_windows
from bot.stats.chart import render_chart
from bot.stats.export import xlsx_bytes
from bot.stats.render import render_messages
from bot.stats.service import national_view, organisation_view
from bot.stats.tables import StatsView
from bot.storage import Role

CHART_FILENAME = "statistik.png"
EXPORT_FILENAME = "statistik.xlsx"
EXPORT = "xlsx"


def _role(p: Profile) -> Role | None:
    """COORDINATOR or NATIONAL for those who may see statistics, else None."""
    if p.membership is None or p.membership.role not in (Role.COORDINATOR, Role.NATIONAL):
        return None
    return Role(p.membership.role)


def _today(p: Profile, context: TryggContext) -> date:
    return context.services.clock().astimezone(ZoneInfo(p.timezone)).date()


async def _view(p: Profile, role: Role, context: TryggContext) -> StatsView:
    services = context.services
    assert p.membership is not None
    windows = standard_windows(_today(p, context))
    threshold = services.settings.stats_threshold
    if role is Role.COORDINATOR:
        org_id = p.membership.org_id
        name = p.routine.organisation.name if p.routine is not None else org_id
        return await organisation_view(services.db, org_id, name, windows, threshold)
    names = {r.id: r.organisation.name for r in services.registry.organisations()}
    return await national_view(
        services.db,
        t("stats.all_organisations", p.lang),
        windows,
        threshold,
        names,
        organisations=sorted(names),
    )


async def stats_command(update: Update, context: TryggContext) -> None:
    """/statistik: our reports per type, channel and month, police and impact, beside PTU."""
    p = await profile(update, context)
    role = _role(p)
    if role is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    view = await _view(p, role, context)
    if not any(view.total(window).value for window in view.windows):  # all 0, or hidden
        # Every number would be "<3": one sentence says so, instead of pages of marks.
        await reply(update, t("stats.too_few", p.lang, threshold=view.threshold))
        return
    for text in render_messages(view, p.lang):
        await reply(update, text)
    png = await asyncio.to_thread(render_chart, view, p.lang)
    first = view.windows[0]
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("stats.button.export", p.lang), callback_data=callbacks.stats(EXPORT)
                )
            ]
        ]
    )
    chat = update.effective_chat
    if chat is not None:
        await chat.send_photo(
            photo=png,
            filename=CHART_FILENAME,
            caption=t(
                "stats.photo_caption",
                p.lang,
                organisation=view.name,
                first=first.first,
                last=first.last,
                threshold=view.threshold,
            ),
            reply_markup=keyboard,
        )


async def stats_button(update: Update, context: TryggContext, arg: str) -> None:
    """The Excel button: the workbook, with per-report rows only for the own coordinators."""
    p = await profile(update, context)
    role = _role(p)
    if role is None or arg != EXPORT:
        await reply(update, t("coordinator.only", p.lang))
        return
    view = await _view(p, role, context)
    first = min(w.first for w in view.windows)
    last = max(w.last for w in view.windows)
    if role is Role.COORDINATOR and view.org_id is not None:
        # Per-report rows only of the reports this coordinator's contact receives.
        found = await context.services.db.reports_between(view.org_id, first, last)
        reports = [r for r in found if may_act(p.membership, r, p.routine)]
        data = await asyncio.to_thread(xlsx_bytes, view, reports, p.lang)
        caption = t("stats.export_caption", p.lang, organisation=view.name, first=first, last=last)
    else:  # the national role: the summary only, never a report
        data = await asyncio.to_thread(xlsx_bytes, view, None, p.lang)
        caption = t("stats.export_caption_national", p.lang, first=first, last=last)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_document(document=data, filename=EXPORT_FILENAME, caption=caption)
