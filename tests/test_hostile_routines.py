"""Routine files written by hand, and broken by hand: never a traceback, always a line number.

Hypothesis takes the example routine files and breaks them the ways an editor does (a line
deleted, duplicated or moved, indentation changed, a value replaced by arbitrary text, a tab, a
file cut off in the middle, bytes that are not UTF-8), several at a time. Whatever comes out:

- `trygg check` (`check_paths`) returns problems and never raises, and each problem points at a
  line and column of at least 1 in the file that was changed;
- the bot's registry reloads without raising, and keeps serving the organisation's last good
  version when the file does not load.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.routines.loader import check_paths
from bot.routines.registry import RoutineRegistry
from tests.conftest import ROUTINES

FILES = ("solvik.yaml", "region-norrmark.yaml", "_national.yaml")
ORIGINAL = {name: (ROUTINES / name).read_bytes() for name in FILES}
EXAMPLES = int(os.environ.get("TRYGG_HOSTILE_EXAMPLES", "150"))

# Text an editor might leave in a value: letters of any script, YAML's own punctuation, quotes,
# tabs and line breaks, control characters, emoji; never lone surrogates (not text in a file).
_CHARS = st.characters(blacklist_categories=("Cs",))
_YAML_NOISE = st.sampled_from(
    [":", ": ", "- ", "[", "]", "{", "}", "&a", "*a", "!!str", "!x", "|", ">", "#", "'", '"',
     "%YAML 1.1", "---", "...", "\t", "\n", "\r\n", "\x00", "\ufeff", "~", "null", "yes", "0x1F",
     "2026-13-45", "24:61", "mon-sun 25:00-26:00", "<<: *a", "? ", "@", "`"]
)  # fmt: skip
EDITS = [
    "delete", "duplicate", "swap", "indent", "dedent", "value", "tab", "insert", "truncate",
    "bytes", "join",
]  # fmt: skip
VALUE = st.one_of(st.text(_CHARS, max_size=40), _YAML_NOISE, st.integers().map(str))


@st.composite
def mutation(draw: st.DrawFn, lines: list[bytes]) -> list[bytes]:
    """One edit of the file's lines (each keeps its line ending)."""
    lines = list(lines)
    if not lines:
        return [draw(VALUE).encode("utf-8", "surrogatepass")]
    i = draw(st.integers(0, len(lines) - 1))
    kind = draw(st.sampled_from(EDITS))
    line = lines[i]
    if kind == "delete":
        del lines[i]
    elif kind == "duplicate":
        lines.insert(i, line)
    elif kind == "swap":
        j = draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
    elif kind == "indent":
        lines[i] = b" " * draw(st.integers(1, 5)) + line
    elif kind == "dedent":
        lines[i] = line.lstrip(b" ")[: len(line)] if draw(st.booleans()) else line[1:]
    elif kind == "value":
        key, colon, _ = line.partition(b":")
        new = draw(VALUE).encode("utf-8")
        lines[i] = (key + b": " + new + b"\n") if colon else new + b"\n"
    elif kind == "tab":
        at = draw(st.integers(0, len(line)))
        lines[i] = line[:at] + b"\t" + line[at:]
    elif kind == "insert":
        at = draw(st.integers(0, len(line)))
        lines[i] = line[:at] + draw(VALUE).encode("utf-8") + line[at:]
    elif kind == "truncate":
        cut = draw(st.integers(0, len(line)))
        lines = [*lines[:i], line[:cut]]
    elif kind == "bytes":
        at = draw(st.integers(0, len(line)))
        junk = draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x00", b"\xef\xbb\xbf"]))
        lines[i] = line[:at] + junk + line[at:]
    elif kind == "join" and i + 1 < len(lines):
        lines[i : i + 2] = [line.rstrip(b"\r\n") + b" " + lines[i + 1]]
    return lines


@st.composite
def broken_file(draw: st.DrawFn) -> tuple[str, bytes]:
    """A routine file name and its content after one to four edits."""
    name = draw(st.sampled_from(FILES))
    lines = ORIGINAL[name].splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 4))):
        lines = draw(mutation(lines))
    return name, b"".join(lines)


@pytest.fixture(scope="module")
def workdir() -> Iterator[Path]:
    """One directory for every example (hypothesis runs many inside one test)."""
    with tempfile.TemporaryDirectory(prefix="trygg-hostile-") as tmp:
        yield Path(tmp)


def _fresh_copy(workdir: Path) -> Path:
    routines = workdir / "routines"
    if routines.exists():
        shutil.rmtree(routines)
    shutil.copytree(ROUTINES, routines)
    return routines


def _assert_positioned(problems: list[object], path: Path, text: bytes) -> None:
    line_count = max(1, text.count(b"\n") + 1)
    for problem in problems:
        where = str(problem)
        assert problem.line >= 1, where  # type: ignore[attr-defined]
        assert problem.column >= 1, where  # type: ignore[attr-defined]
        assert problem.line <= line_count + 1, where  # type: ignore[attr-defined]
        assert problem.path == path, where  # type: ignore[attr-defined]
        assert problem.message, where  # type: ignore[attr-defined]
        assert "Traceback" not in where


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(broken_file())
def test_check_never_raises_and_every_problem_has_a_line(
    workdir: Path, case: tuple[str, bytes]
) -> None:
    name, content = case
    routines = _fresh_copy(workdir)
    path = routines / name
    path.write_bytes(content)
    problems = check_paths([path], routines)
    _assert_positioned(list(problems), path, content)
    if content == ORIGINAL[name]:
        assert problems == []


@settings(
    max_examples=max(20, EXAMPLES // 4),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(broken_file())
def test_the_registry_keeps_the_last_good_version_of_a_broken_file(
    workdir: Path, case: tuple[str, bytes]
) -> None:
    name, content = case
    routines = _fresh_copy(workdir)
    registry = RoutineRegistry(routines)
    registry.reload()
    assert {r.id for r in registry.organisations()} == {"solvik", "region-norrmark"}
    (routines / name).write_bytes(content)
    registry.reload()  # never raises
    for path, problems in registry.problems().items():
        _assert_positioned(list(problems), path, path.read_bytes())
    # Both organisations are still served: the new version, or the last good one.
    assert {r.id for r in registry.organisations()} == {"solvik", "region-norrmark"}
    assert registry.national is not None


def test_the_mutations_do_break_files() -> None:
    """The control: most of the edits above make a file that `trygg check` refuses, so the
    properties are about broken files, not about files that happen to still be valid."""
    broken = 0
    tried = 0

    @settings(max_examples=60, deadline=None, database=None)
    @given(broken_file())
    def count(case: tuple[str, bytes]) -> None:
        nonlocal broken, tried
        name, content = case
        with tempfile.TemporaryDirectory(prefix="trygg-hostile-") as tmp:
            routines = _fresh_copy(Path(tmp))
            (routines / name).write_bytes(content)
            tried += 1
            broken += bool(check_paths([routines / name], routines))

    count()
    assert tried >= 30 and broken >= tried // 3, (broken, tried)
