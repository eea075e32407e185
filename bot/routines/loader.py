"""Load and check routine files (ROUTINES.md) into the domain objects of `models`.

Security coordinators edit these files by hand and are not programmers, so the loader walks the
YAML node tree (`yaml.compose`) rather than loaded Python values: every node keeps its position,
so each problem can be told as `path:line:column: key.path: what is wrong`, and every problem of a
file is collected before the file is refused. Keys are read in a fixed order (organisation first,
because its languages decide what a text must contain), whatever their order in the file.

Scalars are read as the text the coordinator wrote (`node.value`), not as YAML 1.1 types: that
keeps `code: 0114` from becoming the octal number 76, `quiet_hours: 21:00` from becoming 1260 and
`languages: [sv, no]` from turning Norwegian into `False`.

The national file, `routines/_national.yaml`, has this format (schema 1):

    schema: 1
    contacts:                       # required: id -> contact, the same keys as in an organisation
      "112":                        # ids are plain names; quote the ones YAML would read as numbers
        name: {sv: SOS Alarm (112), en: SOS Alarm (112)}
        phone: "112"                # short numbers (112, 114 14, 116 006, 1177, 113 13) allowed
      brottsofferjouren:
        name: {sv: Brottsofferjouren, en: Victim Support Sweden}
        phone: "116 006"
        hours: ["mon-sun 09:00-19:00"]
    situations:                     # required: the same format as in an organisation
      - id: akut
        title: {sv: Akut fara, en: Immediate danger}
        urgent: true
        steps:
          - contact: national.112   # always `national.<id>`, as in organisation files

Every reference inside it (`contact`, `after_hours`) is written `national.<id>` and names one of its
own contacts; a bare id is an error that suggests the prefixed form, so that a step reads the same
in both kinds of file. Texts may be plain strings or `{sv: ..., en: ...}` with `sv`, the default
language. It must have a contact `112`, since acute danger always starts with it.

Normalisation, in both kinds of file: urgent situations come first (the order is kept otherwise),
and an urgent situation always starts with `national.112`; a file that lists it elsewhere, or not
at all, gets it moved or added in front without an error.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import operator
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from bot.routines import hours as hours_module
from bot.routines import values
from bot.routines.fallback import FALLBACK_NATIONAL
from bot.routines.models import (
    DEFAULT_TIMEZONE,
    NATIONAL_PREFIX,
    SUPPORTED_LANGUAGES,
    Contact,
    Duration,
    Event,
    Hours,
    National,
    Organisation,
    Phone,
    Reminders,
    Routine,
    Situation,
    Step,
    Text,
)

NATIONAL_FILE = "_national.yaml"
SCHEMA_VERSION = 1
EMERGENCY_REF = NATIONAL_PREFIX + "112"
DEFAULT_RETENTION = Duration(24, "mo")
DEFAULT_REVIEW_EVERY = Duration(12, "mo")

_ORG_ID = re.compile(r"^[a-z0-9-]{2,40}$")
_NULL_TAG = "tag:yaml.org,2002:null"
_KINDS = ("kommun", "region")

_ORG_TOP = ("schema", "organisation", "contacts", "situations", "reminders", "retention")
_ORG_TOP_REQUIRED = ("schema", "organisation", "contacts", "situations")
_NATIONAL_TOP = ("schema", "contacts", "situations")
_ORGANISATION = (
    "id",
    "name",
    "kind",
    "code",
    "timezone",
    "languages",
    "reviewed",
    "review_every",
    "owner",
)
_ORGANISATION_REQUIRED = ("id", "name", "kind", "reviewed", "owner")
_CONTACT = (
    "name",
    "person",
    "phone",
    "email",
    "hours",
    "after_hours",
    "receives_reports",
    "note",
)
_SITUATION = ("id", "title", "urgent", "match", "steps")
_SITUATION_REQUIRED = ("id", "title", "steps")
_STEP = ("contact", "text")
_REMINDERS = (
    "members",
    "ack_within",
    "ack_repeat",
    "ack_every",
    "escalate_to",
    "followup",
    "quiet_hours",
    "events",
)
ACK_REPEAT_MAX = 20
"""The most acknowledgement reminders a file may ask for: more would be noise, not a call."""


def parse_repeat(raw: str) -> int:
    """`ack_repeat`: how many acknowledgement reminders, a whole number 1..ACK_REPEAT_MAX."""
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= ACK_REPEAT_MAX:
        raise ValueError(f"'{raw}' is not a whole number from 1 to {ACK_REPEAT_MAX}")
    return int(text)


_EVENT = ("date", "before", "text")

# `{sv: Polisen, inte akut}` is a mapping with a second key "inte akut": the text was cut.
_CUT_AT_COMMA = (
    "'{rest}' looks like the end of a text cut at a comma: "
    'put a text that has a comma in quotes, e.g. {{sv: "Polisen, inte akut"}}'
)

_QUOTE_IT = "; a value that starts with this character must be in double quotes"
_YAML_HINTS = {
    "'\\t'": "; indent with spaces, not tabs",
    "mapping values are not allowed here": (
        "; check the indentation of this line and the one above, or put a text with ': ' in quotes"
    ),
    "cannot start any token": _QUOTE_IT,
    "while scanning an alias": _QUOTE_IT.replace("this character", "*") + ', e.g. "*/5 * * * *"',
    "expected <block end>": "; check the indentation, and any quotes inside a quoted text",
    # `{sv: Hot: mejl}`: a colon inside braces ends the key or value early.
    "but got ':'": ('; a text with a colon inside { } must be quoted, e.g. {sv: "Hot: mejl"}'),
}

T = TypeVar("T")
Read = Callable[[Node, str], "T | None"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a file, positioned so an editor can jump to it (1-based line, column)."""

    path: Path
    line: int
    column: int
    key_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}:{self.column}"
        if self.key_path:
            return f"{where}: {self.key_path}: {self.message}"
        return f"{where}: {self.message}"


class RoutineError(Exception):
    """A file that cannot be used, with every problem found in it, in file order."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(problem) for problem in self.problems))


@dataclass(frozen=True)
class LoadedRoutine:
    """A loaded organisation file, with what it says apart from the national file.

    Only two things of a routine depend on the national file: whether its references to
    `national.<id>` resolve, and the national `match` words added to its situations. So a new
    national file can be applied to a file that loaded without reading the file again
    (`with_national`): this is what makes a saved `_national.yaml` cheap to reload.
    """

    routine: Routine
    own_situations: tuple[Situation, ...]  # before the national words were added
    contact_ids: frozenset[str]  # the file's own contacts
    refs: frozenset[str]  # every contact reference the file makes

    def with_national(self, national: National) -> Routine | None:
        """The routine loading the same file against `national` gives, or None when one of its
        references does not resolve there: then only loading the file tells every problem."""
        for ref in self.refs:
            if ref in self.contact_ids:
                continue
            if not ref.startswith(NATIONAL_PREFIX):
                return None
            if ref.removeprefix(NATIONAL_PREFIX) not in national.contacts:
                return None
        return replace(
            self.routine,
            situations=_with_national_words(self.own_situations, national),
            national=national,
        )


@dataclass(frozen=True)
class LoadResult:
    """A whole directory: what loaded, and what did not (path -> problems)."""

    national: National
    routines: dict[str, Routine]
    problems: dict[Path, list[Problem]]


# ---------------------------------------------------------------------------------------------
# Public API


# libyaml parses about six times faster than PyYAML's pure-Python parser, but places a few
# errors one column differently; so a file is read with libyaml first, and only a file with
# problems is read again with the Python parser, whose positions the error messages promise.
# The loader reads every scalar as written and asks a node's tag only whether it is null, so
# the full implicit resolver (a regex battery per scalar) is replaced by one for null alone.
class _NullOnlyResolver(yaml.resolver.BaseResolver):
    pass


_NULL_VALUES = frozenset({"~", "null", "Null", "NULL", ""})
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"

_NullOnlyResolver.add_implicit_resolver(
    _NULL_TAG, re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""]
)

try:
    from yaml.cyaml import CParser  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _FAST_LOADER: type[Any] = yaml.SafeLoader
else:

    class _FastLoader(CParser, yaml.constructor.SafeConstructor, _NullOnlyResolver):
        def __init__(self, stream: str | bytes) -> None:
            CParser.__init__(self, stream)
            yaml.constructor.SafeConstructor.__init__(self)
            _NullOnlyResolver.__init__(self)

        # libyaml's composer calls these two hooks around every node, for path resolvers,
        # which the loader has none of. Built-in functions instead of Python methods make them
        # calls into C that do nothing (a tenth of loading a directory): `operator.is_(parent,
        # index)` and `tuple()`. Built-ins are not bound to the instance, so the arguments fit.
        descend_resolver = operator.is_  # type: ignore[assignment]
        ascend_resolver = tuple  # type: ignore[assignment]

        def resolve(self, kind: type[Node], value: Any, implicit: tuple[bool, bool]) -> str:
            """The null-only resolution above without the path-resolver machinery.

            libyaml calls this once per node (hundreds of thousands for a full directory), and
            BaseResolver's general version was a fifth of the parse time.
            """
            if kind is ScalarNode:
                return _NULL_TAG if implicit[0] and value in _NULL_VALUES else _STR_TAG
            return _SEQ_TAG if kind is SequenceNode else _MAP_TAG

    _FAST_LOADER = _FastLoader


def _has_duplicate_keys(root: Node) -> bool:
    """Whether any mapping in the tree repeats a key; a cheap walk without paths.

    Scalars are never pushed (most nodes are scalars), and `seen` stops alias loops.
    """
    stack: list[Node] = [root]
    seen: set[int] = set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.__class__ is MappingNode:
            keys: set[Any] = set()
            for key_node, value_node in node.value:
                if key_node.__class__ is ScalarNode:
                    if key_node.value in keys:
                        return True
                    keys.add(key_node.value)
                if value_node.__class__ is not ScalarNode:
                    stack.append(value_node)
        elif node.__class__ is SequenceNode:
            stack.extend(item for item in node.value if item.__class__ is not ScalarNode)
    return False


def load_national(path: Path) -> National:
    """Load `_national.yaml`; raise RoutineError with every problem of the file."""
    try:
        return _load_national(path, _FAST_LOADER)
    except RoutineError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _load_national(path, yaml.SafeLoader)


def load_routine(path: Path, national: National) -> Routine:
    """Load one organisation file against `national`; raise RoutineError with every problem."""
    return read_routine(path, national).routine


def read_routine(path: Path, national: National) -> LoadedRoutine:
    """`load_routine`, keeping what a later national file needs to be applied to the file."""
    try:
        return _load_routine(path, national, _FAST_LOADER)
    except RoutineError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _load_routine(path, national, yaml.SafeLoader)


def _load_national(path: Path, loader: type[Any]) -> National:
    reader = _Reader(path, national=None, loader=loader)
    root = reader.read_root()
    if root is None:
        raise RoutineError(reader.sorted_problems())
    return reader.build_national(root)


def _load_routine(path: Path, national: National, loader: type[Any]) -> LoadedRoutine:
    reader = _Reader(path, national=national, loader=loader)
    root = reader.read_root()
    if root is None:
        raise RoutineError(reader.sorted_problems())
    return reader.build_routine(root)


def routine_files(directory: Path) -> list[Path]:
    """The organisation files of a directory, sorted.

    Files starting with `_` (the national file, templates) or `.` (editor temporaries such as
    `.#x.yaml`) are not organisations, and only `.yaml` counts so backups (`x.yaml~`) are ignored.
    """
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    return sorted(entry for entry in entries if is_routine_name(entry.name) and entry.is_file())


def is_routine_name(name: str) -> bool:
    """Whether a file name is an organisation file (see `routine_files`)."""
    return name.endswith(".yaml") and len(name) > len(".yaml") and name[0] not in "_."


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while many files are parsed.

    Parsing allocates hundreds of thousands of short-lived node objects without cycles; the
    collector, triggered by the allocation count alone, would scan the growing heap again and
    again (a fifth of a full directory load) to find nothing. Reference counting still frees
    every node at once, and the collector runs as usual again afterwards.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def load_directory(directory: Path) -> LoadResult:
    """Load a routines directory; a broken national file falls back to the built-in one."""
    problems: dict[Path, list[Problem]] = {}
    national_path = directory / NATIONAL_FILE
    try:
        national = load_national(national_path)
    except RoutineError as error:
        problems[national_path] = error.problems
        national = FALLBACK_NATIONAL
    routines: dict[str, Routine] = {}
    with collector_paused():
        for path in routine_files(directory):
            try:
                routine = load_routine(path, national)
            except RoutineError as error:
                problems[path] = error.problems
            else:
                routines[routine.id] = routine
    return LoadResult(national=national, routines=routines, problems=problems)


def check_paths(
    paths: Iterable[Path], routines_dir: Path, loaded: list[Routine] | None = None
) -> list[Problem]:
    """Every problem of the given files and directories, for `trygg check [PATH...]`.

    A directory means its national file and every organisation file in it. A single file is
    checked against the national file beside it, else the one of `routines_dir`; when that
    national file is broken its problems are listed and the built-in national contacts are used.
    """
    checker = _Checker(routines_dir)
    for path in paths:
        checker.check(path)
    if loaded is not None:  # the routines that loaded, for `trygg check`'s warnings
        loaded.extend(checker.loaded)
    return checker.problems


class _Checker:
    """Remembers national files already checked, so each problem is listed once."""

    def __init__(self, routines_dir: Path) -> None:
        self.routines_dir = routines_dir
        self.problems: list[Problem] = []
        self.nationals: dict[Path, National] = {}
        self.checked: set[Path] = set()
        self.loaded: list[Routine] = []

    def check(self, path: Path) -> None:
        if path.is_dir():
            national = self.national(path / NATIONAL_FILE)
            for org_path in routine_files(path):
                self.routine(org_path, national)
        elif path.name == NATIONAL_FILE:
            self.national(path)
        else:
            beside = path.parent / NATIONAL_FILE
            national_path = beside if beside.exists() else self.routines_dir / NATIONAL_FILE
            self.routine(path, self.national(national_path))

    def national(self, path: Path) -> National:
        if path not in self.nationals:
            self.checked.add(path)
            try:
                self.nationals[path] = load_national(path)
            except RoutineError as error:
                self.problems.extend(error.problems)
                self.nationals[path] = FALLBACK_NATIONAL
        return self.nationals[path]

    def routine(self, path: Path, national: National) -> None:
        if path in self.checked:
            return
        self.checked.add(path)
        try:
            self.loaded.append(load_routine(path, national))
        except RoutineError as error:
            self.problems.extend(error.problems)


# ---------------------------------------------------------------------------------------------
# Node helpers


def _join(parent: str, key: str) -> str:
    return f"{parent}.{key}" if parent else key


def _index(parent: str, index: int) -> str:
    return f"{parent}[{index}]"


def _is_null(node: Node) -> bool:
    return node.tag == _NULL_TAG and node.__class__ is ScalarNode


_DESCRIBE_MAX = 60  # characters of a value quoted in a message


def _describe(node: Node) -> str:
    """How a node looks to someone who wrote it, for `expected X, got Y`."""
    if isinstance(node, MappingNode):
        return "a mapping (key: value)"
    if isinstance(node, SequenceNode):
        return "a list"
    if _is_null(node):
        return "nothing"
    value = str(node.value)
    if len(value) > _DESCRIBE_MAX:  # a whole other file read as one value: its start says enough
        value = value[: _DESCRIBE_MAX - 1].rstrip() + "…"
    return f"'{value}'"


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


# Most mappings and texts of a file have nothing to report. These helpers recognise them in one
# pass and return None for anything else, which the reader then checks the long way: the
# messages, and their order, come from one place only.


def _plain_entries(
    node: MappingNode, known: Sequence[str], required: Sequence[str]
) -> dict[str, tuple[Node, Node]] | None:
    """Key and value nodes by key, if every key is a name of `known`, once, and no required key
    is missing or empty."""
    entries: dict[str, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if key_node.__class__ is not ScalarNode:
            return None
        key = key_node.value
        if key in entries or key not in known:
            return None
        entries[key] = (key_node, value_node)
    for key in required:
        entry = entries.get(key)
        if entry is None or _is_null(entry[1]):
            return None
    return entries


def _plain_step(node: Node) -> tuple[str, Node] | None:
    """Key and value node of `- contact: <id>` or `- text: <value>`."""
    if node.__class__ is not MappingNode or len(node.value) != 1:
        return None
    key_node, value_node = node.value[0]
    if key_node.__class__ is not ScalarNode or _is_null(value_node):
        return None
    key = key_node.value
    if key == "text":
        return key, value_node
    if key == "contact" and value_node.__class__ is ScalarNode and value_node.value.strip():
        return key, value_node
    return None


def _plain_words(items: list[Node]) -> list[str] | None:
    """The words of a `match` list, if each is a text that is not empty."""
    words = [
        word
        for item in items
        if item.__class__ is ScalarNode and item.tag != _NULL_TAG and (word := item.value.strip())
    ]
    return words if len(words) == len(items) else None


def _plain_texts(node: MappingNode, default_language: str) -> Text | None:
    """`{sv: ..., en: ...}` with known languages, once each, none empty, the default among them."""
    texts: dict[str, str] = {}
    for key_node, value_node in node.value:
        if key_node.__class__ is not ScalarNode or value_node.__class__ is not ScalarNode:
            return None
        lang = key_node.value
        if lang in texts or lang not in SUPPORTED_LANGUAGES:
            return None
        if key_node.tag == _NULL_TAG or value_node.tag == _NULL_TAG:
            return None
        text = value_node.value.strip()
        if not text:
            return None
        texts[lang] = text
    if default_language not in texts:
        return None
    return Text(values=texts, default=default_language)


@dataclass
class _Map:
    """A checked mapping: the key and value node of each known key (first occurrence)."""

    key_path: str
    entries: dict[str, tuple[Node, Node]]

    def get(self, key: str) -> Node | None:
        """The value node, or None when the key is absent or left empty (`email:`)."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        value = entry[1]
        return None if value.tag == _NULL_TAG and value.__class__ is ScalarNode else value

    def path(self, key: str) -> str:
        return _join(self.key_path, key)


class _Ref(NamedTuple):
    """A reference to a contact, kept with its node until every contact id is known."""

    target: str
    node: Node
    key_path: str


@dataclass
class _Contacts:
    """The contact ids of the file (key nodes, in file order) and their after_hours references."""

    ids: dict[str, Node] = field(default_factory=dict)
    after_hours: dict[str, _Ref] = field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# The reader of one file


class _Reader:
    """Reads one file, collecting problems instead of stopping at the first.

    Each `read_*` method returns the value, or None after recording why it could not.
    `national` is the national data an organisation file refers to, or None while reading the
    national file itself (which then allows short numbers and refers to its own contacts).
    """

    def __init__(
        self, path: Path, national: National | None, loader: type[Any] = yaml.SafeLoader
    ) -> None:
        self.path = path
        self.national = national
        self.loader = loader
        self.problems: list[Problem] = []
        self.language = SUPPORTED_LANGUAGES[0]
        self.refs: list[_Ref] = []
        self.contacts = _Contacts()
        self.root: MappingNode | None = None
        self.utf8 = b""  # the file's bytes without a byte order mark, once read
        self.saw_duplicate_key = False  # see check_duplicate_keys

    # -- problems --------------------------------------------------------------------------

    def report(self, node: Node, key_path: str, message: str) -> None:
        mark = node.start_mark
        self.report_at(int(mark.line) + 1, int(mark.column) + 1, key_path, message)

    def report_at(self, line: int, column: int, key_path: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, column, key_path, message))

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=lambda problem: (problem.line, problem.column))

    def fail_if_problems(self) -> None:
        if self.problems or self.saw_duplicate_key:
            self.check_duplicate_keys()
        if self.problems:
            raise RoutineError(self.sorted_problems())

    def check_duplicate_keys(self) -> None:
        """Report repeated keys anywhere in the file, before the problems found in reading.

        Only needed when reading saw a repeated key or found a problem: a file without problems
        had every one of its mappings read, and reading notices a repeated key in each.
        """
        if self.root is None or not _has_duplicate_keys(self.root):
            return
        found = self.problems
        self.problems = []
        self.check_duplicates(self.root, "", set())
        self.problems.extend(found)

    # -- the file --------------------------------------------------------------------------

    def read_root(self) -> MappingNode | None:
        """The top mapping of the file, or None after recording why there is none."""
        text = self.read_text()
        if text is None:
            return None
        # libyaml reads UTF-8: the bytes as read spare it encoding the text again. The Python
        # parser counts positions in the text, so it gets the text.
        source = text if self.loader is yaml.SafeLoader else self.utf8
        try:
            root = yaml.compose(source, Loader=self.loader)
        except yaml.MarkedYAMLError as error:
            self.report_yaml_error(error)
            return None
        except yaml.YAMLError as error:
            self.report_reader_error(error, text)
            return None
        except RecursionError:
            self.report_at(1, 1, "", "the file is nested too deeply to read")
            return None
        if root is None:
            self.report_at(1, 1, "", "the file is empty: it needs at least `schema: 1`")
            return None
        if not isinstance(root, MappingNode):
            self.report(root, "", f"expected keys such as `schema: 1`, got {_describe(root)}")
            return None
        self.root = root
        return root

    def read_text(self) -> str | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            self.report_at(1, 1, "", "file not found")
            return None
        except IsADirectoryError:
            self.report_at(1, 1, "", "is a directory, not a file")
            return None
        except OSError as error:
            self.report_at(1, 1, "", f"cannot be read: {error.strerror or error}")
            return None
        try:
            # utf-8-sig: editors on Windows often start the file with a byte order mark.
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            column = error.start - (data.rfind(b"\n", 0, error.start) + 1) + 1
            byte = data[error.start]
            message = f"the file is not UTF-8 text (byte 0x{byte:02X} here): save it as UTF-8"
            self.report_at(line, column, "", message)
            return None
        self.utf8 = data.removeprefix(codecs.BOM_UTF8)  # the same text, as libyaml reads it
        return text

    def report_yaml_error(self, error: yaml.MarkedYAMLError) -> None:
        """Point where the mistake most likely is, and add a hint for the common ones.

        An unclosed quote or bracket is only noticed at the end of the file, so it is reported
        where it was opened (the context), not where the reader gave up.
        """
        problem = error.problem or "cannot be read"
        unclosed = "end of stream" in problem and error.context_mark is not None
        mark = error.context_mark if unclosed else error.problem_mark or error.context_mark
        message = f"invalid YAML: {problem}"
        if unclosed:
            message = f"invalid YAML: {error.context}: it is never closed ({problem})"
        elif error.context and error.context_mark:
            where = error.context_mark
            message += f" ({error.context}, line {where.line + 1} column {where.column + 1})"
        said = f"{error.context} {problem}"
        message += next((hint for key, hint in _YAML_HINTS.items() if key in said), "")
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        self.report_at(line, column, "", message)

    def report_reader_error(self, error: yaml.YAMLError, text: str) -> None:
        position = getattr(error, "position", None)
        if not isinstance(position, int):
            self.report_at(1, 1, "", f"invalid YAML: {error}")
            return
        line = text.count("\n", 0, position) + 1
        column = position - (text.rfind("\n", 0, position) + 1) + 1
        character = getattr(error, "character", None)
        if isinstance(character, str):
            character = ord(character)
        code = f"#x{character:04X}" if isinstance(character, int) else "?"
        self.report_at(line, column, "", f"invalid character {code}: remove it")

    def check_duplicates(self, node: Node, key_path: str, seen: set[int]) -> None:
        """PyYAML keeps the last of two equal keys silently; here it is an error, anywhere."""
        if id(node) in seen:
            return
        seen.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, Node] = {}
            for key_node, value_node in node.value:
                key = str(key_node.value) if isinstance(key_node, ScalarNode) else "?"
                path = _join(key_path, key)
                if isinstance(key_node, ScalarNode) and key in first:
                    self.report(
                        key_node,
                        path,
                        f"duplicate key '{key}' (first on line {_line(first[key])}): "
                        "YAML would keep only the last one",
                    )
                first.setdefault(key, key_node)
                self.check_duplicates(value_node, path, seen)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.check_duplicates(item, _index(key_path, index), seen)

    # -- generic readers -------------------------------------------------------------------

    def read_map(
        self,
        node: Node,
        key_path: str,
        known: Sequence[str],
        required: Sequence[str] = (),
        what: str | None = None,
    ) -> _Map | None:
        """A mapping with a fixed set of keys: unknown keys, missing and empty required keys.

        A misspelt key (`contcts`) is reported, then read as the key it is close to when that
        key is absent, so that the problems inside it are found in the same run instead of
        after the next fix, and no second "missing" problem hides the real one.
        """
        if node.__class__ is MappingNode:
            quick = _plain_entries(node, known, required)
            if quick is not None:
                return _Map(key_path, quick)
        else:
            expected = what or f"keys ({', '.join(known)})"
            self.report(node, key_path, f"expected {expected}, got {_describe(node)}")
            return None
        found = self.read_entries(node, key_path)
        entries = {key: (key_node, value) for key, key_node, value in found if key in known}
        for key, key_node, value_node in found:
            if key in known:
                continue
            close = values.closest(key, known)
            hint = f" (did you mean '{close}'?)" if close else f" (known keys: {', '.join(known)})"
            self.report(key_node, _join(key_path, key), f"unknown key '{key}'{hint}")
            if close and close not in entries:
                entries[close] = (key_node, value_node)
        for key in required:
            if key not in entries:
                self.report(node, _join(key_path, key), "missing: this key is required")
            elif _is_null(entries[key][1]):
                self.report(entries[key][0], _join(key_path, key), "empty: this key needs a value")
        return _Map(key_path, entries)

    def read_entries(self, node: MappingNode, key_path: str) -> list[tuple[str, Node, Node]]:
        """(key, key node, value node) of a mapping with free keys; duplicates are dropped."""
        result: list[tuple[str, Node, Node]] = []
        seen: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                self.report(key_node, key_path, "a key must be a plain name, not a list or mapping")
                continue
            key = str(key_node.value)
            if key in seen:
                self.saw_duplicate_key = True
                continue
            seen.add(key)
            result.append((key, key_node, value_node))
        return result

    def read_free_map(self, node: Node, key_path: str, what: str) -> list[tuple[str, Node, Node]]:
        if not isinstance(node, MappingNode):
            self.report(node, key_path, f"expected {what}, got {_describe(node)}")
            return []
        return self.read_entries(node, key_path)

    def read_list(self, node: Node, key_path: str, what: str, single: bool = False) -> list[Node]:
        """The items of a list; with `single`, one plain value counts as a list of one."""
        if isinstance(node, SequenceNode):
            return list(node.value)
        if single and isinstance(node, ScalarNode) and not _is_null(node):
            return [node]
        self.report(node, key_path, f"expected {what}, got {_describe(node)}")
        return []

    def read_string(self, node: Node, key_path: str, what: str = "a text") -> str | None:
        if node.__class__ is ScalarNode and node.tag != _NULL_TAG:
            # The common case first, without a call per check: this runs for every word.
            text = str(node.value).strip()
            if text:
                return text
        if _is_null(node):
            self.report(node, key_path, f"empty: expected {what}")
            return None
        if not isinstance(node, ScalarNode):
            self.report(node, key_path, f"expected {what}, got {_describe(node)}")
            return None
        text = str(node.value).strip()
        if not text:
            self.report(node, key_path, "empty: this key needs a value")
            return None
        return text

    def read_parsed(
        self, node: Node, key_path: str, parse: Callable[[str], T], what: str = "a text"
    ) -> T | None:
        raw = self.read_string(node, key_path, what)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as error:
            self.report(node, key_path, str(error))
            return None

    def parser(self, parse: Callable[[str], T], what: str = "a text") -> Read[T]:
        """A reader for `get` out of a string parser from `values`."""

        def read(node: Node, key_path: str) -> T | None:
            return self.read_parsed(node, key_path, parse, what)

        return read

    def get(self, section: _Map, key: str, read: Read[T], default: T) -> T:
        """The value of an optional key, or `default` when absent or unreadable (then reported)."""
        node = section.get(key)
        if node is None:
            return default
        result = read(node, section.path(key))
        return default if result is None else result

    def need(self, section: _Map, key: str, read: Read[T]) -> T | None:
        """The value of a required key; read_map already reported it if missing."""
        node = section.get(key)
        return None if node is None else read(node, section.path(key))

    def read_bool(self, node: Node, key_path: str) -> bool | None:
        text = self.read_string(node, key_path, "true or false")
        if text is None:
            return None
        flag = yaml.constructor.SafeConstructor.bool_values.get(text.lower())
        if flag is None:
            self.report(node, key_path, f"expected true or false, got '{text}'")
        return flag

    def read_date(self, node: Node, key_path: str) -> date | None:
        return self.read_parsed(node, key_path, _parse_date, "a date such as 2026-09-01")

    def read_ref(self, node: Node, key_path: str) -> str | None:
        """A contact reference, checked once all contacts are known (see `check_refs`)."""
        target = self.read_string(node, key_path, "a contact id")
        if target is not None:
            self.refs.append(_Ref(target, node, key_path))
        return target

    def read_text_value(self, node: Node, key_path: str) -> Text | None:
        raw: str | dict[str, str] | None
        if node.__class__ is MappingNode:
            text = _plain_texts(node, self.language)
            if text is not None:
                return text
            raw = self.read_language_map(node, key_path)
        else:
            raw = self.read_string(node, key_path, "a text or {sv: ..., en: ...}")
        if raw is None:
            return None
        try:
            return values.parse_text(raw, self.language)
        except ValueError as error:
            self.report(node, key_path, str(error))
            return None

    def read_language_map(self, node: MappingNode, key_path: str) -> dict[str, str] | None:
        texts: dict[str, str] = {}
        ok = True
        for lang, key_node, value_node in self.read_entries(node, key_path):
            path = _join(key_path, lang)
            if _is_null(value_node) and lang not in SUPPORTED_LANGUAGES:
                self.report(key_node, key_path, _CUT_AT_COMMA.format(rest=lang))
                ok = False
                continue
            ok = self.read_parsed(key_node, path, values.parse_language) is not None and ok
            text = self.read_string(value_node, path)
            if text is None:
                ok = False
            else:
                texts[lang] = text
        return texts if ok else None

    # -- organisation ----------------------------------------------------------------------

    def read_schema(self, top: _Map) -> None:
        node = top.get("schema")
        if node is not None and not (
            isinstance(node, ScalarNode) and str(node.value).strip() == str(SCHEMA_VERSION)
        ):
            self.report(
                node,
                "schema",
                f"this bot reads schema {SCHEMA_VERSION}, got {_describe(node)}",
            )

    def read_organisation(self, node: Node | None) -> Organisation | None:
        if node is None:
            return None
        section = self.read_map(node, "organisation", _ORGANISATION, _ORGANISATION_REQUIRED)
        if section is None:
            return None
        # Languages first: they decide which language every text of the file must have.
        default_languages: tuple[str, ...] = (SUPPORTED_LANGUAGES[0],)
        languages = self.get(section, "languages", self.read_languages, default_languages)
        self.language = languages[0]
        org_id = self.need(section, "id", self.read_org_id)
        name = self.need(section, "name", self.read_string)
        kind = self.need(section, "kind", self.parser(_parse_kind, "kommun or region"))
        reviewed = self.need(section, "reviewed", self.read_date)
        owner = self.need(section, "owner", self.read_ref)
        code = self.get(section, "code", self.read_string, None)
        timezone = self.get(
            section, "timezone", self.parser(values.parse_timezone), DEFAULT_TIMEZONE
        )
        every = self.get(
            section, "review_every", self.parser(values.parse_duration), DEFAULT_REVIEW_EVERY
        )
        if org_id is None or name is None or kind is None or reviewed is None or owner is None:
            return None
        return Organisation(
            id=org_id,
            name=name,
            kind="region" if kind == "region" else "kommun",
            reviewed=reviewed,
            owner=owner,
            code=code,
            timezone=timezone,
            languages=languages,
            review_every=every,
        )

    def read_org_id(self, node: Node, key_path: str) -> str | None:
        org_id = self.read_string(node, key_path, "an id such as exempelkommun")
        if org_id is None:
            return None
        if not _ORG_ID.match(org_id):
            self.report(
                node,
                key_path,
                f"'{org_id}' is not a valid id: use 2 to 40 characters a-z (no å, ä, ö), 0-9 "
                "and '-', e.g. exempelkommun",
            )
            return None
        if org_id != self.path.stem:
            self.report(
                node,
                key_path,
                f"'{org_id}' must equal the file name: rename the file to {org_id}.yaml "
                f"or set `id: {self.path.stem}`",
            )
            return None
        return org_id

    def read_languages(self, node: Node, key_path: str) -> tuple[str, ...] | None:
        items = self.read_list(node, key_path, "a list of languages, e.g. [sv, en]", single=True)
        languages: list[str] = []
        for index, item in enumerate(items):
            path = _index(key_path, index)
            lang = self.read_parsed(item, path, values.parse_language, "a language")
            if lang in languages:
                self.report(item, path, f"'{lang}' is listed twice")
            elif lang is not None:
                languages.append(lang)
        if not items and isinstance(node, SequenceNode):
            self.report(node, key_path, "empty: list at least one language, e.g. [sv]")
        if len(languages) != len(items) or not languages:
            return None
        return tuple(languages)

    # -- contacts --------------------------------------------------------------------------

    def read_contacts(self, node: Node | None) -> dict[str, Contact]:
        if node is None:
            return {}
        entries = self.read_free_map(node, "contacts", "contacts: a mapping of id to contact")
        if not entries and isinstance(node, MappingNode):
            self.report(node, "contacts", "empty: add at least one contact")
        contacts: dict[str, Contact] = {}
        for contact_id, key_node, value_node in entries:
            path = _join("contacts", contact_id)
            self.contacts.ids[contact_id] = key_node
            if self.national is not None and contact_id.startswith(NATIONAL_PREFIX):
                self.report(
                    key_node,
                    path,
                    f"an id cannot start with '{NATIONAL_PREFIX}': it means the national file",
                )
            contact = self.read_contact(contact_id, value_node, path)
            if contact is not None:
                contacts[contact_id] = contact
        return contacts

    def read_contact(self, contact_id: str, node: Node, key_path: str) -> Contact | None:
        section = self.read_map(node, key_path, _CONTACT, ("name",))
        if section is None:
            return None
        name = self.need(section, "name", self.read_text_value)
        after_hours = self.get(section, "after_hours", self.read_ref, None)
        after_node = section.get("after_hours")
        if after_hours is not None and after_node is not None:
            ref = _Ref(after_hours, after_node, section.path("after_hours"))
            self.contacts.after_hours[contact_id] = ref
        person = self.get(section, "person", self.read_string, None)
        phone = self.get(section, "phone", self.parser(self.parse_phone, "a phone number"), None)
        email = self.get(section, "email", self.parser(values.parse_email), None)
        hours = self.get(section, "hours", self.read_hours, None)
        receives_reports = self.get(section, "receives_reports", self.read_bool, False)
        note = self.get(section, "note", self.read_text_value, None)
        if name is None:
            return None
        return Contact(
            id=contact_id if self.national is not None else NATIONAL_PREFIX + contact_id,
            name=name,
            person=person,
            phone=phone,
            email=email,
            hours=hours,
            after_hours=after_hours,
            receives_reports=receives_reports,
            note=note,
        )

    def parse_phone(self, raw: str) -> Phone:
        return values.parse_phone(raw, allow_short=self.national is None)

    def read_hours(self, node: Node, key_path: str) -> Hours:
        """Every bad line is reported at its own position (HoursError says which)."""
        what = 'a list of opening hours, e.g. ["mon-fri 08:00-16:30"]'
        if isinstance(node, MappingNode):
            self.report(node, key_path, f"expected {what}, got {_describe(node)}")
            return None
        items = self.read_list(node, key_path, what, single=True)
        lines = [self.read_string(item, _index(key_path, i)) for i, item in enumerate(items)]
        if any(line is None for line in lines):
            return None
        try:
            return _parse_hours(tuple(line for line in lines if line is not None))
        except hours_module.HoursError as error:
            for index, message in error.problems:
                if index is None or items[index] is node:
                    self.report(node, key_path, message)
                else:
                    self.report(items[index], _index(key_path, index), message)
        except ValueError as error:
            self.report(node, key_path, str(error))
        return None

    # -- situations ------------------------------------------------------------------------

    def read_situations(self, node: Node | None) -> tuple[Situation, ...]:
        if node is None:
            return ()
        items = self.read_list(node, "situations", "a list of situations (- id: ...)")
        if not items and isinstance(node, SequenceNode):
            self.report(node, "situations", "empty: add at least one situation")
        seen: dict[str, Node] = {}
        situations: list[Situation] = []
        for index, item in enumerate(items):
            situation = self.read_situation(item, _index("situations", index), seen)
            if situation is not None:
                situations.append(situation)
        return _normalise(situations)

    def read_situation(self, node: Node, key_path: str, seen: dict[str, Node]) -> Situation | None:
        section = self.read_map(node, key_path, _SITUATION, _SITUATION_REQUIRED)
        if section is None:
            return None
        situation_id = self.need(section, "id", self.read_string)
        id_node = section.get("id")
        if situation_id is not None and id_node is not None:
            if situation_id in seen:
                self.report(
                    id_node,
                    section.path("id"),
                    f"duplicate situation id '{situation_id}' "
                    f"(first on line {_line(seen[situation_id])})",
                )
            seen.setdefault(situation_id, id_node)
        title = self.need(section, "title", self.read_text_value)
        steps = self.need(section, "steps", self.read_steps)
        urgent = self.get(section, "urgent", self.read_bool, False)
        no_words: dict[str, tuple[str, ...]] = {}
        match = self.get(section, "match", self.read_match, no_words)
        if situation_id is None or title is None or steps is None:
            return None
        return Situation(id=situation_id, title=title, steps=steps, urgent=urgent, match=match)

    def read_steps(self, node: Node, key_path: str) -> tuple[Step, ...] | None:
        items = self.read_list(node, key_path, "a list of steps (- contact: ... or - text: ...)")
        if not items and isinstance(node, SequenceNode):
            self.report(node, key_path, "empty: add at least one step")
        steps = [self.read_step(item, _index(key_path, index)) for index, item in enumerate(items)]
        if not steps:
            return None
        return tuple(step for step in steps if step is not None)

    def read_step(self, node: Node, key_path: str) -> Step | None:
        plain = _plain_step(node)
        if plain is not None:
            key, value_node = plain
            path = f"{key_path}.{key}"
            if key == "contact":
                target = value_node.value.strip()
                self.refs.append(_Ref(target, value_node, path))
                return Step(contact=target)
            text = self.read_text_value(value_node, path)
            return None if text is None else Step(text=text)
        what = "`contact: <id>` or `text: ...`"
        section = self.read_map(node, key_path, _STEP, what=what)
        if section is None:
            return None
        present = [key for key in _STEP if key in section.entries]
        if len(present) == 2:
            self.report(node, key_path, "a step has either contact or text, not both: split it")
            return None
        if not present:
            if not node.value:
                self.report(node, key_path, f"empty step: write {what}")
            return None
        key = present[0]
        if section.get(key) is None:
            self.report(section.entries[key][0], section.path(key), "empty: this key needs a value")
            return None
        if key == "contact":
            contact = self.need(section, "contact", self.read_ref)
            return None if contact is None else Step(contact=contact)
        text = self.need(section, "text", self.read_text_value)
        return None if text is None else Step(text=text)

    def read_match(self, node: Node, key_path: str) -> dict[str, tuple[str, ...]] | None:
        what = "words per language, e.g. {sv: [kniv, vapen], en: [knife, weapon]}"
        words: dict[str, tuple[str, ...]] = {}
        for lang, key_node, value_node in self.read_free_map(node, key_path, what):
            path = _join(key_path, lang)
            if self.read_parsed(key_node, path, values.parse_language) is None:
                continue
            items = self.read_list(value_node, path, "a list of words", single=True)
            # Lists of words are the bulk of a file: word by word, with a key path for each
            # problem, only when one of them is not a plain word.
            found = _plain_words(items)
            words[lang] = tuple(self.read_words(items, path) if found is None else found)
        return words

    def read_words(self, items: list[Node], key_path: str) -> list[str]:
        found = [self.read_string(item, _index(key_path, i)) for i, item in enumerate(items)]
        return [word for word in found if word is not None]

    # -- reminders -------------------------------------------------------------------------

    def read_reminders(self, node: Node | None) -> Reminders:
        defaults = Reminders()
        if node is None:
            return defaults
        section = self.read_map(node, "reminders", _REMINDERS)
        if section is None:
            return defaults
        duration = self.parser(values.parse_duration, "a duration such as 24h")
        quiet = self.get(
            section,
            "quiet_hours",
            self.parser(values.parse_clock_range, 'a time range such as "21:00-08:00"'),
            (defaults.quiet_start, defaults.quiet_end),
        )
        return Reminders(
            members=self.get(
                section, "members", self.parser(values.parse_schedule), defaults.members
            ),
            ack_within=self.get(section, "ack_within", duration, defaults.ack_within),
            ack_repeat=self.get(
                section, "ack_repeat", self.parser(parse_repeat, "a number"), defaults.ack_repeat
            ),
            ack_every=self.get(section, "ack_every", duration, defaults.ack_every),
            escalate_to=self.get(section, "escalate_to", self.read_refs, ()),
            followup=self.get(section, "followup", self.read_durations, defaults.followup),
            quiet_start=quiet[0],
            quiet_end=quiet[1],
            events=self.get(section, "events", self.read_events, ()),
        )

    def read_refs(self, node: Node, key_path: str) -> tuple[str, ...] | None:
        items = self.read_list(node, key_path, "a list of contact ids", single=True)
        refs = [self.read_ref(item, _index(key_path, i)) for i, item in enumerate(items)]
        return tuple(ref for ref in refs if ref is not None)

    def read_durations(self, node: Node, key_path: str) -> tuple[Duration, ...] | None:
        items = self.read_list(node, key_path, "a list of durations, e.g. [2d, 14d]", single=True)
        found = [
            self.read_parsed(item, _index(key_path, i), values.parse_duration, "a duration")
            for i, item in enumerate(items)
        ]
        return tuple(duration for duration in found if duration is not None)

    def read_events(self, node: Node, key_path: str) -> tuple[Event, ...] | None:
        items = self.read_list(node, key_path, "a list of events (- date: ...)")
        found = [self.read_event(item, _index(key_path, i)) for i, item in enumerate(items)]
        return tuple(event for event in found if event is not None)

    def read_event(self, node: Node, key_path: str) -> Event | None:
        section = self.read_map(node, key_path, _EVENT, _EVENT)
        if section is None:
            return None
        day = self.need(section, "date", self.read_date)
        before = self.need(section, "before", self.parser(values.parse_duration, "a duration"))
        text = self.need(section, "text", self.read_text_value)
        if day is None or before is None or text is None:
            return None
        return Event(date=day, before=before, text=text)

    # -- references ------------------------------------------------------------------------

    def national_ids(self) -> Iterable[str]:
        if self.national is None:
            return self.contacts.ids
        return self.national.contacts

    def local_ids(self) -> Iterable[str]:
        return () if self.national is None else self.contacts.ids

    def check_refs(self) -> None:
        """Every reference must name a contact of this file or of the national file."""
        local = list(self.local_ids())
        national = list(self.national_ids())
        known = {*local, *(NATIONAL_PREFIX + contact_id for contact_id in national)}
        for ref in self.refs:
            if ref.target not in known:
                hint = _ref_hint(ref.target, local, national)
                self.report(ref.node, ref.key_path, f"unknown contact '{ref.target}'{hint}")

    def local_target(self, ref: str) -> str | None:
        """The contact of this file an after_hours reference leads to, if any."""
        if self.national is None:
            target = ref.removeprefix(NATIONAL_PREFIX) if ref.startswith(NATIONAL_PREFIX) else None
        else:
            target = None if ref.startswith(NATIONAL_PREFIX) else ref
        return target if target in self.contacts.ids else None

    def check_loops(self) -> None:
        """An after_hours chain that loops would send a caller round in circles at night."""
        order = list(self.contacts.ids)
        edges = {
            contact_id: target
            for contact_id, ref in self.contacts.after_hours.items()
            if (target := self.local_target(ref.target)) is not None
        }
        reported: set[frozenset[str]] = set()
        for start in order:
            cycle = _find_cycle(start, edges)
            if cycle is None or frozenset(cycle) in reported:
                continue
            reported.add(frozenset(cycle))
            first = min(cycle, key=order.index)
            turn = cycle.index(first)
            names = [*cycle[turn:], *cycle[:turn], first]
            ref = self.contacts.after_hours[first]
            self.report(ref.node, ref.key_path, f"after_hours loop: {' -> '.join(names)}")

    # -- whole files -----------------------------------------------------------------------

    def build_routine(self, root: MappingNode) -> LoadedRoutine:
        top = self.read_map(root, "", _ORG_TOP, _ORG_TOP_REQUIRED)
        assert top is not None  # root is a mapping
        self.read_schema(top)
        organisation = self.read_organisation(top.get("organisation"))
        contacts = self.read_contacts(top.get("contacts"))
        situations = self.read_situations(top.get("situations"))
        reminders = self.read_reminders(top.get("reminders"))
        retention_parser = self.parser(values.parse_duration, "a duration such as 24mo")
        retention = self.get(top, "retention", retention_parser, DEFAULT_RETENTION)
        self.check_refs()
        self.check_loops()
        self.fail_if_problems()
        if organisation is None or self.national is None:  # not reached: problems were raised
            raise RoutineError([Problem(self.path, 1, 1, "organisation", "cannot be read")])
        routine = Routine(
            organisation=organisation,
            contacts=contacts,
            situations=_with_national_words(situations, self.national),
            national=self.national,
            reminders=reminders,
            retention=retention,
            source=self.path,
        )
        refs = frozenset(ref.target for ref in self.refs)
        return LoadedRoutine(routine, situations, frozenset(self.contacts.ids), refs)

    def build_national(self, root: MappingNode) -> National:
        top = self.read_map(root, "", _NATIONAL_TOP, _NATIONAL_TOP)
        assert top is not None  # root is a mapping
        self.read_schema(top)
        contacts_node = top.get("contacts")
        contacts = self.read_contacts(contacts_node)
        if contacts_node is not None and "112" not in self.contacts.ids:
            self.report(
                contacts_node,
                "contacts",
                "the national file must have contact '112': acute danger always starts with it",
            )
        situations = self.read_situations(top.get("situations"))
        self.check_refs()
        self.check_loops()
        self.fail_if_problems()
        return National(
            contacts=contacts,
            situations=situations,
            languages=SUPPORTED_LANGUAGES,
            timezone=DEFAULT_TIMEZONE,
            source=self.path,
        )


# ---------------------------------------------------------------------------------------------
# Small pure helpers


@lru_cache(maxsize=4096)
def _parse_hours(lines: tuple[str, ...]) -> Hours:
    """Office hours recur across files and reloads; Hours is immutable (errors are not cached)."""
    return hours_module.parse_hours(list(lines))


def _parse_date(raw: str) -> date:
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"'{raw}' is not a date: write YYYY-MM-DD, e.g. 2026-09-01") from None


def _parse_kind(raw: str) -> str:
    if raw not in _KINDS:
        raise ValueError(
            f"'{raw}' is not a kind{values.suggest(raw, _KINDS)}: write kommun or region"
        )
    return raw


def _ref_hint(target: str, local: Sequence[str], national: Sequence[str]) -> str:
    """The closest contact, comparing national ids without their prefix, which all share."""
    if target.startswith(NATIONAL_PREFIX):
        close = values.closest(target.removeprefix(NATIONAL_PREFIX), national)
        suggestion = None if close is None else NATIONAL_PREFIX + close
    elif target in national:
        suggestion = NATIONAL_PREFIX + target
    else:
        close = values.closest(target, [*local, *national])
        in_file = close is None or close in local
        suggestion = close if in_file else NATIONAL_PREFIX + str(close)
    if suggestion is not None:
        return f" (did you mean '{suggestion}'?)"
    national_refs = [NATIONAL_PREFIX + contact_id for contact_id in national]
    if target.startswith(NATIONAL_PREFIX):
        return f": the national contacts are {', '.join(national_refs)}"
    return f": add it under contacts, or use one of {', '.join([*local, *national_refs])}"


def _find_cycle(start: str, edges: dict[str, str]) -> list[str] | None:
    """The loop reached by following `edges` from `start`, if the chain loops at all."""
    chain = [start]
    current = start
    while current in edges:
        current = edges[current]
        if current in chain:
            return chain[chain.index(current) :]
        chain.append(current)
    return None


def _with_national_words(
    situations: tuple[Situation, ...], national: National
) -> tuple[Situation, ...]:
    """A situation also matches the national file's words for the same id.

    A coordinator then lists only local words, and an everyday phrasing the national file knows
    still finds the organisation's own answer.
    """
    national_words = {s.id: s.match for s in national.situations if s.match}
    merged: list[Situation] = []
    for situation in situations:
        extra = national_words.get(situation.id)
        if not extra:
            merged.append(situation)
            continue
        langs = dict.fromkeys([*situation.match, *extra])
        match = {
            lang: tuple(dict.fromkeys([*situation.match.get(lang, ()), *extra.get(lang, ())]))
            for lang in langs
        }
        merged.append(replace(situation, match=match))
    return tuple(merged)


def _normalise(situations: Iterable[Situation]) -> tuple[Situation, ...]:
    """Urgent situations first; each of them starts with 112, whatever the file says."""
    ordered = sorted(situations, key=lambda situation: not situation.urgent)
    return tuple(_emergency_first(s) if s.urgent else s for s in ordered)


def _emergency_first(situation: Situation) -> Situation:
    if situation.steps and situation.steps[0].contact == EMERGENCY_REF:
        return situation
    rest = tuple(step for step in situation.steps if step.contact != EMERGENCY_REF)
    return replace(situation, steps=(Step(contact=EMERGENCY_REF), *rest))
