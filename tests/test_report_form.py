"""The report form's rules, without Telegram: steps, Back, Edit, toggles and old buttons."""

from __future__ import annotations

from datetime import date

from bot.handlers.report import apply, render_step
from bot.handlers.report_text import months
from bot.reports.model import STEPS, Draft, missing_steps


def _filled() -> Draft:
    draft = Draft(org_id="solvik")
    for verb, rest in [
        ("set", "type.hot"),
        ("set", "channel.epost"),
        ("set", "month.2026-11"),
        ("set", "repeated.ja"),
        ("set", "perpetrator.okand"),
        ("set", "police.planerar"),
        ("set", "impact.avstod"),
        ("set", "impact.rutiner"),
        ("done", "impact"),
        ("skip", "gender"),
        ("skip", "description"),
        ("set", "contact_me.ja"),
    ]:
        assert apply(draft, verb, rest), (verb, rest, draft.step)
    return draft


def test_the_steps_follow_the_order_of_the_form() -> None:
    draft = _filled()
    assert draft.step == "summary"
    assert missing_steps(draft) == []
    assert draft.impacts() == ["avstod", "rutiner"]
    assert "gender" not in draft.values


def test_a_button_of_another_step_changes_nothing() -> None:
    draft = Draft(org_id="solvik")
    assert apply(draft, "set", "channel.epost") is None
    assert apply(draft, "set", "type.no_such_code") is None
    assert apply(draft, "send", "") is None
    assert draft.step == "type" and draft.values == {}


def test_back_goes_one_step_back_and_keeps_the_answer() -> None:
    draft = Draft(org_id="solvik")
    apply(draft, "set", "type.hot")
    apply(draft, "set", "channel.brev")
    assert apply(draft, "back", "")
    assert draft.step == "channel"
    assert draft.values["channel"] == "brev"
    apply(draft, "back", "")
    assert apply(draft, "back", "") is None  # nothing before the first step


def test_edit_from_the_summary_returns_to_the_summary() -> None:
    draft = _filled()
    assert apply(draft, "edit", "channel")
    assert draft.step == "channel" and draft.editing
    assert apply(draft, "set", "channel.telefon")
    assert draft.step == "summary"
    assert draft.values["channel"] == "telefon"


def test_no_impact_excludes_the_others() -> None:
    draft = Draft(org_id="x", step="impact")
    apply(draft, "set", "impact.avstod")
    apply(draft, "set", "impact.ingen")
    assert draft.impacts() == ["ingen"]
    apply(draft, "set", "impact.overvagt")
    assert draft.impacts() == ["overvagt"]
    apply(draft, "set", "impact.overvagt")
    assert draft.impacts() == []
    assert apply(draft, "done", "impact") is None  # at least one choice


def test_months_offered_are_the_last_twelve() -> None:
    offered = months(date(2026, 1, 31))
    assert offered[:3] == ["2026-01", "2025-12", "2025-11"]
    assert len(offered) == 12


def test_every_step_renders_with_cancel_and_labels_in_both_languages() -> None:
    draft = _filled()
    for step in STEPS:
        draft.step = step
        for lang in ("sv", "en"):
            text, markup = render_step(draft, lang, date(2026, 11, 24))
            assert text
            flat = [b.callback_data for row in markup.inline_keyboard for b in row]
            assert "rep:cancel" in flat
