"""The danger corpus: every sentence of present danger gets the acute answer, in both languages.

`tests/fixtures/triage/corpus.yaml` holds sentences as officials type them on a phone in a hurry
(misspellings, no punctuation, dialect, emoji). Danger recall must be 100% against every example
routine; the share of ordinary sentences treated as danger is bounded, since a false alarm only
puts 112 first, while a miss may cost a life.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest
import yaml

from bot.routines.answer import situations_for
from bot.routines.loader import load_national, load_routine
from bot.routines.models import National, Routine, Situation
from bot.routines.triage import triage

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO / "tests" / "fixtures" / "triage" / "corpus.yaml"
FALSE_ALARMS_AT_MOST = 0.08  # measured 11 of 208 (5.3%): talk *about* knives, guns and fire


def _corpus() -> dict[str, dict[str, list[str]]]:
    data: dict[str, dict[str, list[str]]] = yaml.safe_load(CORPUS.read_text("utf-8"))
    return data


@cache
def _sources() -> dict[str, Routine | National]:
    national = load_national(REPO / "routines" / "_national.yaml")
    sources: dict[str, Routine | National] = {"national": national}
    for org in ("solvik", "region-norrmark"):
        sources[org] = load_routine(REPO / "routines" / f"{org}.yaml", national)
    return sources


def _situations(source: str) -> tuple[Situation, ...]:
    return situations_for(_sources()[source])


def test_the_corpus_is_big_enough_in_both_languages() -> None:
    corpus = _corpus()
    for kind in ("danger", "ordinary"):
        assert sum(len(v) for v in corpus[kind].values()) >= 200, kind
        for lang in ("sv", "en"):
            assert len(corpus[kind][lang]) >= 60, (kind, lang)
            assert all(isinstance(s, str) and s for s in corpus[kind][lang])


@pytest.mark.parametrize("source", ["national", "solvik", "region-norrmark"])
def test_every_danger_sentence_gets_the_acute_answer(source: str) -> None:
    situations = _situations(source)
    missed = [
        (lang, sentence)
        for lang, sentences in _corpus()["danger"].items()
        for sentence in sentences
        if not (result := triage(sentence, situations, lang)).acute
        or result.best is None
        or not result.best.urgent
    ]
    assert missed == []


@pytest.mark.parametrize("source", ["national", "solvik", "region-norrmark"])
def test_few_ordinary_sentences_are_taken_for_danger(source: str) -> None:
    situations = _situations(source)
    ordinary = [(lang, s) for lang, sentences in _corpus()["ordinary"].items() for s in sentences]
    alarms = [(lang, s) for lang, s in ordinary if triage(s, situations, lang).acute]
    assert len(alarms) / len(ordinary) <= FALSE_ALARMS_AT_MOST, alarms


@pytest.mark.parametrize(
    ("lang", "sentence"),
    [
        ("sv", "någon bankar på dörren och skriker att han ska döda mig"),
        ("en", "someone is banging on the door and shouting that he will kill me"),
        ("sv", "han hotar mig med en yxa"),
        ("sv", "någon har tänt eld på min bil"),
        ("sv", "🔪"),
        ("sv", "Hjälp!!"),
    ],
)
def test_the_misses_of_the_issue_are_danger_in_both_languages(lang: str, sentence: str) -> None:
    assert triage(sentence, _situations("solvik"), lang).acute


def test_danger_at_the_end_of_a_long_message_is_found() -> None:
    story = "Det började med några mejl förra året och sedan blev det fler. " * 46
    text = story + "\nIgår kväll stod han utanför mitt hus igen med en kniv"
    assert len(text) > 2900
    assert triage(text, _situations("solvik"), "sv").acute


@pytest.mark.parametrize(
    ("lang", "sentence", "expected"),
    [
        ("sv", "jag ringer dig gärna i morgon", None),  # not a threat
        ("en", "someone keeps calling me at night", "hot"),
        ("sv", "någon ringer mig hela tiden på natten", "hot"),
    ],
)
def test_calls_are_told_apart(lang: str, sentence: str, expected: str | None) -> None:
    result = triage(sentence, _situations("solvik"), lang)
    assert not result.acute
    assert (result.best.id if result.best else None) == expected
