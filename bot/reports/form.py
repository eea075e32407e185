"""The report form as a machine: which button fits which step, and what a press does to a draft.

The draft is saved after every step (a restart, also kill -9, loses nothing), so `press` and
`describe` store it; what the user then sees is the handler's business (handlers/report.py
renders the step). A button from an earlier step or an old summary is not applied: `press`
says OLD_BUTTON, and the form shows the step as it is. The diagram is docs/report-form.mmd.
Plain functions on typed values: no Telegram, no SQL.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bot.reports import model
from bot.reports.anonymise import PLACEHOLDERS, anonymise
from bot.reports.model import CHOICES, SITUATION_TYPES, STEPS, Draft
from bot.storage import Database

__all__ = ["Press", "Pressed", "apply", "describe", "press", "ready_to_send", "start"]


class Pressed(enum.Enum):
    """What a press of a form button did."""

    STARTED = "started"  # a new draft (the intro comes first)
    RESUMED = "resumed"  # the draft under way goes on
    NO_DRAFT = "no_draft"  # no draft of this organisation: the button is from a sent report
    CANCEL_ASKED = "cancel_asked"  # one tap on Avbryt never loses a report
    CANCELLED = "cancelled"
    CANCEL_KEPT = "cancel_kept"
    EDIT_MENU = "edit_menu"
    SEND = "send"  # the caller sends with `ready_to_send` and the workflow's `submit`
    OLD_BUTTON = "old_button"  # the button does not fit the step: nothing changed
    CHOOSE_FIRST = "choose_first"  # Done on the impact step with nothing ticked yet
    CHANGED = "changed"  # applied and saved: show the step the draft is at now


@dataclass(frozen=True)
class Press:
    what: Pressed
    draft: Draft | None


async def start(
    db: Database, user_id: int, org_id: str, now: datetime, situation_id: str | None = None
) -> Press:
    """/rapportera or "Report this": a new draft (the situation may fill in the type), or the
    one under way for this organisation."""
    draft = await db.get_draft(user_id)
    if draft is not None and draft.org_id == org_id:
        return Press(Pressed.RESUMED, draft)
    draft = Draft(org_id=org_id)
    prefill = SITUATION_TYPES.get(situation_id or "")
    if prefill:  # the type step is then passed over; the own words still come first
        draft.values["type"] = prefill
    await db.save_draft(user_id, draft, now)
    return Press(Pressed.STARTED, draft)


async def press(
    db: Database, user_id: int, org_id: str, verb: str, rest: str, now: datetime
) -> Press:
    """One button of the form (`verb.rest`, as `set.type.hot`), on the user's draft."""
    if verb == "start":
        return await start(db, user_id, org_id, now, rest)
    draft = await db.get_draft(user_id)
    if draft is None or draft.org_id != org_id:
        return Press(Pressed.NO_DRAFT, None)
    if verb == "cancel":
        if rest == "yes":
            await db.delete_draft(user_id)
            return Press(Pressed.CANCELLED, draft)
        return Press(Pressed.CANCEL_KEPT if rest == "no" else Pressed.CANCEL_ASKED, draft)
    if verb == "send":
        return Press(Pressed.SEND, draft)
    if verb == "edit" and not rest:
        return Press(Pressed.EDIT_MENU, draft)
    if apply(draft, verb, rest) is None:
        if verb == "done" and rest == draft.step == "impact":
            return Press(Pressed.CHOOSE_FIRST, draft)  # this step's button, just too early
        return Press(Pressed.OLD_BUTTON, draft)
    await db.save_draft(user_id, draft, now)
    return Press(Pressed.CHANGED, draft)


async def describe(db: Database, user_id: int, draft: Draft, raw: str, now: datetime) -> int:
    """The free text of the description: redacted at once, only the redacted text is kept.

    A message is added to the text written before (people tell in several messages; "Skriv
    om" starts afresh). The whole is kept to DESCRIPTION_LIMIT characters; the count of
    characters that did not fit is returned, so the user can be told (0: all was kept).
    Redaction runs before the cut, so a cut never leaves half a phone number unrecognised.
    """
    added = anonymise(raw).text.strip()
    before = str(draft.values.get("description") or "")
    whole = f"{before}\n\n{added}" if before and added else (before or added)
    kept = _cut(whole, model.DESCRIPTION_LIMIT)
    draft.values["description"] = kept
    await db.save_draft(user_id, draft, now)
    return len(whole) - len(kept)


def _cut(text: str, limit: int) -> str:
    """`text` to at most `limit` characters, never ending in half a placeholder ("[tele")."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    start = cut.rfind("[")
    if start > cut.rfind("]") and any(text.startswith(p, start) for p in PLACEHOLDERS.values()):
        cut = cut[:start]
    return cut


async def ready_to_send(db: Database, user_id: int, draft: Draft, now: datetime) -> Pressed:
    """SEND when the draft may be sent; OLD_BUTTON when Send was pressed away from the summary;
    CHANGED when a required answer is missing (the draft is moved to it and saved)."""
    if draft.step != "summary":
        return Pressed.OLD_BUTTON
    missing = model.missing_steps(draft)
    if missing:
        draft.step = missing[0]
        await db.save_draft(user_id, draft, now)
        return Pressed.CHANGED
    return Pressed.SEND


# --- the machine -------------------------------------------------------------------------------


def _advance(draft: Draft) -> None:
    if draft.editing:
        draft.step = "summary"
        return
    if draft.step == "description":
        # The own words come first; after them, the first question not yet answered: the type
        # is passed over when the situation filled it in (Back still reaches it), and a draft
        # answered further (Back to the description, or saved by an older version) goes on
        # where it was.
        missing = model.missing_steps(draft)
        draft.step = missing[0] if missing else "summary"
        return
    draft.step = STEPS[min(STEPS.index(draft.step) + 1, len(STEPS) - 1)]


def _back(draft: Draft, rest: str) -> bool | None:
    index = STEPS.index(draft.step)
    if index == 0:
        return None
    draft.step = STEPS[index - 1]
    return True


def _to_summary(draft: Draft, rest: str) -> bool | None:
    if not draft.editing:
        return None
    draft.step = "summary"
    return True


def _edit(draft: Draft, rest: str) -> bool | None:
    if rest not in STEPS or rest == "summary" or draft.step != "summary":
        return None
    draft.editing = True
    draft.step = rest
    return True


def _toggle_impact(draft: Draft, code: str) -> None:
    chosen = set(draft.impacts())
    if code == "ingen":
        chosen = set() if "ingen" in chosen else {"ingen"}
    else:
        chosen.discard("ingen")
        chosen ^= {code}
    draft.values["impact"] = [c for c in model.IMPACTS if c in chosen]


def _set(draft: Draft, rest: str) -> bool | None:
    field, _, code = rest.partition(".")
    if field != draft.step:
        return None
    if field == "month":
        if code != model.MONTH_UNKNOWN and (len(code) != 7 or code[4] != "-"):
            return None
        draft.values["month"] = code
    elif code not in CHOICES.get(field, ()):
        return None
    elif field == "impact":
        _toggle_impact(draft, code)
        return True  # several may be chosen: stay on the step until Done
    else:
        draft.values[field] = code
    _advance(draft)
    return True


def _done(draft: Draft, rest: str) -> bool | None:
    if rest != "impact" or draft.step != "impact" or not draft.impacts():
        return None
    _advance(draft)
    return True


def _skip(draft: Draft, rest: str) -> bool | None:
    if rest != draft.step or rest not in model.OPTIONAL_STEPS:
        return None
    draft.values.pop(rest, None)
    _advance(draft)
    return True


def _keep(draft: Draft, rest: str) -> bool | None:
    if draft.step != "description" or not draft.values.get("description"):
        return None
    _advance(draft)
    return True


def _rewrite(draft: Draft, rest: str) -> bool | None:
    if draft.step != "description":
        return None
    draft.values.pop("description", None)
    return True


_VERBS: dict[str, Callable[[Draft, str], bool | None]] = {
    "back": _back,
    "summary": _to_summary,
    "edit": _edit,
    "set": _set,
    "done": _done,
    "skip": _skip,
    "keep": _keep,
    "rewrite": _rewrite,
}


def apply(draft: Draft, verb: str, rest: str) -> bool | None:
    """Apply one button to the draft; None when the button does not fit the current step.

    Pure, so the form's rules are tested without Telegram or a database.
    """
    step = _VERBS.get(verb)
    return None if step is None else step(draft, rest)
