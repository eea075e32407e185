"""A plain message in a private chat: a reply being written, a report's description, or a question.

Acute danger wins over everything: whatever the user was doing, words of immediate danger also
get the 112 answer.
"""

from __future__ import annotations

from telegram import Update

from bot.context import TryggContext
from bot.handlers import cases, contact, report
from bot.handlers.common import profile, reply
from bot.i18n import t
from bot.routines.answer import situations_for
from bot.routines.triage import triage


async def on_text(update: Update, context: TryggContext) -> None:
    """Route a plain message to what the user is in the middle of, else triage it."""
    p = await profile(update, context)
    message = update.effective_message
    text = (message.text or "") if message else ""
    if await cases.pending_text(update, context, p):
        if triage(text, situations_for(p.source), p.lang).acute:
            await contact.free_text(update, context, p)
        return
    draft = await context.services.db.get_draft(p.user_id) if p.routine else None
    in_description = draft is not None and draft.step == "description"
    if draft is not None and in_description and p.routine and draft.org_id == p.routine.id:
        if triage(text, situations_for(p.source), p.lang).acute:
            await contact.free_text(update, context, p)
        await report.description_text(update, context, p, draft)
        return
    if draft is not None and p.routine is not None and draft.org_id == p.routine.id:
        # The form waits for a button: a short hint, not a whole answer; danger still first.
        if triage(text, situations_for(p.source), p.lang).acute:
            await contact.free_text(update, context, p)
        await report.tap_an_option(update, context, p, draft)
        return
    await contact.free_text(update, context, p)
    if draft is not None:
        await reply(update, t("report.waiting", p.lang))
