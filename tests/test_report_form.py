"""The report form's rules, without Telegram: steps, Back, Edit, toggles and old buttons."""

from __future__ import annotations

from datetime import date

from bot.handlers.report import render_step
from bot.reports.form import apply
from bot.reports.model import STEPS, Draft, missing_steps
from bot.reports.texts import label, months


def _filled() -> Draft:
    draft = Draft(org_id="solvik")
    for verb, rest in [
        ("skip", "description"),
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
    draft = Draft(org_id="solvik", step="type")
    assert apply(draft, "set", "channel.epost") is None
    assert apply(draft, "set", "type.no_such_code") is None
    assert apply(draft, "send", "") is None
    assert draft.step == "type" and draft.values == {}


def test_the_own_words_come_first_and_may_be_skipped() -> None:
    draft = Draft(org_id="solvik")
    assert STEPS[0] == draft.step == "description"
    assert apply(draft, "set", "type.hot") is None  # a type button before the step is old
    assert apply(draft, "skip", "description")
    assert draft.step == "type"


def test_a_type_filled_in_from_the_situation_is_passed_over() -> None:
    draft = Draft(org_id="solvik", values={"type": "nathat"})
    assert apply(draft, "skip", "description")
    assert draft.step == "channel"
    assert apply(draft, "back", "") and draft.step == "type"  # still reachable


def test_dont_know_and_still_going_on_are_answers() -> None:
    draft = _filled()
    for field, code in (
        ("repeated", "pagar"),
        ("repeated", "vet_inte"),
        ("perpetrator", "vet_inte"),
    ):
        assert apply(draft, "edit", field)
        assert apply(draft, "set", f"{field}.{code}")
        assert draft.values[field] == code and draft.step == "summary"
    assert missing_steps(draft) == []


def test_back_goes_one_step_back_and_keeps_the_answer() -> None:
    draft = Draft(org_id="solvik", step="type")
    apply(draft, "set", "type.hot")
    apply(draft, "set", "channel.brev")
    assert apply(draft, "back", "")
    assert draft.step == "channel"
    assert draft.values["channel"] == "brev"
    apply(draft, "back", "")
    assert apply(draft, "back", "") and draft.step == "description"
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


def test_months_are_shown_in_words_and_odd_values_do_not_fail() -> None:
    assert label("month", "2026-10", "sv") == "oktober 2026"
    assert label("month", "2026-10", "en") == "October 2026"
    assert label("month", "vet_inte", "sv") == "Vet inte"
    assert label("month", "nonsense", "sv") == "nonsense"
    assert label("month", "2026-13", "sv") == "2026-13"
    draft = Draft(org_id="solvik", step="month")
    _, markup = render_step(draft, "sv", date(2026, 11, 24))
    shown = [b.text for row in markup.inline_keyboard for b in row]
    assert "november 2026" in shown and "december 2025" in shown
    assert not [text for text in shown if "2026-" in text]


def test_every_step_renders_with_cancel_and_labels_in_both_languages() -> None:
    draft = _filled()
    for step in STEPS:
        draft.step = step
        for lang in ("sv", "en"):
            text, markup = render_step(draft, lang, date(2026, 11, 24))
            assert text
            flat = [b.callback_data for row in markup.inline_keyboard for b in row]
            assert "rep:cancel" in flat


def test_after_the_own_words_the_form_goes_on_where_it_was() -> None:
    draft = _filled()
    draft.editing = False
    draft.step = "description"  # Back all the way, or a draft saved by an older version
    assert apply(draft, "skip", "description")
    assert draft.step == "summary"
    del draft.values["police"]
    draft.step = "description"
    assert apply(draft, "skip", "description")
    assert draft.step == "police"
