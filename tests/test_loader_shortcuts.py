"""The loader's shortcuts for parts of a file with nothing wrong change nothing a user sees.

The loader reads the common shapes (a mapping of known keys, `{sv: ..., en: ...}`, a step, a list
of words) in one pass and leaves everything else to the general reading, which says what is
wrong. And it looks for repeated keys over the whole file only when reading saw one or found a
problem. These tests load many broken variants of the example files both with and without the
shortcuts, and repeat a key in every mapping of a valid file.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from bot.routines import loader
from bot.routines.loader import (
    NATIONAL_FILE,
    RoutineError,
    load_directory,
    load_national,
    load_routine,
)

VALID = Path(__file__).parent / "fixtures" / "routines" / "valid"
SHORTCUTS = ("_plain_entries", "_plain_texts", "_plain_step", "_plain_words")

# Values a coordinator might put anywhere: empty ones, wrong types, odd tags, near misses.
VALUES = [
    "",
    "~",
    "!!null",
    "!!null x",
    "! ''",
    "!!str ~",
    '""',
    "' '",
    "[]",
    "{}",
    "[a, ~]",
    '[a, ""]',
    "[a, [b]]",
    "{sv: x}",
    "{en: x}",
    "{sv: x, sv: y}",
    "{sv: ~, en: x}",
    '{" sv": x}',
    '{sv: x, en: ""}',
    "{sv: x, fi: y}",
    "{sv: Polisen, inte akut}",
    "{!!null sv: x}",
    "{[a]: x}",
    "{sv: [x]}",
    "{contact: sakerhet, text: y}",
    "{contact: ~}",
    "{a: 1, a: 2}",
    "national.polisen",
    "national.nope",
    "nope",
    "sakerhet",
    '"0980-319 273"',
    "maybe",
    "0d",
    "[sv, sv]",
    "[sv, fi]",
]


def _variants(text: str) -> list[str]:
    """Copies of `text` in which every line `key: value` has another value: each value of
    VALUES once at each such line, over as many copies as there are values."""
    lines = text.split("\n")
    keyed = [
        index
        for index, line in enumerate(lines)
        if ": " in line
        and not line.lstrip().startswith("#")
        and line.split(": ", 1)[1].strip()[:1] not in ("", "#", ">", "|")
    ]
    variants = []
    for turn in range(len(VALUES)):
        changed = list(lines)
        for number, index in enumerate(keyed):
            key = changed[index].split(": ", 1)[0]
            changed[index] = f"{key}: {VALUES[(turn + number) % len(VALUES)]}"
        variants.append("\n".join(changed))
    return variants


def test_shortcuts_give_what_the_general_reading_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "routines"
    shutil.copytree(VALID, directory)
    for name in ("exempelkommun", "minimal-region"):
        text = (VALID / f"{name}.yaml").read_text(encoding="utf-8")
        for number, variant in enumerate(_variants(text)):
            variant = variant.replace(f"id: {name}", f"id: {name}-{number}", 1)
            (directory / f"{name}-{number}.yaml").write_text(variant, encoding="utf-8")
    with_shortcuts = load_directory(directory)
    for name in SHORTCUTS:
        monkeypatch.setattr(loader, name, lambda *args: None)
    # The same objects and problems, and each problem's message: Problem compares them all.
    assert load_directory(directory) == with_shortcuts
    # Each variant is read to its end: none is refused for its YAML alone.
    problems = with_shortcuts.problems
    assert len(problems) == 2 * len(VALUES)
    assert not any(p.message.startswith("invalid YAML") for f in problems.values() for p in f)


def _mappings(node: Node) -> list[MappingNode]:
    found = [node] if isinstance(node, MappingNode) else []
    if isinstance(node, MappingNode):
        for _, value in node.value:
            found.extend(_mappings(value))
    elif isinstance(node, SequenceNode):
        for item in node.value:
            found.extend(_mappings(item))
    return found


@pytest.mark.parametrize("name", ["exempelkommun.yaml", "minimal-region.yaml", NATIONAL_FILE])
def test_a_repeated_key_is_found_in_every_mapping(tmp_path: Path, name: str) -> None:
    text = (VALID / name).read_text(encoding="utf-8")
    national = load_national(VALID / NATIONAL_FILE)
    for index in range(len(_mappings(yaml.compose(text)))):
        root = yaml.compose(text)
        mapping = _mappings(root)[index]
        mapping.value.append(copy.deepcopy(mapping.value[0]))
        path = tmp_path / name
        path.write_text(yaml.serialize(root, allow_unicode=True), encoding="utf-8")
        with pytest.raises(RoutineError) as raised:
            load_national(path) if name == NATIONAL_FILE else load_routine(path, national)
        assert any("duplicate key" in problem.message for problem in raised.value.problems)
