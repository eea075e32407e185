"""The loader and the value parsers: what a coordinator reads when a file is wrong, and what a
valid file becomes."""

from __future__ import annotations

import shutil
from datetime import date, time
from pathlib import Path

import pytest

from bot.routines import values
from bot.routines.fallback import FALLBACK_NATIONAL
from bot.routines.loader import (
    NATIONAL_FILE,
    Problem,
    RoutineError,
    check_paths,
    load_directory,
    load_national,
    load_routine,
    routine_files,
)
from bot.routines.models import (
    NATIONAL_PREFIX,
    Duration,
    National,
    Reminders,
    Step,
    Text,
    Window,
)

FIXTURES = Path(__file__).parent / "fixtures" / "routines"
VALID = FIXTURES / "valid"
BROKEN = FIXTURES / "broken"

# Every broken fixture, with each problem the loader must report: the exact position and key
# path, and the start of the message. Files named national-* are national files.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "after-hours-loop": [
        ("11:18: contacts.sakerhet.after_hours", "after_hours loop: sakerhet -> tib -> jour -> "),
        ("20:18: contacts.vakt.after_hours", "after_hours loop: vakt -> vakt"),
    ],
    "contact-values": [
        ("11:12: contacts.sakerhet.phone", "'0620-68' is not a valid phone number"),
        ("12:12: contacts.sakerhet.email", "'sakerhet at exempel.se' is not an e-mail address"),
        ("13:13: contacts.sakerhet.hours[0]", '"mån-fre 08:00-16:30": "mån" is not a day'),
        ("13:36: contacts.sakerhet.hours[1]", '"sat 10.00-12:00": write times with a colon'),
        ("16:12: contacts.polis.phone", "'114 14' is a national short number"),
        ("17:23: contacts.polis.receives_reports", "expected true or false, got 'ja'"),
        ("18:3: contacts.national.tib", "an id cannot start with 'national.'"),
    ],
    "cron-range": [
        ("17:12: reminders.members", "'61 9 * * *' is not a valid cron expression"),
    ],
    "cron": [
        ("17:12: reminders.members", "'0 9 1 */3' has 4 fields, not five"),
        ("18:16: reminders.quiet_hours", "'21:00-21:00' starts and ends at the same time"),
    ],
    "duplicate-key": [
        ("12:5: contacts.sakerhet.phone", "duplicate key 'phone' (first on line 11)"),
        ("18:9: situations[1].id", "duplicate situation id 'hot' (first on line 14)"),
    ],
    "duration": [
        ("17:15: reminders.ack_within", "'24x' is not a duration: write a whole number"),
        ("18:18: reminders.followup[1]", "'0d' is zero: a duration must be at least 1, e.g. 1d"),
        ("18:22: reminders.followup[2]", "'2 weeks' is not a duration"),
        ("21:15: reminders.events[0].before", "'7' is not a duration"),
        ("23:12: retention", "'0mo' is zero"),
    ],
    "empty": [
        ("1:1", "the file is empty: it needs at least `schema: 1`"),
    ],
    "missing-required": [
        ("3:3: organisation.reviewed", "missing: this key is required"),
        ("3:3: organisation.owner", "missing: this key is required"),
        ("5:3: organisation.kind", "empty: this key needs a value"),
        ("8:5: contacts.sakerhet.name", "missing: this key is required"),
        ("10:5: situations[0].id", "missing: this key is required"),
        ("10:5: situations[0].steps", "missing: this key is required"),
        ("13:12: situations[1].steps", "empty: add at least one step"),
    ],
    "national-unknown-key": [
        ("2:1: organisation", "unknown key 'organisation' (known keys: schema, contacts, "),
        ("8:1: situaions", "unknown key 'situaions' (did you mean 'situations'?)"),
        ("9:5: situations[0].title", "missing: this key is required"),
        ("9:5: situations[0].steps", "missing: this key is required"),
    ],
    "national-values": [
        ("3:3: contacts", "the national file must have contact '112'"),
        (
            "6:18: contacts.polisen.after_hours",
            "unknown contact 'polisen-natt' (did you mean 'national.polisen-natt'?)",
        ),
        (
            "19:18: situations[0].steps[0].contact",
            "unknown contact 'polisen' (did you mean 'national.polisen'?)",
        ),
        ("23:18: situations[1].steps[0].contact", "unknown contact 'national.bo': the national"),
    ],
    "not-a-mapping": [
        ("2:1", "expected keys such as `schema: 1`, got a list"),
    ],
    "not-utf8": [
        ("4:10", "the file is not UTF-8 text (byte 0xE4 here): save it as UTF-8"),
    ],
    "org-id-mismatch": [
        ("3:7: organisation.id", "'exempelkommun' must equal the file name"),
    ],
    "org-id": [
        ("3:7: organisation.id", "'Västerås Stad' is not a valid id"),
    ],
    "organisation-values": [
        ("5:9: organisation.kind", "'komun' is not a kind (did you mean 'kommun'?)"),
        ("6:9: organisation.code", "expected a text, got a mapping"),
        (
            "7:13: organisation.timezone",
            "unknown time zone 'Europe/Stokholm' (did you mean 'Europe/Stockholm'?)",
        ),
        ("8:19: organisation.languages[1]", "unknown language 'de': the bot speaks sv and en"),
        ("8:23: organisation.languages[2]", "'sv' is listed twice"),
        ("9:13: organisation.reviewed", "'2026-02-30' is not a date: write YYYY-MM-DD"),
        ("10:17: organisation.review_every", "'12' is not a duration"),
    ],
    "reference": [
        (
            "7:10: organisation.owner",
            "unknown contact 'sakerhetschef' (did you mean 'sakerhet'?)",
        ),
        ("11:18: contacts.sakerhet.after_hours", "unknown contact 'national.tib': the national"),
        (
            "16:18: situations[0].steps[0].contact",
            "unknown contact 'sakerhte' (did you mean 'sakerhet'?)",
        ),
        (
            "17:18: situations[0].steps[1].contact",
            "unknown contact 'polisen' (did you mean 'national.polisen'?)",
        ),
        (
            "18:18: situations[0].steps[2].contact",
            "unknown contact 'national.polis' (did you mean 'national.polisen'?)",
        ),
        ("20:17: reminders.escalate_to[0]", "unknown contact 'kommundirektor': add it under"),
    ],
    "reminders": [
        ("17:12: reminders.members", "'daily' is not a schedule"),
        ("18:16: reminders.quiet_hours", "'21-08' is not a time range: '21' is not a time"),
        ("20:7: reminders.events[0].text", "missing: this key is required"),
        ("20:13: reminders.events[0].date", "'2026-13-01' is not a date"),
        ("22:7: reminders.events[1].when", "unknown key 'when' (known keys: date, before, text)"),
        ("22:7: reminders.events[1].date", "missing: this key is required"),
        ("22:7: reminders.events[1].before", "missing: this key is required"),
        ("22:7: reminders.events[1].text", "missing: this key is required"),
        ("23:15: reminders.ack_within", "expected a duration such as 24h, got a list"),
    ],
    "schema": [
        ("1:9: schema", "this bot reads schema 1, got '2'"),
    ],
    "situations": [
        ("14:13: situations[0].urgent", "expected true or false, got 'kanske'"),
        ("17:7: situations[0].match.de", "unknown language 'de'"),
        ("19:9: situations[0].steps[0]", "a step has either contact or text, not both"),
        ("21:9: situations[0].steps[1]", "empty step: write `contact: <id>` or `text: ...`"),
        ("22:9: situations[0].steps[2].contcat", "unknown key 'contcat' (did you mean 'contact'?)"),
        ("23:9: situations[0].steps[3]", "expected `contact: <id>` or `text: ...`, got 'national"),
        ("24:9: situations[0].steps[4].contact", "empty: this key needs a value"),
        ("25:9: situations[1].id", "duplicate situation id 'hot' (first on line 12)"),
    ],
    "text": [
        ("11:11: contacts.sakerhet.name", "the text has no 'sv' version, the default language"),
        ("12:29: contacts.sakerhet.note.de", "unknown language 'de': the bot speaks sv and en"),
        ("14:24: contacts.tib.name.en", "empty: expected a text"),
        ("17:12: situations[0].title", "empty: this key needs a value"),
        ("20:27: situations[0].steps[1].text", "'ta skärmdumpar' looks like the end of a text"),
    ],
    "unknown-key": [
        ("8:3: organisation.adress", "unknown key 'adress' (known keys: id, name, kind, code"),
        ("9:1: contcts", "unknown key 'contcts' (did you mean 'contacts'?)"),
        ("13:5: contacts.sakerhet.emial", "unknown key 'emial' (did you mean 'email'?)"),
    ],
    "wrong-type": [
        ("8:14: organisation.languages", "expected a list of languages, e.g. [sv, en], got a"),
        ("11:11: contacts.sakerhet.name", "expected a text or {sv: ..., en: ...}, got a list"),
        ("12:23: contacts.sakerhet.receives_reports", "expected true or false, got 'maybe'"),
        ("13:12: contacts.sakerhet.hours", "expected a list of opening hours"),
        ("15:3: situations", "expected a list of situations (- id: ...), got a mapping"),
    ],
    "yaml-syntax": [
        ("5:8", "invalid YAML: mapping values are not allowed here; check the indentation"),
    ],
    "yaml-tab": [
        ("3:1", "invalid YAML: found character '\\t' that cannot start any token; indent with"),
    ],
    "yaml-unclosed": [
        ("4:9", "invalid YAML: while scanning a quoted scalar: it is never closed"),
    ],
}


@pytest.fixture(scope="module")
def national() -> National:
    return load_national(VALID / NATIONAL_FILE)


def problems_of(path: Path, national: National) -> list[Problem]:
    with pytest.raises(RoutineError) as caught:
        if path.stem.startswith("national"):
            load_national(path)
        else:
            load_routine(path, national)
    return caught.value.problems


# ---------------------------------------------------------------------------------------------
# Broken files: one fixture per rule, every problem at once


def test_every_broken_fixture_has_expectations() -> None:
    assert sorted(path.stem for path in BROKEN.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_reports_every_problem(name: str, national: National) -> None:
    path = BROKEN / f"{name}.yaml"
    lines = [str(problem) for problem in problems_of(path, national)]
    assert len(lines) == len(EXPECTED[name]), "\n".join(lines)
    for line, (where, message) in zip(lines, EXPECTED[name], strict=True):
        assert line.startswith(f"{path}:{where}: {message}"), line


def test_unknown_key_line_reads_exactly(national: National) -> None:
    path = BROKEN / "unknown-key.yaml"
    lines = [str(problem) for problem in problems_of(path, national)]
    assert f"{path}:9:1: contcts: unknown key 'contcts' (did you mean 'contacts'?)" in lines


def test_a_misspelt_section_is_still_checked_and_not_reported_missing(national: National) -> None:
    problems = problems_of(BROKEN / "unknown-key.yaml", national)
    assert "contacts" not in {problem.key_path for problem in problems}
    assert any(problem.key_path == "contacts.sakerhet.emial" for problem in problems)


def test_routine_error_message_lists_every_problem(national: National) -> None:
    with pytest.raises(RoutineError) as caught:
        load_routine(BROKEN / "reference.yaml", national)
    assert str(caught.value).count("\n") == len(caught.value.problems) - 1
    assert "unknown contact 'sakerhte'" in str(caught.value)


def test_problem_without_key_path_has_no_empty_segment() -> None:
    problem = Problem(Path("routines/x.yaml"), 1, 1, "", "the file is empty")
    assert str(problem) == "routines/x.yaml:1:1: the file is empty"
    keyed = Problem(Path("routines/x.yaml"), 3, 5, "organisation.id", "bad")
    assert str(keyed) == "routines/x.yaml:3:5: organisation.id: bad"


def test_missing_file_is_a_problem_not_a_traceback(tmp_path: Path, national: National) -> None:
    with pytest.raises(RoutineError) as caught:
        load_routine(tmp_path / "nowhere.yaml", national)
    assert [str(p) for p in caught.value.problems] == [
        f"{tmp_path}/nowhere.yaml:1:1: file not found"
    ]


def test_unreadable_file_is_a_problem(
    tmp_path: Path, national: National, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "locked.yaml"
    path.write_text("schema: 1\n")

    def refuse(self: Path) -> bytes:
        raise PermissionError(13, "Permission denied", str(self))

    # The tests run as root, where chmod 000 does not stop reading.
    monkeypatch.setattr(Path, "read_bytes", refuse)
    with pytest.raises(RoutineError) as caught:
        load_routine(path, national)
    assert str(caught.value) == f"{path}:1:1: cannot be read: Permission denied"


def test_directory_instead_of_file_is_a_problem(tmp_path: Path, national: National) -> None:
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(RoutineError, match="is a directory"):
        load_routine(tmp_path / "dir.yaml", national)


def test_control_character_is_a_problem(tmp_path: Path, national: National) -> None:
    path = tmp_path / "bell.yaml"
    path.write_text("schema: 1\norganisation: \x07\n")
    with pytest.raises(RoutineError) as caught:
        load_routine(path, national)
    assert str(caught.value) == f"{path}:2:15: invalid character #x0007: remove it"


def test_duplicate_keys_are_found_anywhere(tmp_path: Path, national: National) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text("schema: 1\nschema: 1\nextra:\n  a: 1\n  a: 2\n")
    lines = [str(p) for p in problems_of(path, national)]
    assert (
        f"{path}:2:1: schema: duplicate key 'schema' (first on line 1): YAML would keep only "
        "the last one" in lines
    )
    assert any(line.startswith(f"{path}:5:3: extra.a: duplicate key 'a'") for line in lines)


def test_national_file_refuses_bare_references(tmp_path: Path) -> None:
    path = tmp_path / NATIONAL_FILE
    text = (VALID / NATIONAL_FILE).read_text().replace("national.polisen", "polisen")
    path.write_text(text)
    with pytest.raises(RoutineError, match=r"unknown contact 'polisen' \(did you mean 'national"):
        load_national(path)


# ---------------------------------------------------------------------------------------------
# Valid files


def test_national_file_builds_contacts_with_short_numbers(national: National) -> None:
    assert list(national.contacts) == ["112", "polisen", "brottsofferjouren", "1177", "11313"]
    police = national.contacts["polisen"]
    assert police.id == "national.polisen"
    assert police.is_national
    assert police.phone is not None
    assert (police.phone.national, police.phone.e164) == ("114 14", "11414")
    victims = national.contacts["brottsofferjouren"]
    assert victims.hours == (Window(days=frozenset(range(7)), start=540, end=1140),)
    assert victims.after_hours == "national.polisen"
    assert national.languages == ("sv", "en")
    assert national.source == VALID / NATIONAL_FILE


def test_national_urgent_situation_comes_first_and_starts_with_112(national: National) -> None:
    assert [s.id for s in national.situations] == ["akut", "oro"]
    acute = national.situations[0]
    assert acute.steps[0] == Step(contact="national.112")
    assert [step.contact for step in acute.steps] == ["national.112", None, "national.polisen"]
    assert acute.match == {"sv": ("kniv", "vapen"), "en": ("knife", "weapon")}


def test_example_file_builds_the_expected_routine(national: National) -> None:
    routine = load_routine(VALID / "exempelkommun.yaml", national)
    org = routine.organisation
    assert (org.id, org.name, org.kind, org.code) == (
        "exempelkommun",
        "Exempelkommun",
        "kommun",
        "9999",
    )
    assert org.languages == ("sv", "en")
    assert org.reviewed == date(2026, 9, 1)
    assert org.review_due == date(2027, 9, 1)
    assert org.owner == "sakerhet"
    assert routine.national is national
    assert routine.source == VALID / "exempelkommun.yaml"

    coordinator = routine.contacts["sakerhet"]
    assert coordinator.phone is not None
    assert coordinator.phone.national == "0620-68 20 00"
    assert coordinator.phone.e164 == "+46620682000"
    assert coordinator.email == "sakerhet@exempelkommun.se"
    assert coordinator.hours == (Window(days=frozenset(range(5)), start=480, end=990),)
    assert coordinator.after_hours == "tib"
    assert coordinator.receives_reports
    duty = routine.contacts["tib"]
    assert duty.phone is not None
    assert (duty.phone.national, duty.phone.e164) == ("0620-12 34 56", "+46620123456")
    party = routine.contacts["partiet"]
    assert party.phone is None
    assert party.note == Text(
        {
            "sv": "Finns i partiets medlemsregister.",
            "en": "Listed in your party's member register.",
        },
        "sv",
    )
    assert routine.receiving_contacts() == [coordinator]
    assert routine.contact("national.112") is national.contacts["112"]


def test_example_file_situations_and_reminders(national: National) -> None:
    routine = load_routine(VALID / "exempelkommun.yaml", national)
    assert [s.id for s in routine.situations] == ["akut", "hot"]
    acute = routine.situations[0]
    assert acute.urgent
    assert acute.title.get("en") == "Immediate danger"
    assert acute.match["sv"] == ("kniv", "vapen", "följer efter mig", "står utanför")
    assert [step.contact for step in acute.steps] == ["national.112", None, "sakerhet"]
    assert routine.reminders.events[0].date == date(2026, 9, 13)
    assert routine.reminders.events[0].before == Duration(7, "d")
    assert routine.reminders.quiet_start == time(21, 0)
    assert routine.reminders.quiet_end == time(8, 0)
    assert routine.retention == Duration(24, "mo")


def test_minimal_file_gets_every_default(national: National) -> None:
    routine = load_routine(VALID / "minimal-region.yaml", national)
    org = routine.organisation
    assert org.kind == "region"
    assert org.code is None
    assert org.timezone == "Europe/Stockholm"
    assert org.languages == ("sv",)
    assert org.review_every == Duration(12, "mo")
    assert routine.reminders == Reminders()
    assert routine.retention == Duration(24, "mo")
    contact = routine.contacts["sakerhet"]
    assert contact.name == Text({"sv": "Säkerhetschef"}, "sv")
    assert contact.hours is None
    assert not contact.receives_reports


def test_urgent_first_and_112_moved_in_front(national: National) -> None:
    routine = load_routine(VALID / "minimal-region.yaml", national)
    assert [s.id for s in routine.situations] == ["akut", "hot"]
    steps = routine.situations[0].steps
    assert steps[0] == Step(contact="national.112")
    assert [step.contact for step in steps] == ["national.112", None, "sakerhet"]


def test_112_is_added_when_an_urgent_situation_lacks_it(tmp_path: Path, national: National) -> None:
    path = tmp_path / "minimal-region.yaml"
    text = (
        (VALID / "minimal-region.yaml").read_text().replace("      - contact: national.112\n", "")
    )
    path.write_text(text)
    steps = load_routine(path, national).situations[0].steps
    assert [step.contact for step in steps] == ["national.112", None, "sakerhet"]


def test_forgiving_scalars(tmp_path: Path, national: National) -> None:
    """Unquoted values keep what was written: no octal codes, no Norwegian `false`."""
    path = tmp_path / "minimal-region.yaml"
    text = (
        (VALID / "minimal-region.yaml")
        .read_text()
        .replace(
            "  kind: region\n",
            "  kind: region\n  code: 0114\n  languages: sv\n  review_every: 6mo\n",
        )
        .replace(
            "    phone: 08-123 456 78\n", "    phone: 08-123 456 78\n    receives_reports: yes\n"
        )
    )
    path.write_text(text + "reminders:\n  quiet_hours: 22:00-07:00\n  members: 0 9 * * mon\n")
    routine = load_routine(path, national)
    assert routine.organisation.code == "0114"
    assert routine.organisation.languages == ("sv",)
    assert routine.organisation.review_every == Duration(6, "mo")
    assert routine.contacts["sakerhet"].receives_reports
    assert (routine.reminders.quiet_start, routine.reminders.quiet_end) == (time(22), time(7))
    assert routine.reminders.members == "0 9 * * mon"


def test_byte_order_mark_is_accepted(tmp_path: Path, national: National) -> None:
    path = tmp_path / "minimal-region.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (VALID / "minimal-region.yaml").read_bytes())
    assert load_routine(path, national).id == "minimal-region"


# ---------------------------------------------------------------------------------------------
# Directories and `trygg check`


def make_directory(tmp_path: Path, *broken: str) -> Path:
    directory = tmp_path / "routines"
    shutil.copytree(VALID, directory)
    for name in broken:
        shutil.copy(BROKEN / f"{name}.yaml", directory / f"{name}.yaml")
    return directory


def test_load_directory_separates_good_and_broken(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, "reference", "schema")
    (directory / "_template.yaml").write_text("not: [valid")
    (directory / "notes.txt").write_text("ignored")
    (directory / ".#exempelkommun.yaml").write_text("editor lock")
    result = load_directory(directory)
    assert sorted(result.routines) == ["exempelkommun", "minimal-region"]
    assert sorted(path.name for path in result.problems) == ["reference.yaml", "schema.yaml"]
    assert result.national.source == directory / NATIONAL_FILE


def test_load_directory_falls_back_when_national_is_broken(tmp_path: Path) -> None:
    directory = make_directory(tmp_path)
    (directory / NATIONAL_FILE).write_text("schema: 1\ncontacts: [\n")
    result = load_directory(directory)
    assert result.national is FALLBACK_NATIONAL
    assert list(result.problems) == [directory / NATIONAL_FILE]
    assert sorted(result.routines) == ["exempelkommun", "minimal-region"]


def test_routine_files_ignores_underscore_dot_and_other_suffixes(tmp_path: Path) -> None:
    for name in ("a.yaml", "_national.yaml", "_x.yaml", ".b.yaml", "c.yml", "d.yaml~"):
        (tmp_path / name).write_text("")
    assert routine_files(tmp_path) == [tmp_path / "a.yaml"]


def test_check_directory_lists_problems_of_every_file(tmp_path: Path) -> None:
    directory = make_directory(tmp_path, "schema", "cron-range")
    problems = check_paths([directory], tmp_path / "elsewhere")
    assert [str(p).removeprefix(f"{directory}/") for p in problems] == [
        "cron-range.yaml:17:12: reminders.members: '61 9 * * *' is not a valid cron expression: "
        "write weekly, monthly, quarterly or never, or a cron expression with five fields, "
        'e.g. "0 9 1 */3 *"',
        "schema.yaml:1:9: schema: this bot reads schema 1, got '2'",
    ]
    assert check_paths([VALID], tmp_path) == []


def test_check_file_uses_national_beside_it_else_routines_dir(tmp_path: Path) -> None:
    assert check_paths([VALID / "exempelkommun.yaml"], tmp_path) == []
    lone = tmp_path / "lone" / "minimal-region.yaml"
    lone.parent.mkdir()
    shutil.copy(VALID / "minimal-region.yaml", lone)
    assert check_paths([lone], VALID) == []
    problems = check_paths([lone], tmp_path / "missing")
    assert [str(p) for p in problems] == [f"{tmp_path}/missing/{NATIONAL_FILE}:1:1: file not found"]


def test_check_lists_a_broken_national_once(tmp_path: Path) -> None:
    directory = make_directory(tmp_path)
    (directory / NATIONAL_FILE).write_text("schema: 1\nschema: 1\n")
    problems = check_paths(
        [directory, directory / "exempelkommun.yaml", directory / NATIONAL_FILE], directory
    )
    national_problems = [p for p in problems if p.path.name == NATIONAL_FILE]
    assert len(national_problems) == len({str(p) for p in national_problems}) == 3
    assert all(p.path.name == NATIONAL_FILE for p in problems)


# ---------------------------------------------------------------------------------------------
# The built-in national contacts


def test_fallback_has_the_national_numbers() -> None:
    phones = {
        contact_id: (contact.phone.national, contact.phone.e164)
        for contact_id, contact in FALLBACK_NATIONAL.contacts.items()
        if contact.phone is not None
    }
    assert phones == {
        "112": ("112", "112"),
        "polisen": ("114 14", "11414"),
        "brottsofferjouren": ("116 006", "116006"),
        "1177": ("1177", "1177"),
        "11313": ("113 13", "11313"),
    }
    for contact_id, contact in FALLBACK_NATIONAL.contacts.items():
        assert contact.phone is not None
        assert contact.phone == values.parse_phone(contact.phone.raw, allow_short=True)
        assert set(contact.name.values) == {"sv", "en"}
        assert contact.id == NATIONAL_PREFIX + contact_id
    hours = FALLBACK_NATIONAL.contacts["brottsofferjouren"].hours
    assert hours == (Window(days=frozenset(range(7)), start=540, end=1140),)


def test_fallback_acute_situation_starts_with_112() -> None:
    acute = FALLBACK_NATIONAL.situation("akut")
    assert acute is not None
    assert acute.urgent
    assert acute.steps[0] == Step(contact="national.112")
    for step in acute.steps:
        if step.contact is not None:
            assert step.contact.removeprefix(NATIONAL_PREFIX) in FALLBACK_NATIONAL.contacts


def test_fallback_matches_the_national_fixture_numbers(national: National) -> None:
    for contact_id, contact in FALLBACK_NATIONAL.contacts.items():
        assert national.contacts[contact_id].phone == contact.phone


# ---------------------------------------------------------------------------------------------
# Value parsers


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("24h", Duration(24, "h")),
        ("12mo", Duration(12, "mo")),
        ("2 d", Duration(2, "d")),
        ("1w", Duration(1, "w")),
        ("30s", Duration(30, "s")),
        ("5m", Duration(5, "m")),
    ],
)
def test_parse_duration(raw: str, expected: Duration) -> None:
    assert values.parse_duration(raw) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("0h", "is zero"),
        ("24", "not a duration"),
        ("1.5h", "not a duration"),
        ("-1d", "not a duration"),
        ("12 months", "not a duration"),
        ("", "not a duration"),
    ],
)
def test_parse_duration_refuses(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_duration(raw)


def test_parse_phone_long_and_foreign_numbers() -> None:
    phone = values.parse_phone("+46 620 12 34 56", allow_short=False)
    assert (phone.national, phone.e164, phone.raw) == (
        "0620-12 34 56",
        "+46620123456",
        "+46 620 12 34 56",
    )
    mobile = values.parse_phone("070-123 45 67", allow_short=True)
    assert mobile.e164 == "+46701234567"
    norwegian = values.parse_phone("+47 22 00 00 00", allow_short=False)
    assert norwegian.national == "+47 22 00 00 00"


def test_parse_phone_short_numbers_only_in_the_national_file() -> None:
    assert values.parse_phone("116 006", allow_short=True).e164 == "116006"
    assert values.parse_phone(" 114  14 ", allow_short=True).national == "114 14"
    with pytest.raises(ValueError, match="national short number"):
        values.parse_phone("1177", allow_short=False)


# "0" and "00" once escaped as phonenumbers' own exception, past the loader's checks.
@pytest.mark.parametrize("raw", ["0620-68", "hello", "", "+46 1", "0", "00"])
def test_parse_phone_refuses(raw: str) -> None:
    with pytest.raises(ValueError, match="phone number"):
        values.parse_phone(raw, allow_short=True)


@pytest.mark.parametrize("raw", ["weekly", "monthly", "quarterly", "never", "0 9 1 */3 *"])
def test_parse_schedule(raw: str) -> None:
    assert values.parse_schedule(raw) == raw


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("weekli", "did you mean 'weekly'"),
        ("* * * * * *", "6 fields"),
        ("@daily", "not a schedule"),
        ("0 25 * * *", "not a valid cron"),
    ],
)
def test_parse_schedule_refuses(raw: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        values.parse_schedule(raw)


def test_parse_text() -> None:
    assert values.parse_text("Hej", "sv") == Text({"sv": "Hej"}, "sv")
    assert values.parse_text({"en": "Hi", "sv": "Hej"}, "en").get("sv") == "Hej"
    with pytest.raises(ValueError, match="no 'en' version"):
        values.parse_text({"sv": "Hej"}, "en")
    with pytest.raises(ValueError, match="unknown language 'fi'"):
        values.parse_text({"sv": "Hej", "fi": "Hei"}, "sv")
    with pytest.raises(ValueError, match="empty"):
        values.parse_text("  ", "sv")


def test_parse_timezone_clock_range_and_email() -> None:
    assert values.parse_timezone("Europe/Stockholm") == "Europe/Stockholm"
    with pytest.raises(ValueError, match="unknown time zone"):
        values.parse_timezone("../etc/passwd")
    assert values.parse_clock_range("08:00-17:00") == (time(8), time(17))
    with pytest.raises(ValueError, match="'24:00' is not a time"):
        values.parse_clock_range("21:00-24:00")
    assert values.parse_email(" a.b@kommun.se ") == "a.b@kommun.se"
    with pytest.raises(ValueError, match="not an e-mail address"):
        values.parse_email("a@b")


# ---------------------------------------------------------------------------------------------
# Robustness: a half-edited file is a list of problems, never a traceback


@pytest.mark.parametrize("name", ["exempelkommun.yaml", NATIONAL_FILE])
def test_every_single_line_deletion_is_handled(
    name: str, tmp_path: Path, national: National
) -> None:
    lines = (VALID / name).read_text(encoding="utf-8").split("\n")
    path = tmp_path / name
    for index in range(len(lines)):
        path.write_text("\n".join(lines[:index] + lines[index + 1 :]), encoding="utf-8")
        try:
            load_national(path) if name == NATIONAL_FILE else load_routine(path, national)
        except RoutineError as error:
            assert error.problems
            assert all(p.line >= 1 and p.column >= 1 for p in error.problems)


@pytest.mark.parametrize(
    ("text", "where", "hint"),
    [
        ("schema: 1\nreminders:\n  members: */5 * * * *\n", "3:13", 'e.g. "*/5 * * * *"'),
        ("schema: 1\nnote: @anna\n", "2:7", "must be in double quotes"),
        ('schema: 1\nnote: "Spara "allt"."\n', "2:15", "any quotes inside a quoted text"),
    ],
)
def test_yaml_errors_carry_a_hint(
    text: str, where: str, hint: str, tmp_path: Path, national: National
) -> None:
    path = tmp_path / "hint.yaml"
    path.write_text(text, encoding="utf-8")
    [problem] = problems_of(path, national)
    assert str(problem).startswith(f"{path}:{where}: invalid YAML: ")
    assert hint in problem.message
