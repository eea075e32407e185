"""Joining an organisation with an invite, /start, and forgetting a user (/glom)."""

from __future__ import annotations

import logging

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot import activity
from bot.context import TryggContext
from bot.handlers import callbacks, cases
from bot.handlers.commands import publish_chat_commands
from bot.handlers.common import profile, remember_language, reply
from bot.handlers.contact import show_menu
from bot.i18n import t
from bot.invites import Invite, InviteFailure
from bot.storage import Role

log = logging.getLogger(__name__)

# Telegram's rule for a /start payload; anything else cannot be one of our codes.
_MAX_CODE = 64


async def start(update: Update, context: TryggContext) -> None:
    """/start, with an invite code from a deep link, or a welcome."""
    code = context.args[0] if context.args else None
    if code:
        await _join(update, context, code, confirmed=False)
        return
    p = await profile(update, context)
    if p.routine is not None:
        await reply(update, t("start.member", p.lang, organisation=p.routine.organisation.name))
    elif p.membership is not None and p.membership.role == Role.NATIONAL:
        await reply(update, t("start.national", p.lang))
    else:
        await reply(update, t("start.guest", p.lang))
    await show_menu(update, context, p)


async def join_chosen(update: Update, context: TryggContext, code: str) -> None:
    """The confirmation buttons for joining another organisation."""
    if code == "-":
        p = await profile(update, context)
        await reply(update, t("join.declined", p.lang))
        return
    await _join(update, context, code, confirmed=True)


async def _join(update: Update, context: TryggContext, code: str, *, confirmed: bool) -> None:
    services = context.services
    p = await profile(update, context)
    if len(code) > _MAX_CODE:
        await reply(update, t("join.unknown", p.lang))
        return
    peeked = await services.invites.peek(code)
    if isinstance(peeked, InviteFailure):
        await reply(update, t(f"join.{peeked.name.lower()}", p.lang))
        return
    if peeked.role == Role.NATIONAL:
        await _join_national(update, context, code, peeked, confirmed=confirmed)
        return
    routine = services.registry.get(peeked.org_id)
    if routine is None:
        log.warning("invite for an organisation that is not loaded: %s", peeked.org_id)
        await reply(update, t("join.org_unavailable", p.lang))
        return
    if peeked.contact_id is not None and peeked.contact_id not in routine.contacts:
        log.warning("coordinator invite for a contact not in %s: %s", routine.id, peeked.contact_id)
        await reply(update, t("join.contact_missing", p.lang))
        return
    current = p.membership
    if current is not None and current.org_id != peeked.org_id and not confirmed:
        now_in = services.registry.get(current.org_id)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("button.join_yes", p.lang), callback_data=callbacks.join(code)
                    )
                ],
                [
                    InlineKeyboardButton(
                        t("button.join_no", p.lang), callback_data=callbacks.join("-")
                    )
                ],
            ]
        )
        await reply(
            update,
            t(
                "join.confirm_switch",
                p.lang,
                current=now_in.organisation.name if now_in else current.org_id,
                new=routine.organisation.name,
            ),
            keyboard,
        )
        return
    # Taking a use and writing the membership is one transaction: no invite used up for nothing.
    redeemed = await services.invites.redeem(code, p.user_id)
    if isinstance(redeemed, InviteFailure):
        await reply(update, t(f"join.{redeemed.name.lower()}", p.lang))
        return
    activity.count("joins")  # never a line per join: it would date the member's first report
    await remember_language(update, context, None, joined=True)
    key = "join.welcome_coordinator" if redeemed.role == "coordinator" else "join.welcome"
    contact_name = (
        routine.contacts[redeemed.contact_id].name.get(p.lang) if redeemed.contact_id else ""
    )
    await reply(
        update,
        t(key, p.lang, organisation=routine.organisation.name, contact=contact_name),
    )
    if redeemed.membership is not None:  # reports kept while nobody received them: say so
        await cases.tell_waiting(update, context, redeemed.membership, routine, p.lang)
    await publish_chat_commands(context.bot, p.user_id, redeemed.role)
    await show_menu(update, context)


async def _join_national(
    update: Update, context: TryggContext, code: str, invite: Invite, *, confirmed: bool
) -> None:
    """The national role: no organisation (`NATIONAL_ORG`), statistics of all of them, and the
    national contacts for /kontakt. Leaving an organisation for it is asked first."""
    services = context.services
    p = await profile(update, context)
    current = p.membership
    if current is not None and current.org_id != invite.org_id and not confirmed:
        now_in = services.registry.get(current.org_id)
        keyboard = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        t("button.join_yes", p.lang), callback_data=callbacks.join(code)
                    )
                ],
                [
                    InlineKeyboardButton(
                        t("button.join_no", p.lang), callback_data=callbacks.join("-")
                    )
                ],
            ]
        )
        current_name = now_in.organisation.name if now_in else current.org_id
        new_name = t("stats.all_organisations", p.lang)
        text = t("join.confirm_switch", p.lang, current=current_name, new=new_name)
        await reply(update, text, keyboard)
        return
    redeemed = await services.invites.redeem(code, p.user_id)
    if isinstance(redeemed, InviteFailure):
        await reply(update, t(f"join.{redeemed.name.lower()}", p.lang))
        return
    activity.count("joins")
    await remember_language(update, context, None, joined=True)
    await reply(update, t("join.welcome_national", p.lang))
    await publish_chat_commands(context.bot, p.user_id, redeemed.role)
    await show_menu(update, context)


async def forget_command(update: Update, context: TryggContext) -> None:
    """/glom: ask before deleting everything the bot keeps about the user."""
    p = await profile(update, context)
    keyboard = InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(
                    t("button.forget_yes", p.lang), callback_data=callbacks.forget(True)
                )
            ],
            [
                InlineKeyboardButton(
                    t("button.forget_no", p.lang), callback_data=callbacks.forget(False)
                )
            ],
        ]
    )
    await reply(update, t("forget.confirm", p.lang), keyboard)


async def forget_chosen(update: Update, context: TryggContext, answer: str) -> None:
    """The confirmation of /glom."""
    p = await profile(update, context)
    if answer != "yes":
        await reply(update, t("forget.kept", p.lang))
        return
    services = context.services
    # Report links and pending replies are keyed by the user's tag, not their id.
    await services.db.forget_owner(services.sealer.owner_tag(p.user_id))
    await services.db.forget_user(p.user_id)
    await publish_chat_commands(context.bot, p.user_id, None)
    activity.count("forgotten")
    # The language preference is gone too, so the goodbye uses the Telegram language.
    await reply(update, t("forget.done", p.lang))
