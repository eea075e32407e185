"""Generate many realistic, valid routine files for benchmarks.

`generate(directory)` writes 290 kommun files (`kommun-001.yaml` ...) and 21 region files
(`region-01.yaml` ...) and copies `routines/_national.yaml` beside them. Each file copies the
structure of the fictional examples (`routines/solvik.yaml` for a kommun,
`routines/region-norrmark.yaml` for a region): all 13 situations with their steps and `match`
words, 6 to 10 contacts with opening hours and `after_hours` chains, reminders with events, and
varies what a real organisation would: its name and id, which contacts it has, persons, phone
numbers (only from the ranges PTS reserves for fiction), e-mail addresses (`.example`), hours,
languages, review dates, reminders and a few local `match` words. The output is deterministic
for a given seed.

Files are written the way a coordinator writes them (flow maps for short texts, `>-` blocks for
long ones, quoted numbers and times), not by `yaml.dump`, so that parsing them costs what parsing
real files costs.

    python bench/generate.py OUT_DIR [--kommuner N] [--regioner N] [--seed N]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import shutil
import sys
import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
ROUTINES = REPO / "routines"
NATIONAL_FILE = "_national.yaml"
TEMPLATES = {"kommun": ROUTINES / "solvik.yaml", "region": ROUTINES / "region-norrmark.yaml"}
# The contacts every generated file keeps: the coordinator (the file's `owner`), a TiB that is
# always reachable (where after_hours chains end) and the party's security contact.
COORDINATOR = {"kommun": "sakerhet", "region": "samordnare"}
ALWAYS_KEPT = ("tib", "partiet")
EVENING_CONTACTS = frozenset({"presstjanst", "vakt"})  # on duty when the offices close
LEADERS = {"kommun": ("kommundirektor", "ksordf"), "region": ("regiondirektor", "rsordf")}
TEMPLATE_NAMES = {"kommun": ("Solvik", "solvik"), "region": ("Norrmark", "region-norrmark")}

MIN_CONTACTS = 6
MAX_CONTACTS = 10
SV_ONLY_SHARE = 0.15
WIDTH = 100

# The number ranges PTS reserves for fiction: (area code, first subscriber digits, last two
# digits from, to). 070-174 06 00..04 are not in the range.
FICTIONAL_RANGES = (
    ("08", "465004", 0, 99),
    ("031", "39006", 0, 99),
    ("040", "62804", 0, 99),
    ("0980", "3192", 0, 99),
    ("070", "17406", 5, 99),
)

_PREFIXES = (
    "Sol", "Björk", "Ek", "Sjö", "Berg", "Lind", "Ås", "Älv", "Gran", "Tall", "Lövs", "Ros",
    "Hag", "Mo", "Myr", "Ny", "Öster", "Väster", "Norr", "Söder", "Fors", "Kvarn", "Strand",
    "Hav", "Vik", "Lugn", "Ljung", "Hassel", "Al", "Ask", "Rönn", "Sälg", "Ängs", "Mål",
)  # fmt: skip
_KOMMUN_SUFFIXES = (
    "vik", "by", "holm", "stad", "torp", "sund", "dal", "berga", "köping", "näs", "ås",
    "hamn", "fors", "lunda", "hult", "ryd", "bo", "tuna", "mora", "vall",
)  # fmt: skip
_REGION_SUFFIXES = ("mark", "land", "bygden", "dalen", "kusten", "lagen")
_FIRST = (
    "Karin", "Erik", "Lena", "Johan", "Sara", "Ahmed", "Maria", "Per", "Anna", "Lars", "Fatima",
    "Mikael", "Elin", "Nils", "Ida", "Omar", "Eva", "Jonas", "Sofia", "Hanna", "Oskar", "Leila",
    "Björn", "Ulla", "Mats", "Aino", "Jukka", "Märta", "Samuel", "Ingrid",
)  # fmt: skip
_LAST = (
    "Holm", "Sandberg", "Ekström", "Nyberg", "Lund", "Karimi", "Öberg", "Viklund", "Berg",
    "Lindqvist", "Nilsson", "Hassan", "Johansson", "Åberg", "Strand", "Forsberg", "Mäkinen",
    "Eriksson", "Dahl", "Sjöberg", "Kaya", "Wikström", "Nordin", "Hedlund", "Palm",
)  # fmt: skip
_LOCAL_PLACES = ("hallen", "huset", "skolan", "torget", "biblioteket", "stationen", "badet")
_OFFICE_HOURS = (
    ("mon-fri 08:00-16:30",),
    ("mon-fri 08:00-16:00",),
    ("mon-fri 07:30-16:00",),
    ("mon-fri 08:00-17:00",),
    ("mon-thu 08:00-16:30", "fri 08:00-15:00"),
    ("mon-thu 08:00-17:00", "fri 08:00-14:00"),
    ("mon,tue,thu 08:00-16:30", "wed 08:00-19:00", "fri 08:00-14:00"),
    ("mon-fri 09:00-15:00",),
)
_EVENING_HOURS = (
    ("mon-fri 17:00-22:00", "sat,sun 10:00-18:00"),
    ("mon-fri 17:00-01:00",),
    ("mon-thu 16:00-23:00", "fri 16:00-02:00", "sat,sun 10:00-02:00"),
)
_MEMBERS = ("quarterly", "quarterly", "monthly", "0 9 1 */3 *", "0 10 1 1,4,9 *", "never")
_MONTHS_SV = (
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
    "oktober", "november", "december",
)  # fmt: skip
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip

# A plain YAML scalar that needs no quotes, in block and in flow context.
_PLAIN = re.compile(r"[^\W_][^:#,\[\]{}?]*", re.UNICODE)

_ALWAYS_QUOTED = frozenset({"phone", "code"})  # as the examples write them

Data = dict[str, Any]


@dataclass(frozen=True)
class Organisation:
    """What varies between two generated files of the same kind."""

    kind: str
    org_id: str
    place: str  # "Björkvik"
    name: str  # "Björkviks kommun (fiktiv)"
    slug: str  # "bjorkvik", for e-mail domains


def generate(
    directory: Path,
    kommuner: int = 290,
    regioner: int = 21,
    seed: int = 20261124,
) -> list[Path]:
    """Write `kommuner` + `regioner` organisation files and `_national.yaml` to `directory`.

    Returns the organisation files written, in order. Existing `*.yaml` files in `directory` are
    removed first, so that the directory holds exactly what was asked for.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for old in directory.glob("*.yaml"):
        old.unlink()
    shutil.copyfile(ROUTINES / NATIONAL_FILE, directory / NATIONAL_FILE)
    rng = random.Random(seed)
    templates = {kind: _read_template(path) for kind, path in TEMPLATES.items()}
    written: list[Path] = []
    for org in _organisations(rng, kommuner, regioner):
        text = _routine_file(rng, org, templates[org.kind])
        path = directory / f"{org.org_id}.yaml"
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


# ---------------------------------------------------------------------------------------------
# What each file holds


def _read_template(path: Path) -> Data:
    """The example file as nested dicts and lists of strings (BaseLoader keeps text as text)."""
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)
    if not isinstance(data, dict):
        raise ValueError(f"{path} is not a routine file")
    return data


def _organisations(rng: random.Random, kommuner: int, regioner: int) -> Iterator[Organisation]:
    kommun_places = _places(rng, _KOMMUN_SUFFIXES, kommuner)
    for number, place in enumerate(kommun_places, start=1):
        genitive = place if place[-1] in "sxz" else place + "s"
        yield Organisation(
            "kommun", f"kommun-{number:03d}", place, f"{genitive} kommun (fiktiv)", _slug(place)
        )
    for number, place in enumerate(_places(rng, _REGION_SUFFIXES, regioner), start=1):
        yield Organisation(
            "region", f"region-{number:02d}", place, f"Region {place} (fiktiv)", _slug(place)
        )


def _places(rng: random.Random, suffixes: Sequence[str], count: int) -> list[str]:
    names = [prefix + suffix for prefix in _PREFIXES for suffix in suffixes]
    names = list(dict.fromkeys(names))
    rng.shuffle(names)
    # More organisations than names: the same name again gets a number, as "Björkvik 2".
    return [
        names[i % len(names)] + ("" if i < len(names) else f" {i // len(names) + 1}")
        for i in range(count)
    ]


def _slug(place: str) -> str:
    folded = place.lower().translate(str.maketrans("åäöé ", "aaoe-"))
    return re.sub(r"[^a-z0-9-]", "", folded)


def _routine_file(rng: random.Random, org: Organisation, template: Data) -> str:
    languages = ["sv"] if rng.random() < SV_ONLY_SHARE else ["sv", "en"]
    contacts = _contacts(rng, org, template["contacts"])
    situations = _situations(rng, org, template["situations"], set(contacts))
    data: Data = {
        "schema": "1",
        "organisation": _organisation(rng, org, languages),
        "contacts": contacts,
        "situations": situations,
        "reminders": _reminders(rng, org, set(contacts)),
    }
    if rng.random() < 0.7:
        data["retention"] = rng.choice(("12mo", "24mo", "36mo"))
    data = _localise(data, org, template_kind=org.kind)
    if languages == ["sv"]:
        data = _only_swedish(data)
    return _emit(org, data)


def _organisation(rng: random.Random, org: Organisation, languages: list[str]) -> Data:
    reviewed = date(2025, 6, 1) + timedelta(days=rng.randrange(540))
    section: Data = {"id": org.org_id, "name": org.name, "kind": org.kind}
    if org.kind == "kommun":
        section["code"] = f"9{int(org.org_id.rsplit('-', 1)[1]):03d}"  # 9xxx: no real county
    if rng.random() < 0.6:
        section["timezone"] = "Europe/Stockholm"
    section["languages"] = languages
    section["reviewed"] = reviewed.isoformat()
    if rng.random() < 0.8:
        section["review_every"] = rng.choice(("6mo", "12mo", "12mo", "24mo"))
    section["owner"] = COORDINATOR[org.kind]
    return section


def _contacts(rng: random.Random, org: Organisation, template: Mapping[str, Data]) -> Data:
    """6 to 10 of the template's contacts; after_hours chains are re-linked past dropped ones."""
    kept = {COORDINATOR[org.kind], *ALWAYS_KEPT}
    optional = [cid for cid in template if cid not in kept]
    count = rng.randint(MIN_CONTACTS, min(MAX_CONTACTS, len(template)))
    kept.update(rng.sample(optional, count - len(kept)))
    contacts: Data = {}
    for cid, original in template.items():  # template order, as a coordinator would keep it
        if cid not in kept:
            continue
        contact = {key: value for key, value in original.items() if key != "after_hours"}
        after = _after_hours(cid, template, kept)
        if "phone" in original:
            contact["phone"] = _phone(rng)
        if "email" in original:
            local = str(original["email"]).split("@", 1)[0]
            contact["email"] = f"{local}@{org.slug}.example"
        if "person" in original or (cid in LEADERS[org.kind] and rng.random() < 0.8):
            contact["person"] = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        hours = original.get("hours")
        if cid == "tib":
            contact.pop("hours", None)
            if rng.random() < 0.3:
                contact["hours"] = ["always"]
        elif hours and hours != ["always"]:
            pool = _EVENING_HOURS if cid in EVENING_CONTACTS else _OFFICE_HOURS
            contact["hours"] = list(rng.choice(pool))
        if after is not None:
            contact["after_hours"] = after
        contacts[cid] = _ordered(contact)
    return contacts


def _after_hours(cid: str, template: Mapping[str, Data], kept: set[str]) -> str | None:
    """Follow the template's chain past contacts this file does not have."""
    target = template[cid].get("after_hours")
    seen = {cid}
    while target is not None and not target.startswith("national.") and target not in kept:
        if target in seen:
            return "tib"
        seen.add(target)
        target = template.get(target, {}).get("after_hours", "tib")
    return target


_CONTACT_ORDER = (
    "name",
    "person",
    "phone",
    "email",
    "hours",
    "after_hours",
    "receives_reports",
    "note",
)


def _ordered(contact: Data) -> Data:
    return {key: contact[key] for key in _CONTACT_ORDER if key in contact}


def _phone(rng: random.Random) -> str:
    area, head, low, high = rng.choice(FICTIONAL_RANGES)
    digits = f"{head}{rng.randint(low, high):02d}"
    grouped = _group(digits)
    style = rng.randrange(5)
    if style == 0:
        return f"{area}-{grouped}"
    if style == 1:
        return f"+46 {area[1:]} {grouped}"
    if style == 2:
        return f"{area}{digits}"
    if style == 3:
        return f"{area} {grouped}"
    return f"{area}-{_pairs(digits)}"


def _group(digits: str) -> str:
    """Swedish grouping: 465 004 12, 390 06 40, 319 210."""
    if len(digits) == 8:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    if len(digits) == 7:
        return f"{digits[:3]} {digits[3:5]} {digits[5:]}"
    return f"{digits[:3]} {digits[3:]}"


def _pairs(digits: str) -> str:
    """In pairs, as many write numbers: 46 50 04 12, 390 06 40 (an odd digit count leads)."""
    head = 3 if len(digits) % 2 else 2
    rest = digits[head:]
    return " ".join([digits[:head], *(rest[i : i + 2] for i in range(0, len(rest), 2))])


def _situations(
    rng: random.Random, org: Organisation, template: Sequence[Data], contacts: set[str]
) -> list[Data]:
    """All 13 situations; steps naming a contact the file does not have are left out."""
    local_word = org.place.lower().split(" ")[0] + rng.choice(_LOCAL_PLACES)
    local_in = set(rng.sample(range(1, len(template)), rng.randint(1, 4)))
    situations: list[Data] = []
    for index, original in enumerate(template):
        steps = [
            step
            for step in original["steps"]
            if "contact" not in step
            or step["contact"].startswith("national.")
            or step["contact"] in contacts
        ]
        situation = {key: value for key, value in original.items() if key != "steps"}
        if index in local_in and "match" in situation:
            match = dict(situation["match"])
            match["sv"] = [local_word, *match.get("sv", [])]
            situation["match"] = match
        situation["steps"] = steps
        situations.append(situation)
    return situations


def _reminders(rng: random.Random, org: Organisation, contacts: set[str]) -> Data:
    if rng.random() < 0.1:
        return {}
    reminders: Data = {"members": rng.choice(_MEMBERS)}
    reminders["ack_within"] = rng.choice(("4h", "8h", "24h", "24h", "2d"))
    escalate = [cid for cid in LEADERS[org.kind] if cid in contacts]
    if escalate:
        reminders["escalate_to"] = escalate
    reminders["followup"] = rng.choice((["2d", "14d"], ["1d", "7d", "30d"], ["3d"]))
    reminders["quiet_hours"] = rng.choice(("21:00-08:00", "22:00-07:00", "20:00-08:00"))
    events = []
    for _ in range(rng.randint(0, 2)):
        day = date(2027, 1, 1) + timedelta(days=rng.randrange(700))
        month_sv, month_en = _MONTHS_SV[day.month - 1], _MONTHS_EN[day.month - 1]
        events.append(
            {
                "date": day.isoformat(),
                "before": rng.choice(("7d", "2w", "30d")),
                "text": {
                    "sv": (
                        f"Fullmäktige sammanträder den {day.day} {month_sv} och väntas locka "
                        'mycket publik. Läs rådet "Inför ett möte".'
                    ),
                    "en": (
                        f"The council meets on {day.day} {month_en} and is expected to draw a "
                        'large audience. Read the advice "Before a meeting".'
                    ),
                },
            }
        )
    if events:
        reminders["events"] = events
    return reminders


def _localise(value: Any, org: Organisation, template_kind: str) -> Any:
    """The template organisation's name becomes this one's, in every text."""
    place, slug = TEMPLATE_NAMES[template_kind]
    if isinstance(value, str):
        return value.replace(place, org.place).replace(slug, org.place.lower())
    if isinstance(value, list):
        return [_localise(item, org, template_kind) for item in value]
    if isinstance(value, dict):
        return {key: _localise(item, org, template_kind) for key, item in value.items()}
    return value


def _only_swedish(value: Any) -> Any:
    """A file written in Swedish only: `en` texts and words are left out."""
    if isinstance(value, list):
        return [_only_swedish(item) for item in value]
    if isinstance(value, dict):
        if set(value) == {"sv", "en"} and all(isinstance(v, str) for v in value.values()):
            return value["sv"]
        return {key: _only_swedish(item) for key, item in value.items() if key != "en"}
    return value


# ---------------------------------------------------------------------------------------------
# Writing YAML the way people do


def _emit(org: Organisation, data: Data) -> str:
    lines = [
        f"# FICTIONAL – {org.name} does not exist. Generated by bench/generate.py for benchmarks.",
        "# Phone numbers are in the ranges PTS reserves for fiction; e-mail uses .example.",
        "",
        f"schema: {data['schema']}",
        "",
        "organisation:",
    ]
    for key, value in data["organisation"].items():
        lines.append(_line(1, key, value))
    lines += ["", "contacts:"]
    for cid, contact in data["contacts"].items():
        lines.append(f"  {cid}:")
        for key, value in contact.items():
            if key in ("name", "note"):
                lines += _text(2, key, value)
            else:
                lines.append(_line(2, key, value))
        lines.append("")
    lines.append("situations:")
    for situation in data["situations"]:
        lines.append(f"  - id: {situation['id']}")
        lines += _text(2, "title", situation["title"])
        if situation.get("urgent"):
            lines.append(f"    urgent: {situation['urgent']}")
        if situation.get("match"):
            lines.append("    match:")
            for lang, words in situation["match"].items():
                lines += _flow_list(3, lang, words)
        lines.append("    steps:")
        for step in situation["steps"]:
            if "contact" in step:
                lines.append(f"      - contact: {step['contact']}")
            else:
                lines += _text(3, "- text", step["text"], indent_after=2)
        lines.append("")
    reminders = data["reminders"]
    if reminders:
        lines.append("reminders:")
        for key, value in reminders.items():
            if key != "events":
                lines.append(_line(1, key, value))
        for number, event in enumerate(reminders.get("events", ())):
            if number == 0:
                lines.append("  events:")
            lines.append(f"    - date: {event['date']}")
            lines.append(f"      before: {event['before']}")
            lines += _text(3, "text", event["text"])
        lines.append("")
    if "retention" in data:
        lines.append(f"retention: {data['retention']}")
    return "\n".join(lines).rstrip("\n") + "\n"


def _scalar(value: str) -> str:
    """Plain when YAML reads it back as written, else double-quoted (JSON is valid YAML)."""
    if _PLAIN.fullmatch(value) and value == value.strip():
        return value
    return json.dumps(value, ensure_ascii=False)


def _line(depth: int, key: str, value: Any) -> str:
    pad = "  " * depth
    if isinstance(value, list):
        return f"{pad}{key}: [{', '.join(_scalar(str(item)) for item in value)}]"
    if key in _ALWAYS_QUOTED:
        return f"{pad}{key}: {json.dumps(str(value), ensure_ascii=False)}"
    return f"{pad}{key}: {_scalar(str(value))}"


def _text(depth: int, key: str, value: str | Mapping[str, str], indent_after: int = 0) -> list[str]:
    """A text: one line when short, `{sv: ..., en: ...}` when both fit, else `>-` blocks.

    `indent_after` is for `- text:` in a list, whose values are indented past the dash.
    """
    pad = "  " * depth
    inner = "  " * (depth + 1) + " " * indent_after
    if isinstance(value, str):
        single = f"{pad}{key}: {_scalar(value)}"
        if len(single) <= WIDTH:
            return [single]
        return [f"{pad}{key}: >-", *_folded(inner, value)]
    flow = ", ".join(f"{lang}: {_scalar(text)}" for lang, text in value.items())
    single = f"{pad}{key}: {{{flow}}}"
    if len(single) <= WIDTH:
        return [single]
    lines = [f"{pad}{key}:"]
    for lang, text in value.items():
        line = f"{inner}{lang}: {_scalar(text)}"
        if len(line) <= WIDTH + 20:  # the examples allow a long line rather than a block
            lines.append(line)
        else:
            lines += [f"{inner}{lang}: >-", *_folded(inner + "  ", text)]
    return lines


def _folded(pad: str, text: str) -> list[str]:
    return [pad + line for line in textwrap.wrap(text, WIDTH - len(pad), break_long_words=False)]


def _flow_list(depth: int, key: str, words: Sequence[str]) -> list[str]:
    """`sv: [a, b, c]`, continued on lines aligned after the bracket."""
    head = f"{'  ' * depth}{key}: ["
    items = [_scalar(word) for word in words]
    lines: list[str] = []
    current = head
    for number, item in enumerate(items):
        piece = item + ("]" if number == len(items) - 1 else ",")
        if current not in (head, " " * len(head)) and len(current) + 1 + len(piece) > WIDTH:
            lines.append(current)
            current = " " * len(head)
        current += piece if current in (head, " " * len(head)) else " " + piece
    lines.append(current if items else head + "]")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--kommuner", type=int, default=290)
    parser.add_argument("--regioner", type=int, default=21)
    parser.add_argument("--seed", type=int, default=20261124)
    args = parser.parse_args(argv)
    written = generate(args.directory, args.kommuner, args.regioner, args.seed)
    print(f"wrote {len(written)} organisation files and {NATIONAL_FILE} to {args.directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
