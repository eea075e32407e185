"""The anonymous incident report: a guided form of buttons, one step at a time.

The half-filled report is a draft in the database, saved after every step, so a restart (also
kill -9) loses nothing and the user goes on where they were. Buttons name the step they belong
to; a button from an earlier step or an old summary is answered, never applied.
"""

from __future__ import annotations

import logging
from datetime import date
from zoneinfo import ZoneInfo

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.error import BadRequest

from bot.context import TryggContext
from bot.handlers import callbacks
from bot.handlers.cases import submit
from bot.handlers.common import Profile, profile, reply
from bot.handlers.render import render_answer
from bot.handlers.report_text import label, months, summary_lines
from bot.i18n import Html, t
from bot.reports import model
from bot.reports.anonymise import anonymise
from bot.reports.model import CHOICES, STEPS, Draft
from bot.routines.answer import answer, find_situation

log = logging.getLogger(__name__)

# Situations whose answer has a "Report this" button, and the type they pre-fill.
SITUATION_TYPES = {
    "hot": "hot",
    "nathat": "nathat",
    "forfoljelse": "forfoljelse",
    "narstaende": "hot",
    "skadegorelse": "skadegorelse",
    "forsandelse": "forsandelse",
    "sexuella": "sexuella",
    "paverkan": "paverkan",
    "akut": "hot",
    "efter": "annat",
    "oro": "annat",
}
_COLUMNS = {"type": 2, "channel": 2, "month": 3, "impact": 1, "gender": 2}


def report_button(situation_id: str, lang: str) -> InlineKeyboardButton:
    """The "Report this" button under a situation's answer."""
    return InlineKeyboardButton(
        t("button.report_this", lang), callback_data=callbacks.report(f"start.{situation_id}")
    )


def _nav(draft: Draft, lang: str) -> list[InlineKeyboardButton]:
    row = []
    if draft.step != STEPS[0] and not draft.editing:
        row.append(
            InlineKeyboardButton(t("button.back", lang), callback_data=callbacks.report("back"))
        )
    if draft.editing and draft.step != "summary":
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
    field: str, codes: list[str], draft: Draft, lang: str
) -> list[list[InlineKeyboardButton]]:
    chosen = draft.impacts() if field == "impact" else [draft.values.get(field)]
    buttons = [
        InlineKeyboardButton(
            ("✓ " if code in chosen else "") + label(field, code, lang),
            callback_data=callbacks.report(f"set.{field}.{code}"),
        )
        for code in codes
    ]
    width = _COLUMNS.get(field, 2)
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def render_step(draft: Draft, lang: str, today: date) -> tuple[Html, InlineKeyboardMarkup]:
    """The message and buttons of the draft's current step."""
    step = draft.step
    if step == "summary":
        return render_summary(draft, lang)
    number = STEPS.index(step) + 1
    head = t("report.step", lang, number=number, total=len(STEPS) - 1)
    question = t(f"report.ask.{step}", lang)
    rows: list[list[InlineKeyboardButton]] = []
    if step == "month":
        rows = _choice_rows("month", months(today), draft, lang)
    elif step == "description":
        if draft.values.get("description"):
            question = t("report.description_shown", lang, redacted=draft.values["description"])
            rows = [
                [
                    InlineKeyboardButton(
                        t("button.keep", lang), callback_data=callbacks.report("keep")
                    ),
                    InlineKeyboardButton(
                        t("button.rewrite", lang), callback_data=callbacks.report("rewrite")
                    ),
                ]
            ]
        rows.append(
            [
                InlineKeyboardButton(
                    t("button.skip", lang), callback_data=callbacks.report("skip.description")
                )
            ]
        )
    else:
        rows = _choice_rows(step, list(CHOICES[step]), draft, lang)
        if step == "impact":
            rows.append(
                [
                    InlineKeyboardButton(
                        t("button.done", lang), callback_data=callbacks.report("done.impact")
                    )
                ]
            )
        if step == "gender":
            rows.append(
                [
                    InlineKeyboardButton(
                        t("button.skip", lang), callback_data=callbacks.report("skip.gender")
                    )
                ]
            )
    rows.append(_nav(draft, lang))
    return Html(f"{head}\n{question}"), InlineKeyboardMarkup(rows)


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
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                t("button.to_summary", lang), callback_data=callbacks.report("summary")
            )
        ]
    )
    return t("report.edit_which", lang), InlineKeyboardMarkup(rows)


async def show(update: Update, text: str, markup: InlineKeyboardMarkup | None) -> None:
    """Edit the message the button was on, so the form stays one message; else send a new one."""
    query = update.callback_query
    if query is not None and query.message is not None:
        try:
            await query.edit_message_text(text, reply_markup=markup)
            return
        except BadRequest as error:
            if "not modified" in str(error).lower():
                return
            log.info(
                "could not edit the form message (%s); sending a new one", type(error).__name__
            )
    await reply(update, text, markup)


def _today(context: TryggContext, p: Profile) -> date:
    return context.services.clock().astimezone(ZoneInfo(p.timezone)).date()


async def _show_step(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    text, markup = render_step(draft, p.lang, _today(context, p))
    await show(update, text, markup)


async def _member_or_explain(update: Update, context: TryggContext) -> Profile | None:
    p = await profile(update, context)
    if p.routine is None or p.membership is None:
        await reply(update, t("report.members_only", p.lang))
        return None
    return p


async def report_command(update: Update, context: TryggContext) -> None:
    """/rapportera: start a report, or go on with the one under way."""
    p = await _member_or_explain(update, context)
    if p is None or p.routine is None:
        return
    db = context.services.db
    draft = await db.get_draft(p.user_id)
    if draft is not None and draft.org_id == p.routine.id:
        await reply(update, t("report.resumed", p.lang))
    else:
        draft = Draft(org_id=p.routine.id)
        await db.save_draft(p.user_id, draft, context.services.clock())
        await reply(update, t("report.intro", p.lang))
    await _show_step(update, context, p, draft)


async def cancel_command(update: Update, context: TryggContext) -> None:
    """/avbryt: drop the report under way, or a reply being written."""
    p = await profile(update, context)
    services = context.services
    dropped = False
    if await services.db.get_draft(p.user_id) is not None:
        await services.db.delete_draft(p.user_id)
        dropped = True
    for key in pending_keys(context, p.user_id):
        if await services.db.get_pending(key) is not None:
            await services.db.clear_pending(key)
            dropped = True
    await reply(update, t("report.cancelled" if dropped else "report.nothing_to_cancel", p.lang))


def pending_keys(context: TryggContext, user_id: int) -> list[str]:
    """The keys a user's pending input may be stored under: as coordinator, as reporter."""
    return [f"c:{user_id}", "r:" + context.services.sealer.owner_tag(user_id)]


async def report_button_pressed(update: Update, context: TryggContext, arg: str) -> None:
    """Every button of the form: `start.<situation>`, `set.<field>.<code>`, back, send, ..."""
    p = await _member_or_explain(update, context)
    if p is None or p.routine is None:
        return
    services = context.services
    verb, _, rest = arg.partition(".")
    draft = await services.db.get_draft(p.user_id)

    if verb == "start":
        if draft is None or draft.org_id != p.routine.id:
            draft = Draft(org_id=p.routine.id)
            prefill = SITUATION_TYPES.get(rest)
            if prefill:
                draft.values["type"] = prefill
                draft.step = "channel"
            await services.db.save_draft(p.user_id, draft, services.clock())
            await reply(update, t("report.intro", p.lang))
        else:
            await reply(update, t("report.resumed", p.lang))
        text, markup = render_step(draft, p.lang, _today(context, p))
        await reply(update, text, markup)
        return

    if draft is None or draft.org_id != p.routine.id:
        # Sent by this very update before a crash: show the reference again (bot/inbox.py).
        sealed = await services.db.receipt_of(update.update_id) if verb == "send" else None
        if sealed is not None:
            await _receipt(update, context, p, services.sealer.unseal(sealed).decode())
            return
        await show(update, t("report.no_draft", p.lang), None)
        return

    if verb == "cancel":
        await services.db.delete_draft(p.user_id)
        await show(update, t("report.cancelled", p.lang), None)
        return
    if verb == "send":
        await _send(update, context, p, draft)
        return
    if verb == "edit" and not rest:
        text, markup = render_edit_menu(draft, p.lang)
        await show(update, text, markup)
        return

    changed = apply(draft, verb, rest)
    if changed is None:
        await reply(update, t("report.old_button", p.lang))
        await _reshow(update, context, p, draft)
        return
    await services.db.save_draft(p.user_id, draft, services.clock())
    await _show_step(update, context, p, draft)


async def _reshow(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    text, markup = render_step(draft, p.lang, _today(context, p))
    await reply(update, text, markup)


def _advance(draft: Draft) -> None:
    if draft.editing:
        draft.step = "summary"
        return
    draft.step = STEPS[min(STEPS.index(draft.step) + 1, len(STEPS) - 1)]


def apply(draft: Draft, verb: str, rest: str) -> bool | None:
    """Apply one button to the draft; None when the button does not fit the current step.

    Pure, so the form's rules are tested without Telegram.
    """
    if verb == "back":
        index = STEPS.index(draft.step)
        if index == 0:
            return None
        draft.step = STEPS[index - 1]
        return True
    if verb == "summary":
        if not draft.editing:
            return None
        draft.step = "summary"
        return True
    if verb == "edit":
        if rest not in STEPS or rest == "summary" or draft.step != "summary":
            return None
        draft.editing = True
        draft.step = rest
        return True
    if verb == "set":
        field, _, code = rest.partition(".")
        if field != draft.step:
            return None
        if field == "month":
            if len(code) != 7 or code[4] != "-":
                return None
            draft.values["month"] = code
        elif code not in CHOICES.get(field, ()):
            return None
        elif field == "impact":
            chosen = set(draft.impacts())
            if code == "ingen":
                chosen = set() if "ingen" in chosen else {"ingen"}
            else:
                chosen.discard("ingen")
                chosen ^= {code}
            draft.values["impact"] = [c for c in model.IMPACTS if c in chosen]
            return True  # several may be chosen: stay on the step until Done
        else:
            draft.values[field] = code
        _advance(draft)
        return True
    if verb == "done" and rest == "impact" and draft.step == "impact":
        if not draft.impacts():
            return None
        _advance(draft)
        return True
    if verb == "skip" and rest == draft.step and rest in model.OPTIONAL_STEPS:
        draft.values.pop(rest, None)
        _advance(draft)
        return True
    if verb == "keep" and draft.step == "description" and draft.values.get("description"):
        _advance(draft)
        return True
    if verb == "rewrite" and draft.step == "description":
        draft.values.pop("description", None)
        return True
    return None


async def description_text(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    """The free text of the description: redacted at once, only the redacted text is kept."""
    message = update.effective_message
    raw = (message.text or "") if message else ""
    redacted = anonymise(raw[: model.DESCRIPTION_LIMIT]).text
    draft.values["description"] = redacted
    await context.services.db.save_draft(p.user_id, draft, context.services.clock())
    await _reshow(update, context, p, draft)


async def _send(update: Update, context: TryggContext, p: Profile, draft: Draft) -> None:
    if draft.step != "summary":
        await reply(update, t("report.old_button", p.lang))
        await _reshow(update, context, p, draft)
        return
    missing = model.missing_steps(draft)
    if missing:
        draft.step = missing[0]
        await context.services.db.save_draft(p.user_id, draft, context.services.clock())
        await _reshow(update, context, p, draft)
        return
    assert p.routine is not None
    chat = update.effective_chat
    assert chat is not None
    report = await submit(
        context, p.routine, draft, p.user_id, chat.id, p.lang, update_id=update.update_id
    )
    await _receipt(update, context, p, report.ref)


async def _receipt(update: Update, context: TryggContext, p: Profile, ref: str) -> None:
    """What the reporter is shown once the report is sent (again, if a crash came between)."""
    assert p.routine is not None
    await show(update, t("report.sent_inline", p.lang, ref=ref), None)
    await reply(update, t("report.sent", p.lang, ref=ref))
    follow = find_situation(p.routine, "efter")
    if follow is not None:
        result = answer(p.routine, follow, context.services.clock())
        await reply(update, render_answer(result, p.lang, p.timezone))
