"""The registry under live edits: a broken file never makes things worse than before it."""

from __future__ import annotations

import logging
import os
import shutil
from datetime import UTC, datetime, timedelta
from itertools import count
from pathlib import Path

import pytest

from bot.routines.fallback import FALLBACK_NATIONAL
from bot.routines.loader import NATIONAL_FILE, load_directory
from bot.routines.registry import ReloadReport, RoutineRegistry

FIXTURES = Path(__file__).parent / "fixtures" / "routines"
VALID = FIXTURES / "valid"
BROKEN_TEXT = "schema: 1\norganisation:\n  id: [\n"

_stamps = count(1)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, minutes: int) -> None:
        self.now += timedelta(minutes=minutes)


def write(path: Path, text: str) -> None:
    """Write and give the file a new mtime, so that no test depends on the clock's resolution."""
    path.write_text(text, encoding="utf-8")
    stamp = 1_700_000_000_000_000_000 + next(_stamps) * 1_000_000_000
    os.utime(path, ns=(stamp, stamp))


@pytest.fixture
def directory(tmp_path: Path) -> Path:
    target = tmp_path / "routines"
    shutil.copytree(VALID, target)
    return target


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(directory: Path, clock: Clock) -> RoutineRegistry:
    registry = RoutineRegistry(directory, now=clock)
    registry.reload()
    return registry


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    write(path, text.replace(old, new))


def test_empty_until_the_first_reload(directory: Path) -> None:
    registry = RoutineRegistry(directory)
    assert registry.organisations() == []
    assert registry.national is FALLBACK_NATIONAL
    assert registry.changed()


def test_first_reload_adds_everything(directory: Path) -> None:
    registry = RoutineRegistry(directory)
    report = registry.reload()
    assert report == ReloadReport(added=("exempelkommun", "minimal-region"), national_changed=True)
    assert str(report) == "added exempelkommun, minimal-region; national contacts changed"
    assert [r.id for r in registry.organisations()] == ["exempelkommun", "minimal-region"]
    assert registry.national.source == directory / NATIONAL_FILE
    assert registry.problems() == {}
    assert not registry.changed()


def test_reload_without_changes_keeps_the_same_objects(registry: RoutineRegistry) -> None:
    before = registry.get("exempelkommun")
    report = registry.reload()
    assert report == ReloadReport()
    assert str(report) == "no changes"
    assert registry.get("exempelkommun") is before


def test_broken_file_keeps_last_good_and_others_untouched(
    registry: RoutineRegistry, directory: Path, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    good = registry.get("exempelkommun")
    other = registry.get("minimal-region")
    clock.advance(5)
    path = directory / "exempelkommun.yaml"
    edit(path, "  owner: sakerhet", "  owner: sakerhte")
    with caplog.at_level(logging.WARNING, logger="bot.routines.registry"):
        report = registry.reload()
    assert report.kept_last_good == ("exempelkommun",)
    assert report.failed == (path,)
    assert registry.get("exempelkommun") is good
    assert registry.get("minimal-region") is other
    [problem] = registry.problems()[path]
    assert str(problem) == (
        f"{path}:11:10: organisation.owner: unknown contact 'sakerhte' (did you mean 'sakerhet'?)"
    )
    assert registry.failing_since(path) == clock.now
    assert str(path) in caplog.text
    assert "unknown contact 'sakerhte'" in caplog.text
    assert all(record.levelno == logging.WARNING for record in caplog.records)


def test_failing_since_keeps_the_first_failure_and_clears_on_fix(
    registry: RoutineRegistry, directory: Path, clock: Clock
) -> None:
    path = directory / "exempelkommun.yaml"
    original = path.read_text(encoding="utf-8")
    write(path, BROKEN_TEXT)
    registry.reload()
    first_failure = clock.now
    clock.advance(10)
    write(path, BROKEN_TEXT + "# still broken\n")
    registry.reload()
    assert registry.failing_since(path) == first_failure
    write(path, original.replace("name: Exempelkommun", "name: Exempel kommun"))
    report = registry.reload()
    assert report.updated == ("exempelkommun",)
    assert registry.failing_since(path) is None
    assert path not in registry.problems()
    routine = registry.get("exempelkommun")
    assert routine is not None
    assert routine.organisation.name == "Exempel kommun"


def test_unchanged_problems_are_logged_once(
    registry: RoutineRegistry, directory: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write(directory / "exempelkommun.yaml", BROKEN_TEXT)
    with caplog.at_level(logging.WARNING, logger="bot.routines.registry"):
        registry.reload()
        logged = len(caplog.records)
        registry.reload()
    assert logged > 0
    assert len(caplog.records) == logged


def test_broken_at_first_start_serves_nothing_for_that_file(directory: Path, clock: Clock) -> None:
    path = directory / "exempelkommun.yaml"
    write(path, BROKEN_TEXT)
    registry = RoutineRegistry(directory, now=clock)
    report = registry.reload()
    assert registry.get("exempelkommun") is None
    assert registry.get("minimal-region") is not None
    assert report.added == ("minimal-region",)
    assert report.kept_last_good == ()
    assert report.failed == (path,)
    assert registry.failing_since(path) == clock.now


def test_deleted_file_removes_the_organisation(registry: RoutineRegistry, directory: Path) -> None:
    (directory / "minimal-region.yaml").unlink()
    assert registry.changed()
    report = registry.reload()
    assert report.removed == ("minimal-region",)
    assert registry.get("minimal-region") is None
    assert registry.get("exempelkommun") is not None


def test_deleted_broken_file_forgets_its_problems(
    registry: RoutineRegistry, directory: Path
) -> None:
    path = directory / "minimal-region.yaml"
    write(path, BROKEN_TEXT)
    registry.reload()
    path.unlink()
    report = registry.reload()
    assert report.removed == ("minimal-region",)
    assert registry.problems() == {}
    assert registry.failing_since(path) is None


def test_new_file_is_added(registry: RoutineRegistry, directory: Path) -> None:
    text = (VALID / "minimal-region.yaml").read_text(encoding="utf-8")
    write(directory / "ny-region.yaml", text.replace("id: minimal-region", "id: ny-region"))
    assert registry.changed()
    assert registry.reload().added == ("ny-region",)


def test_national_change_re_resolves_organisations(
    registry: RoutineRegistry, directory: Path
) -> None:
    edit(directory / NATIONAL_FILE, "name: {sv: Brottsofferjouren,", "name: {sv: BOJ,")
    report = registry.reload()
    assert report.national_changed
    assert report.updated == ()
    for routine in registry.organisations():
        assert routine.national is registry.national
        assert routine.contact("national.brottsofferjouren").name.get("sv") == "BOJ"


def test_removed_national_contact_breaks_only_the_org_that_uses_it(
    registry: RoutineRegistry, directory: Path
) -> None:
    old = registry.get("exempelkommun")
    national_path = directory / NATIONAL_FILE
    edit(national_path, "      - contact: national.polisen\n", "")
    edit(national_path, "    after_hours: national.polisen\n", "")
    edit(
        national_path,
        '  polisen:\n    name: {sv: "Polisen, när det inte är akut", en: "Police, '
        'non-emergency"}\n    phone: "114 14"\n',
        "",
    )
    report = registry.reload()
    assert report.national_changed
    assert report.kept_last_good == ("exempelkommun",)
    assert registry.get("exempelkommun") is old  # still resolves against the old national
    [problem] = registry.problems()[directory / "exempelkommun.yaml"]
    assert "unknown contact 'national.polisen'" in problem.message
    minimal = registry.get("minimal-region")
    assert minimal is not None
    assert minimal.national is registry.national
    assert "polisen" not in registry.national.contacts


def test_national_change_serves_what_a_fresh_load_gives(
    registry: RoutineRegistry, directory: Path
) -> None:
    """An unchanged file is not read again when the national file changes (only the national
    part is redone): what is served, and every problem, must be what a fresh start loads."""
    national_path = directory / NATIONAL_FILE
    edit(national_path, "name: {sv: Brottsofferjouren,", "name: {sv: BOJ,")
    edit(national_path, "sv: [kniv, vapen]", "sv: [pistol, kniv, gevär]")
    edit(national_path, "      - contact: national.1177\n", "")
    registry.reload()
    fresh = load_directory(directory)
    assert registry.national == fresh.national
    assert registry.organisations() == [fresh.routines[org] for org in sorted(fresh.routines)]
    akut = registry.get("exempelkommun").situation("akut")  # type: ignore[union-attr]
    assert akut is not None
    assert akut.match["sv"][-2:] == ("pistol", "gevär")  # the new national words, after the file's
    assert registry.problems() == fresh.problems == {}

    edit(national_path, "    after_hours: national.polisen\n", "")
    edit(national_path, "      - contact: national.polisen\n", "")
    edit(
        national_path,
        '  polisen:\n    name: {sv: "Polisen, när det inte är akut", en: "Police, '
        'non-emergency"}\n    phone: "114 14"\n',
        "",
    )
    report = registry.reload()
    fresh = load_directory(directory)
    assert report.kept_last_good == ("exempelkommun",)
    assert registry.problems() == fresh.problems  # the same problems, at the same lines
    assert list(fresh.problems) == [directory / "exempelkommun.yaml"]
    assert registry.get("minimal-region") == fresh.routines["minimal-region"]


def test_broken_national_keeps_the_last_good_one(
    registry: RoutineRegistry, directory: Path, clock: Clock
) -> None:
    national = registry.national
    organisations = registry.organisations()
    national_path = directory / NATIONAL_FILE
    write(national_path, "schema: 1\ncontacts: {\n")
    report = registry.reload()
    assert report.national_failed
    assert not report.national_changed
    assert registry.national is national
    assert registry.organisations() == organisations
    assert national_path in registry.problems()
    assert registry.failing_since(national_path) == clock.now


def test_deleted_national_keeps_the_last_good_one(
    registry: RoutineRegistry, directory: Path
) -> None:
    national = registry.national
    (directory / NATIONAL_FILE).unlink()
    report = registry.reload()
    assert report.national_failed
    assert registry.national is national
    assert "file not found" in str(registry.problems()[directory / NATIONAL_FILE][0])


def test_broken_national_at_first_start_uses_the_fallback(directory: Path) -> None:
    write(directory / NATIONAL_FILE, "- not a mapping\n")
    registry = RoutineRegistry(directory)
    report = registry.reload()
    assert report.national_failed
    assert registry.national is FALLBACK_NATIONAL
    # Both files refer only to national contacts the built-in national has.
    assert [r.id for r in registry.organisations()] == ["exempelkommun", "minimal-region"]
    routine = registry.get("minimal-region")
    assert routine is not None
    assert routine.contact("national.112").phone is not None


def test_fixed_national_reloads_organisations_that_failed_against_the_old_one(
    directory: Path,
) -> None:
    national_path = directory / NATIONAL_FILE
    good_national = national_path.read_text(encoding="utf-8")
    edit(
        directory / "minimal-region.yaml",
        "      - contact: sakerhet\n  - id: akut",
        "      - contact: national.nyhet\n  - id: akut",
    )
    registry = RoutineRegistry(directory)
    registry.reload()
    assert registry.get("minimal-region") is None
    write(
        national_path, good_national.replace("situations:", "contacts_extra: 1\nsituations:")
    )  # still broken
    registry.reload()
    assert registry.get("minimal-region") is None
    write(
        national_path,
        good_national.replace(
            '  "11313":', '  nyhet:\n    name: Nyhet\n    phone: "1177"\n  "11313":'
        ),
    )
    report = registry.reload()
    assert report.added == ("minimal-region",)
    assert registry.problems() == {}


def test_changed_detects_edits_additions_and_removals(
    registry: RoutineRegistry, directory: Path
) -> None:
    assert not registry.changed()
    edit(directory / "exempelkommun.yaml", "Exempelkommun\n", "Exempelkommun \n")
    assert registry.changed()
    registry.reload()
    assert not registry.changed()
    edit(directory / NATIONAL_FILE, "schema: 1", "schema: 1 ")
    assert registry.changed()
    registry.reload()
    write(directory / "notes.txt", "not a routine")
    write(directory / "_template.yaml", "not a routine either")
    write(directory / ".#exempelkommun.yaml", "an editor's lock file")
    assert not registry.changed()


def test_changed_when_the_directory_disappears(registry: RoutineRegistry, directory: Path) -> None:
    shutil.rmtree(directory)
    assert registry.changed()
    report = registry.reload()
    assert report.removed == ("exempelkommun", "minimal-region")
    assert report.national_failed
    assert registry.national.source == directory / NATIONAL_FILE  # the last good one
