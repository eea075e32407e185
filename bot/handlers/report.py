"""The anonymous incident report: a guided form of buttons, one step at a time.

The form is written for someone who may be shaken: it opens with an acknowledgement, asks for
the reporter's own words first (optional), offers "don't know" where a guess would be asked
for, and never deletes a draft on one tap. The diagram is docs/report-form.mmd.

The half-filled report is a draft in the database, saved after every step, so a restart (also
kill -9) loses nothing and the user goes on where they were. Buttons name the step they belong
to; a button from an earlier step or an old summary is answered with a new message, never
applied, and never written over a message the user may still need (such as the receipt).
The form's rules are `bot.reports.form`; this module renders its steps and answers presses.
"""

from __future__ import annotations

import logging
from datetime import date
from functools import lru_cache
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.common import Profile, profile, reply
from bot.handlers.privacy import privacy_text
from bot.handlers.render import render_answer
from bot.i18n import Html, t
from bot.reports import form, model, workflow
from bot.reports.form import Pressed
from bot.reports.model import CHOICES, STEPS, Draft, Report
from bot.reports.texts import label, months, summary_lines
from bot.routines.answer import answer, find_situation
from bot.sending import edit_html

log = logging.getLogger(__name__)

# Months are written out ("september 2026"), so two to a row, like the other long labels.
_COLUMNS = {"type": 2, "channel": 2, "month": 2, "impact": 1, "gender": 2}
# The longest label a phone shows whole, by buttons in the row; Telegram cuts a longer one
# with "…" (about 45 characters across a 360 dp screen, less the buttons' padding).
MAX_LABEL = {1: 48, 2: 18, 3: 11}


def pack(buttons: list[InlineKeyboardButton], width: int) -> list[list[InlineKeyboardButton]]:
    """Buttons in rows of `width`; a label too long to share a row gets a row of its own."""
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    for button in buttons:
        if width > 1 and len(button.text) > MAX_LABEL[min(width, 3)]:
            if row:
                rows.append(row)
                row = []
            rows.append([button])
            continue
        row.append(button)
        if len(row) == width:
            rows.append(row)
            row = []
    if row:
        rows.append(row)
    return rows


def report_button(situation_id: str, lang: str) -> InlineKeyboardButton:
    """The "Report this" button under a situation's answer."""
    return InlineKeyboardButton(
        t("button.report_this", lang), callback_data=callbacks.report(f"start.{situation_id}")
    )


def _nav(step: str, editing: bool, lang: str) -> list[InlineKeyboardButton]:
    row = []
    if step != STEPS[0] and not editing:
        row.append(
            InlineKeyboardButton(t("button.back", lang), callback_data=callbacks.report("back"))
        )
    if editing and step != "summary":
        row.append(
            InlineKeyboardButton(
                t("button.to_summary", lang), callback_data=callbacks.report("summary")
            )
        )
    row.append(
        InlineKeyboardButton(t("button.cancel", lang), callback_data=callbacks.report("cancel"))
    )
    return row


def _choice_rows(
    field: str, codes: tuple[str, ...], chosen: tuple[str | None, ...], lang: str
) -> list[list[InlineKeyboardButton]]:
    buttons = [
        InlineKeyboardButton(
            ("✓ " if code in chosen else "") + label(field, code, lang),
            callback_data=callbacks.report(f"set.{field}.{code}"),
        )
        for code in codes
    ]
    return pack(buttons, _COLUMNS.get(field, 2))


def _button(key: str, lang: str, press: str) -> InlineKeyboardButton:
    return InlineKeyboardButton(t(key, lang), callback_data=callbacks.report(press))


# A step's keyboard is a pure function of the arguments below, and PTB's objects are frozen: one
# object per distinct keyboard is built once and then shared, and the send path serialises it
# once too (bot/sending.py). A few hundred keyboards exist per language (the impacts, chosen
# any way, are the most), so the bound is only a guard.
@lru_cache(maxsize=2048)
def _step_markup(
    step: str,
    lang: str,
    codes: tuple[str, ...],
    chosen: tuple[str | None, ...],
    described: bool,
    editing: bool,
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    if step == "description":
        if described:
            rows.append(
                [
                    _button("button.keep", lang, "keep"),
                    _button("button.rewrite", lang, "rewrite"),
                ]
            )
        rows.append([_button("button.skip", lang, "skip.description")])
    else:
        rows = _choice_rows(step, codes, chosen, lang)
        if step == "impact":
            rows.append([_button("button.done", lang, "done.impact")])
        if step == "gender":
            rows.append([_button("button.skip", lang, "skip.gender")])
    rows.append(_nav(step, editing, lang))
    return InlineKeyboardMarkup(rows)


def render_step(draft: Draft, lang: str, today: date) -> tuple[Html, InlineKeyboardMarkup]:
    """The message and buttons of the draft's current step."""
    step = draft.step
    if step == "summary":
        return render_summary(draft, lang)
    number = STEPS.index(step) + 1
    head = t("report.step", lang, number=number, total=len(STEPS) - 1)
    question = t(f"report.ask.{step}", lang)
    described = bool(draft.values.get("description"))
    if step == "description" and described:
        question = t("report.description_shown", lang, redacted=draft.values["description"])
    codes: tuple[str, ...] = ()
    chosen: tuple[str | None, ...] = ()
    if step == "month":
        codes = (*months(today), model.MONTH_UNKNOWN)
    elif step != "description":
        codes = tuple(CHOICES[step])
    if codes:
        chosen = tuple(draft.impacts()) if step == "impact" else (draft.values.get(step),)
    markup = _step_markup(step, lang, codes, chosen, described, draft.editing)
    return Html(f"{head}\n{question}"), markup


def render_cancel_confirm(lang: str) -> tuple[Html, InlineKeyboardMarkup]:
    """The question before a draft is thrown away: one tap on Avbryt must not lose a report."""
    rows = [
        [
            InlineKeyboardButton(
                t("button.cancel_yes", lang), callback_data=callbacks.report("cancel.yes")
            ),
            InlineKeyboardButton(
                t("button.cancel_no", lang), callback_data=callbacks.report("cancel.no")
            ),
        ]
    ]
    return t("report.cancel_confirm", lang), InlineKeyboardMarkup(rows)


def render_summary(draft: Draft, lang: str) -> tuple[Html, InlineKeyboardMarkup]:
    text = (
        t("report.summary", lang)
        + "\n"
        + "\n".join(summary_lines(draft.values, draft.impacts(), lang))
    )
    rows = [
        [InlineKeyboardButton(t("button.send", lang), callback_data=callbacks.report("send"))],
        [
            InlineKeyboardButton(t("button.edit", lang), callback_data=callbacks.report("edit")),
            InlineKeyboardButton(
                t("button.cancel", lang), callback_data=callbacks.report("cancel")
            ),
        ],
    ]
    return Html(text), InlineKeyboardMarkup(rows)


def render_edit_menu(draft: Draft, lang: str) -> tuple[Html, InlineKeyboardMarkup]:
    fields = [s for s in STEPS if s != "summary"]
    buttons = [
        InlineKeyboardButton(
            t(f"report.field.{f}", lang), callback_data=callbacks.report(f"edit.{f}")
        )
        for f in fields
    ]
    rows = pack(buttons, 2)
    rows.append(
        [
            InlineKeyboardButton(
                t("button.to_summary", lang), callback_data=callbacks.report("summary")
            )
        ]
    )
    return t("report.edit_which", lang), InlineKeyboardMarkup(rows)


async def show(
    update: Update, text: str, markup: InlineKeyboardMarkup | None, lang: str = "sv"
) -> None:
    """Edit the message the button was on, so the form stays one message; else send a new one.

    A press that would change nothing (an old button pressed again) is answered with the step
    anew: Telegram refuses such an edit, and silence would look like a broken button.
    """
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            message = query.message
            await edit_html(query.get_bot(), message.chat.id, message.message_id, text, markup)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                await reply(update, t("report.already_shown", lang) + "\n\n" + text, markup)
                return
            log.info(
                "could not edit the form message (%s); sending a new one", type(error).__name__
            )
    await reply(update, text, markup)


def _today(context: TryggContext, p: Profile) -> date:
    return context.services.clock().astimezone(ZoneInfo(p.timezone)).date()


async def _show_step(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    text, markup = render_step(draft, p.lang, _today(context, p))
    await show(update, text, markup, p.lang)


async def _member_or_explain(update: Update, context: TryggContext) -> Profile | None:
    p = await profile(update, context)
    if p.routine is None or p.membership is None:
        await reply(update, t("report.members_only", p.lang))
        return None
    return p


def _intro(p: Profile) -> Html:
    """Before a report starts: what "anonymous" means here (the /integritet screen)."""
    opening = t("report.acknowledge", p.lang) + "\n" + t("report.intro", p.lang)
    return Html(opening + "\n\n" + privacy_text(p.routine, p.lang))


async def report_command(update: Update, context: TryggContext) -> None:
    """/rapportera: start a report, or go on with the one under way."""
    p = await _member_or_explain(update, context)
    if p is None or p.routine is None:
        return
    services = context.services
    started = await form.start(services.db, p.user_id, p.routine.id, services.clock())
    assert started.draft is not None
    if started.what == Pressed.RESUMED:
        await reply(update, t("report.resumed", p.lang))
    else:
        await reply(update, _intro(p))
    await _show_step(update, context, p, started.draft)


async def cancel_command(update: Update, context: TryggContext) -> None:
    """/avbryt: drop a reply being written at once; a report under way only once confirmed."""
    p = await profile(update, context)
    services = context.services
    dropped = await workflow.drop_pending(services, p.user_id)
    if await services.db.get_draft(p.user_id) is not None:
        if dropped:
            await reply(update, t("report.cancelled_reply", p.lang))
        text, markup = render_cancel_confirm(p.lang)
        await reply(update, text, markup)
        return
    await reply(
        update, t("report.cancelled_reply" if dropped else "report.nothing_to_cancel", p.lang)
    )


async def report_button_pressed(update: Update, context: TryggContext, arg: str) -> None:
    """Every button of the form: `start.<situation>`, `set.<field>.<code>`, back, send, ..."""
    p = await _member_or_explain(update, context)
    if p is None or p.routine is None:
        return
    services = context.services
    verb, _, rest = arg.partition(".")
    pressed = await form.press(services.db, p.user_id, p.routine.id, verb, rest, services.clock())
    draft = pressed.draft
    if draft is None and verb == "send" and await _receipt_again(update, context, p):
        return
    if draft is None:
        # A new message, never an edit: the button may sit on the receipt of a sent report.
        await reply(update, t("report.no_draft", p.lang))
        return
    what = pressed.what
    if what in (Pressed.STARTED, Pressed.RESUMED):
        started = what == Pressed.STARTED
        await reply(update, _intro(p) if started else t("report.resumed", p.lang))
        await _reshow(update, context, p, draft)
    elif what == Pressed.CANCELLED:
        await show(update, t("report.cancelled", p.lang), None, p.lang)
    elif what == Pressed.CANCEL_KEPT:
        text, markup = render_step(draft, p.lang, _today(context, p))
        await show(update, t("report.cancel_kept", p.lang) + "\n" + text, markup, p.lang)
    elif what == Pressed.CANCEL_ASKED:
        text, markup = render_cancel_confirm(p.lang)
        await show(update, text, markup, p.lang)
    elif what == Pressed.SEND:
        await _send(update, context, p, draft)
    elif what == Pressed.EDIT_MENU:
        text, markup = render_edit_menu(draft, p.lang)
        await show(update, text, markup, p.lang)
    elif what == Pressed.CHOOSE_FIRST:
        text, markup = render_step(draft, p.lang, _today(context, p))
        await show(update, t("report.choose_first", p.lang) + "\n\n" + text, markup, p.lang)
    elif what == Pressed.OLD_BUTTON:
        await reply(update, t("report.old_button", p.lang))
        await _reshow(update, context, p, draft)
    else:
        await _show_step(update, context, p, draft)


async def _reshow(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    text, markup = render_step(draft, p.lang, _today(context, p))
    await reply(update, text, markup)


async def tap_an_option(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    """Text typed at a step that wants a button: a short hint with the step again, in one
    message (the caller has already given the 112 answer if the text spoke of danger)."""
    text, markup = render_step(draft, p.lang, _today(context, p))
    await reply(update, t("report.tap_an_option", p.lang) + "\n\n" + text, markup)


async def description_text(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    """The free text of the description: redacted at once, only the redacted text is kept."""
    message = update.effective_message
    raw = (message.text or "") if message else ""
    services = context.services
    dropped = await form.describe(services.db, p.user_id, draft, raw, services.clock())
    if not dropped:
        await _reshow(update, context, p, draft)
        return
    # Never cut without a word: what was kept, and how to get the rest in.
    limit = f"{model.DESCRIPTION_LIMIT:,}".replace(",", " " if p.lang == "sv" else ",")
    note = t("report.description_shortened", p.lang, limit=limit, dropped=dropped)
    text, markup = render_step(draft, p.lang, _today(context, p))
    await reply(update, note + "\n\n" + text, markup)


async def _send(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    """Send: the workflow stores and queues the report; the reporter gets the receipt and
    what to do after an incident."""
    services = context.services
    ready = await form.ready_to_send(services.db, p.user_id, draft, services.clock())
    if ready != Pressed.SEND:
        if ready == Pressed.OLD_BUTTON:
            await reply(update, t("report.old_button", p.lang))
        await _reshow(update, context, p, draft)
        return
    assert p.routine is not None
    chat = update.effective_chat
    assert chat is not None
    report = await workflow.submit(
        services, p.routine, draft, p.user_id, chat.id, p.lang, update_id=update.update_id
    )
    services.outbox.kick_soon(context.application)
    await _receipt(update, context, p, report)


async def _receipt_again(update: Update, context: TryggContext, p: Profile) -> bool:
    """A Send handled again from the inbox after a crash: the report was stored, its draft is
    gone; show its reference again instead of "no report under way" (bot/inbox.py)."""
    services = context.services
    sealed = await services.db.receipt_of(update.update_id)
    if sealed is None:
        return False
    report = await services.db.get_report(services.sealer.unseal(sealed).decode())
    if report is None:
        return False
    await _receipt(update, context, p, report)
    return True


async def _receipt(update: Update, context: TryggContext, p: Profile, report: Report) -> None:
    """What the reporter is shown once the report is sent (again, if a crash came between)."""
    assert p.routine is not None
    services = context.services
    await show(update, t("report.sent_inline", p.lang, ref=report.ref), None, p.lang)
    await reply(update, await workflow.receipt(services, p.routine, report, p.lang))
    follow = find_situation(p.routine, "efter")
    if follow is not None:
        result = answer(p.routine, follow, services.clock())
        await reply(update, render_answer(result, p.lang, p.timezone))
