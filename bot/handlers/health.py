"""/halsa for coordinators (gaps, review, registration, with the week as a picture) and /kort.

Pictures are drawn in a worker thread: matplotlib and Pillow hold the event loop for up to a
second otherwise. Non-members asking for /kort get the national card and how to join.
"""

from __future__ import annotations

import asyncio
from datetime import date

from telegram import Update

from bot.context import TryggContext
from bot.handlers.common import profile, reply
from bot.health.card import CardCache, build_card, card_key, render_card
from bot.health.gaps import OrgHealth, health_report, organisation_today, registered_contacts
from bot.health.heatmap import render_heatmap
from bot.health.report import only_gaps, render_report
from bot.i18n import t
from bot.routines.models import Routine
from bot.storage import Database

CARD_FILENAME = "kontaktkort.png"
HEATMAP_FILENAME = "rutinens-halsa.png"

# One cache for the process: cards are keyed by organisation and language, and dropped when the
# registry holds a new routine object (see CardCache).
CARDS = CardCache()


async def organisation_health(db: Database, routine: Routine, today: date) -> OrgHealth:
    """The health report of `routine`, with the coordinators registered in `db`."""
    return health_report(routine, await registered_contacts(db, routine), today)


async def health_command(update: Update, context: TryggContext) -> None:
    """/halsa: where our routine leaves officials alone, the review, and who lacks a coordinator."""
    p = await profile(update, context)
    if not p.is_coordinator or p.membership is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    routine = context.services.registry.get(p.membership.org_id)
    if routine is None:
        await reply(update, t("health.no_routine", p.lang))
        return
    today = organisation_today(routine, context.services.clock())
    report = await organisation_health(context.services.db, routine, today)
    await reply(update, render_report(report, routine, p.lang, markup=True))
    gaps = only_gaps(report)
    if not gaps.situations:
        return  # all green: a picture would only repeat the line above
    png = await asyncio.to_thread(render_heatmap, gaps, p.lang)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_photo(
            photo=png,
            filename=HEATMAP_FILENAME,
            caption=t("health.photo_caption", p.lang, organisation=routine.organisation.name),
        )


async def card_command(update: Update, context: TryggContext) -> None:
    """/kort: the contact card as a picture for the lock screen (national card for non-members)."""
    p = await profile(update, context)
    source = p.source
    key = card_key(source)
    rendered = CARDS.get(key, p.lang, source)
    if rendered is None:  # the cache is touched on the event loop only, the drawing is not
        rendered = await asyncio.to_thread(lambda: render_card(build_card(source, p.lang)))
        CARDS.put(key, p.lang, source, rendered)
    if p.routine is not None:
        org = p.routine.organisation
        caption = t(
            "card.caption", p.lang, organisation=org.name, reviewed=org.reviewed.isoformat()
        )
    else:
        caption = t("card.caption_guest", p.lang)
    chat = update.effective_chat
    if chat is not None:
        await chat.send_photo(photo=rendered.png, filename=CARD_FILENAME, caption=caption)
