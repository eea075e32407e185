"""The contact card: what it says (checked on its text model, not by reading pixels), its size,
and its cache."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from bot.health.card import (
    CLOCK_RESERVE,
    HEIGHT,
    WIDTH,
    CardCache,
    RenderedCard,
    build_card,
    card_key,
    contact_numbers,
    render_card,
    wrap,
)
from bot.routines.models import Routine
from bot.routines.registry import RoutineRegistry

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def registry() -> RoutineRegistry:
    registry = RoutineRegistry(REPO / "routines")
    registry.reload()
    return registry


def routine(registry: RoutineRegistry, org_id: str) -> Routine:
    found = registry.get(org_id)
    assert found is not None
    return found


def own_numbers(source: Routine) -> set[str]:
    return contact_numbers(list(source.contacts.values()))


def test_a_card_never_shows_another_organisations_numbers(registry: RoutineRegistry) -> None:
    solvik, norrmark = routine(registry, "solvik"), routine(registry, "region-norrmark")
    national = contact_numbers(list(registry.national.contacts.values()))
    for mine, other in ((solvik, norrmark), (norrmark, solvik)):
        for lang in ("sv", "en"):
            card = build_card(mine, lang)
            text = "\n".join(card.texts())
            assert not [n for n in own_numbers(other) if n in text]
            shown = {c.number for c in card.contacts() if c.number}
            assert shown and shown <= own_numbers(mine) | national
            assert own_numbers(mine) & shown  # the organisation's own numbers are there


def test_the_card_has_112_the_urgent_steps_and_the_routines_date(
    registry: RoutineRegistry,
) -> None:
    solvik = routine(registry, "solvik")
    card = build_card(solvik, "sv")
    assert card.title == "Solviks kommun (fiktiv)"
    assert card.emergency == "Akut fara: ring 112"
    assert card.steps[0].text is not None and card.steps[0].text.startswith("Ta dig i säkerhet")
    names = [s.contact.name for s in card.steps if s.contact]
    assert names[0] == "Tjänsteman i beredskap (TiB)"
    assert "Säkerhetssamordnare (Karin Holm)" in names
    coordinator = next(s.contact for s in card.steps if s.contact and "Karin" in s.contact.name)
    assert coordinator.number == "0980-31 92 10"
    assert coordinator.detail == "mån–tors 08:00–16:30; fre 08:00–15:00"
    assert coordinator.after_hours == "Nås inte? Tjänsteman i beredskap (TiB) 070-174 06 12"
    assert card.footer == "Ur rutinen granskad 2026-09-01 · Solviks kommun (fiktiv)"
    assert card.important[0].number == "114 14"  # the police: named in most situations
    english = build_card(solvik, "en")
    assert english.emergency == "Immediate danger: call 112"
    assert english.important_heading == "Important numbers"


def test_receivers_of_reports_come_first_among_important_numbers(
    registry: RoutineRegistry,
) -> None:
    card = build_card(routine(registry, "region-norrmark"), "sv")
    assert [c.number for c in card.important[:2]] == ["040-628 04 11", "040-628 04 10"]


def test_a_non_member_gets_the_national_card(registry: RoutineRegistry) -> None:
    card = build_card(registry.national, "sv")
    assert card.title == "Nationella kontakter"
    numbers = {c.number for c in card.contacts()}
    assert "114 14" in numbers and "116 006" in numbers
    assert card_key(registry.national) == "national"


def test_the_card_is_a_1080_by_1920_png_and_draws_what_it_says(
    registry: RoutineRegistry,
) -> None:
    from PIL import Image

    card = build_card(routine(registry, "solvik"), "sv")
    rendered = render_card(card)
    image = Image.open(io.BytesIO(rendered.png))
    assert image.format == "PNG" and image.size == (WIDTH, HEIGHT) == (1080, 1920)
    image.verify()
    drawn = "\n".join(rendered.drawn)
    assert "112" in rendered.drawn
    assert "0980-31 92 10" in drawn and "070-174 06 12" in drawn and "114 14" in drawn
    assert "2026-09-01" in drawn
    allowed = "\n".join(card.texts())
    for line in rendered.drawn:  # lines may be wrapped or shortened with "…", never invented
        assert re.sub(r"\s*…$", "", line) in allowed or re.fullmatch(r"\d+\.", line)


def test_long_texts_are_wrapped_and_shortened() -> None:
    from bot.health.card import _font

    font = _font(34, False)
    lines = wrap("ord " * 200, font, 500, 3)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(font.getlength(line) <= 500 for line in lines)
    assert wrap("x" * 300, font, 200, 10)[0] == "x" * len(wrap("x" * 300, font, 200, 10)[0])


def test_the_cache_keeps_a_card_until_the_routine_object_changes(
    registry: RoutineRegistry, tmp_path: Path
) -> None:
    solvik = routine(registry, "solvik")
    cache = CardCache(size=2)
    card = RenderedCard(b"png", ("112",))
    assert cache.get("solvik", "sv", solvik) is None
    cache.put("solvik", "sv", solvik, card)
    assert cache.get("solvik", "sv", solvik) is card
    assert cache.get("solvik", "en", solvik) is None
    other = RoutineRegistry(REPO / "routines")
    other.reload()
    assert cache.get("solvik", "sv", routine(other, "solvik")) is None  # a new routine object
    cache.put("a", "sv", solvik, card)
    cache.put("b", "sv", solvik, card)
    assert cache.get("solvik", "sv", solvik) is None  # least recently used, dropped
    assert cache.stored == 3


def test_notes_are_shortened_at_a_word_never_inside_one() -> None:
    from bot.health.card import _font

    font = _font(34, False)
    text = "Finns i din partiförenings medlemsinformation, annars vet din gruppledare. " * 4
    lines = wrap(text, font, 600, 2)
    assert lines[-1].endswith(" …")
    words = set(text.split())
    for line in lines:
        assert all(word in words for word in line.removesuffix(" …").split()), line


def test_the_top_is_left_free_for_the_lock_screen_clock(registry: RoutineRegistry) -> None:
    for source in (routine(registry, "solvik"), routine(registry, "region-norrmark")):
        for lang in ("sv", "en"):
            rendered = render_card(build_card(source, lang))
            assert rendered.top >= CLOCK_RESERVE >= HEIGHT // 4


def test_the_party_contact_has_its_hint_in_a_place_of_its_own(registry: RoutineRegistry) -> None:
    card = build_card(routine(registry, "solvik"), "sv")
    [hint] = card.hints
    assert hint.name == "Ditt partis säkerhetsansvarige"
    assert hint.hint.startswith("Finns i din partiförenings medlemsinformation")
    party = next(s.contact for s in card.steps if s.contact and "partis" in s.contact.name)
    assert party.number is None and party.detail is None  # the hint is not squeezed under it
    drawn = render_card(card).drawn
    assert "Ditt partis säkerhetsansvarige" in drawn
    whole = " ".join(drawn)
    assert "Partiet har huvudansvaret för ditt stöd." in whole  # all of it, not cut
    assert card.then == "Efter 112" and "Sedan" not in drawn
    assert build_card(routine(registry, "solvik"), "en").then == "After 112"
