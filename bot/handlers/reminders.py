"""/paminnelser (/reminders): a member's reminders on or off; /paminn (/remind): the digest now.

Members choose whether they get the routine digest and the dated event reminders. Coordinators'
reminders (review, reports, follow-ups, gaps) are part of the job and cannot be turned off; the
command says so to them.
"""

from __future__ import annotations

from telegram import Update

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, markup, profile, reply
from bot.i18n import Html, t
from bot.reminders.jobs import queue_digest
from bot.reminders.schedule import SCHEDULE_KEYWORDS, local_now


def _state(p: Profile, enabled: bool) -> Html:
    assert p.routine is not None
    reminders = p.routine.reminders
    if enabled:
        schedule = reminders.members if reminders.members in SCHEDULE_KEYWORDS else "cron"
        quiet = f"{reminders.quiet_start:%H:%M}–{reminders.quiet_end:%H:%M}"
        when = t(f"reminders.schedule.{schedule}", p.lang)
        text = t("reminders.on", p.lang, schedule=when, quiet=quiet)
    else:
        text = t("reminders.off", p.lang)
    if p.is_coordinator:
        text = Html(text + "\n" + t("reminders.coordinator_note", p.lang))
    return text


def _toggle(enabled: bool, lang: str) -> list[list[dict[str, str]]]:
    key = "button.reminders_off" if enabled else "button.reminders_on"
    return [[{"text": t(key, lang), "callback_data": callbacks.reminders(not enabled)}]]


async def reminders_command(update: Update, context: TryggContext) -> None:
    """/paminnelser: whether the routine reminders are on, and a button to switch."""
    p = await profile(update, context)
    if p.membership is None or p.routine is None:
        await reply(update, t("reminders.members_only", p.lang))
        return
    enabled = p.membership.digest_enabled
    await reply(update, _state(p, enabled), markup(_toggle(enabled, p.lang)))


async def reminders_button(update: Update, context: TryggContext, arg: str) -> None:
    """The switch under /paminnelser: `on` or `off`."""
    p = await profile(update, context)
    if arg not in ("on", "off"):
        await reply(update, t("callback.outdated", p.lang))
        return
    if p.membership is None or p.routine is None:
        await reply(update, t("reminders.members_only", p.lang))
        return
    enabled = arg == "on"
    db = context.services.db
    await db.set_digest(p.user_id, enabled)
    if enabled:  # they press a button in the chat: it is open again, whatever it said before
        await db.unblock(p.user_id)
    done = t("reminders.turned_on" if enabled else "reminders.turned_off", p.lang)
    await reply(update, Html(done + "\n" + _state(p, enabled)), markup(_toggle(enabled, p.lang)))


async def remind_command(update: Update, context: TryggContext) -> None:
    """/paminn, coordinators only: the routine digest to everyone in the organisation, now."""
    p = await profile(update, context)
    if not p.is_coordinator or p.membership is None:
        await reply(update, t("coordinator.only", p.lang))
        return
    routine = p.routine
    if routine is None:
        await reply(update, t("remind.no_routine", p.lang))
        return
    services = context.services
    count, not_before = await queue_digest(services.db, services.sealer, routine, services.clock())
    org = routine.organisation
    if not_before is None:
        await reply(update, t("remind.queued", p.lang, count=count, organisation=org.name))
    else:
        at = local_now(not_before, org.timezone).strftime("%Y-%m-%d %H:%M")
        await reply(
            update, t("remind.queued_quiet", p.lang, count=count, organisation=org.name, at=at)
        )
    # Not a kick: a big organisation's digest takes a while, and updates are handled in order.
    context.application.create_task(
        services.outbox.send_due_if_idle(context.bot), name="remind-digest"
    )
