"""Hostile input through the real dispatch path: arbitrary text, entities and callback data.

One bot (the real application on the recording transport) serves a small world: a guest, a
member, a member in the middle of a report's description, Solvik's coordinator, Region
Norrmark's coordinator, and two reporters who asked to be contacted, one per organisation.
Hypothesis then sends them whatever Telegram could deliver: text of any script up to 4096
characters with well-formed entities, commands with arbitrary arguments, edits, photos and
stickers with captions, group messages, any callback data of up to 64 bytes, and forged button
data built from the bot's own actions, verbs and real report references. Names, usernames and
language codes are arbitrary too. After every update:

- no exception reached the error handler (nothing logged at ERROR, no "something went wrong"),
- no Bot API call was refused (no HTML Telegram cannot parse, no message too long), other than
  "message is not modified", which the form expects and handles;
- a text in a private chat always got an answer.

Forged data for another organisation's report, or for someone else's report, is refused: the
report, its link and its queue stay as they were, and Region Norrmark's numbers never reach a
member of Solvik (or the other way round), whatever button they press.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bot.app import build_application, running
from bot.config import Settings
from bot.devchat.transport import Call, RecordingRequest, utf16_len
from bot.handlers import callbacks, flood
from bot.reports.model import Draft
from tests.conftest import OFFICE_HOURS, ROUTINES, Clock, Harness, texts
from tests.fakes import telegram_objects as tg

T = TypeVar("T")
EXAMPLES = int(os.environ.get("TRYGG_HOSTILE_EXAMPLES", "150"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# The world. Distinctive ids, so a hit in a search cannot be chance.
GUEST = 7_500_001
MEMBER = 7_500_002
DRAFTER = 7_500_003  # a Solvik member at the description step of a report
KARIN = 7_500_101  # Solvik's coordinator, contact `sakerhet`
SARA = 7_500_201  # Region Norrmark's coordinator, contact `samordnare`
ANNA = 7_500_011  # Solvik member who reported and asked to be contacted: report `refs[ANNA]`
BERIT = 7_500_021  # Region Norrmark member who did the same
USERS = (GUEST, MEMBER, DRAFTER, KARIN, SARA, ANNA, BERIT)

ORG_OF = {MEMBER: "solvik", DRAFTER: "solvik", KARIN: "solvik", ANNA: "solvik"}
ORG_OF |= {SARA: "region-norrmark", BERIT: "region-norrmark"}

NOT_FOUND = "Den rapporten finns inte"
COORDINATORS_ONLY = "Det kommandot är för säkerhetssamordnare"
SORRY = "något gick fel"
ANSWERS = ("sendMessage", "editMessageText", "sendPhoto")
# The form shows this when an edit changes nothing; the bot expects and handles it.
EXPECTED_REFUSALS = ("message is not modified",)


class _Errors(logging.Handler):
    """Every record at ERROR or above, and anything the error handler says."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.ERROR or record.name == "bot.handlers.edge":
            self.records.append(record)


@dataclass
class World:
    """The bot on its own event loop, driven from synchronous hypothesis tests."""

    harness: Harness
    runner: asyncio.Runner
    stack: contextlib.AsyncExitStack
    errors: _Errors
    refs: dict[int, str] = field(default_factory=dict)
    ticks: Iterator[int] = field(default_factory=lambda: itertools.count(start=1000, step=100))

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.runner.run(coro)

    def db_rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        path = self.harness.services.db.path
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def dispatch(self, update: dict[str, Any]) -> list[Call]:
        """Process one update; fail if anything went wrong on the way."""
        self.errors.records.clear()
        calls = self.run(self.harness.update(update))
        problems = [f"{r.name}: {r.getMessage()}" for r in self.errors.records]
        assert problems == [], problems
        assert not any(SORRY in text for text in texts(calls)), texts(calls)
        refused = [
            f"{c.method}: {c.error}"
            for c in calls
            if not c.ok and not any(e in (c.error or "") for e in EXPECTED_REFUSALS)
        ]
        assert refused == [], refused
        return calls

    def ensure_state(self) -> None:
        """Put back what earlier examples may legitimately have changed (a cancelled draft)."""
        db = self.harness.services.db
        draft = self.run(db.get_draft(DRAFTER))
        if draft is None or draft.step != "description":
            values = {
                "type": "hot",
                "channel": "epost",
                "month": "2026-11",
                "repeated": "ja",
                "perpetrator": "kand",
                "police": "nej",
                "impact": ["avstod"],
            }
            draft = Draft(org_id="solvik", step="description", values=values)
            self.run(db.save_draft(DRAFTER, draft, OFFICE_HOURS))


async def _report(harness: Harness, user: int) -> str:
    """`user` fills in a report, asks to be contacted, and sends it; returns its reference."""
    await harness.send(user, "/rapportera")
    for data in (
        "skip.description", "set.type.hot", "set.channel.epost", "set.month.2026-11",
        "set.repeated.ja", "set.perpetrator.kand", "set.police.planerar", "set.impact.avstod",
        "done.impact", "skip.gender", "set.contact_me.ja",
    ):  # fmt: skip
        await harness.press(user, callbacks.report(data))
    sent = await harness.press(user, callbacks.report("send"))
    for text in texts(sent):
        if "Referens:" in text:
            return text.split("Referens: ")[1].split()[0]
    raise AssertionError(texts(sent))


async def _populate(world: World) -> None:
    h = world.harness
    await h.join(KARIN, "solvik", role="coordinator", contact="sakerhet")
    await h.join(SARA, "region-norrmark", role="coordinator", contact="samordnare")
    for user in (MEMBER, DRAFTER, ANNA):
        await h.join(user, "solvik")
    await h.join(BERIT, "region-norrmark")
    world.refs[ANNA] = await _report(h, ANNA)
    world.refs[BERIT] = await _report(h, BERIT)


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with tempfile.TemporaryDirectory(prefix="trygg-hostile-") as tmp:
        routines = Path(tmp) / "routines"
        shutil.copytree(ROUTINES, routines)
        clock = Clock(OFFICE_HOURS)
        config = Settings(data_dir=Path(tmp) / "data", routines_dir=routines, reload_interval=3600)
        transport = RecordingRequest()
        app = build_application(
            config, request=transport, updates_request=transport.updates_request(), clock=clock
        )
        errors = _Errors()
        root = logging.getLogger()
        root.addHandler(errors)
        runner = asyncio.Runner()
        stack = contextlib.AsyncExitStack()
        try:
            runner.run(stack.enter_async_context(running(app)))
            world = World(Harness(app, transport, clock, routines), runner, stack, errors)
            guard = flood.installed(app)
            assert guard is not None
            # Each example is a new moment for the flood guard: it stays in the path, but the
            # hundreds of examples of one user are not a flood.
            guard.monotonic = lambda: float(next(world.ticks))
            world.run(_populate(world))
            world.ensure_state()
            yield world
        finally:
            runner.run(stack.aclose())
            runner.close()
            root.removeHandler(errors)


# ------------------------------------------------------------------------------ strategies

_CHARS = st.characters(blacklist_categories=("Cs",))  # Telegram delivers valid UTF-8 only
_PLAIN = st.text(_CHARS, min_size=1, max_size=300)
_LONG = st.text(_CHARS, min_size=3000, max_size=4096)
_LOOKS_LIKE = st.sampled_from(
    [
        "<b>fet</b> <i>", "</a>", "&amp;&lt;", "<script>alert(1)</script>", "%s %d {0} {ref}",
        "\x00\x01\x1b[31m", "‮reversed‬", "\u200b\u200d\ufeff", "👨‍👩‍👧‍👦" * 50, "ﷺ" * 200,
        "det står en man utanför mitt hus med kniv", "jag fick ett hotfullt mejl",
        "R-AAAAAA", "19800101-1234", "' OR 1=1 --", "'; DROP TABLE reports; --", "\\", "\n" * 50,
    ]
)  # fmt: skip
TEXT = st.one_of(_PLAIN, _LONG, _LOOKS_LIKE, st.tuples(_LOOKS_LIKE, _PLAIN).map("".join))

COMMANDS = [
    "start", "kontakt", "contact", "hjalp", "help", "sprak", "language", "glom", "forget",
    "rutin", "routine", "kort", "card", "halsa", "health", "rapportera", "report", "avbryt",
    "cancel", "mina", "myreports", "arenden", "cases", "paminnelser", "reminders", "paminn",
    "remind", "admin", "Start", "kontakt@trygg_test_bot", "kontakt@other_bot", "x" * 40,
]  # fmt: skip
COMMAND = st.tuples(
    st.sampled_from(COMMANDS), st.one_of(st.just(""), _PLAIN.map(lambda s: " " + s))
).map(lambda parts: "/" + parts[0] + parts[1])
# Not /glom's "yes" (that deletes the user, which is their right, not an attack).
_SAFE_COMMAND = COMMAND.filter(lambda text: not text.startswith(("/glom", "/forget")))

ENTITY_TYPES = [
    "mention", "hashtag", "cashtag", "bot_command", "url", "email", "phone_number", "bold",
    "italic", "underline", "strikethrough", "spoiler", "blockquote", "expandable_blockquote",
    "code", "pre", "text_link", "text_mention", "custom_emoji",
]  # fmt: skip


@st.composite
def entities(draw: st.DrawFn, text: str) -> list[dict[str, Any]]:
    """Well-formed entities of `text`, as Telegram sends them (offsets in UTF-16 units)."""
    length = utf16_len(text)
    if length == 0:
        return []
    found = []
    for _ in range(draw(st.integers(0, 5))):
        offset = draw(st.integers(0, length - 1))
        size = draw(st.integers(1, length - offset))
        kind = draw(st.sampled_from(ENTITY_TYPES))
        entity: dict[str, Any] = {"type": kind, "offset": offset, "length": size}
        if kind == "text_link":
            entity["url"] = draw(st.sampled_from(["https://example.com/x", "tg://user?id=1"]))
        elif kind == "text_mention":
            entity["user"] = tg.user(draw(st.integers(1, 2**40)))
        elif kind == "custom_emoji":
            entity["custom_emoji_id"] = str(draw(st.integers(1, 2**60)))
        elif kind == "pre":
            entity["language"] = draw(st.sampled_from(["", "python", "<b>"]))
        found.append(entity)
    return sorted(found, key=lambda e: (e["offset"], -e["length"]))


WHO = st.fixed_dictionaries(
    {},
    optional={
        "first_name": st.text(_CHARS, min_size=1, max_size=64),
        "username": st.from_regex(r"[A-Za-z][A-Za-z0-9_]{4,31}", fullmatch=True),
        "language_code": st.one_of(
            st.none(), st.sampled_from(["sv", "en", "en-GB", "fi", "ar", "zz"]), _PLAIN
        ),
    },
)

_ARG_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-"
VERBS = [
    "ack", "reply", "close", "show", "answer", "share", "add", "del", "delyes", "keep", "start",
    "set", "done", "skip", "back", "send", "edit", "summary", "cancel", "rewrite", "yes", "no",
    "on", "off", "-", "",
]  # fmt: skip


@st.composite
def forged_data(draw: st.DrawFn, refs: list[str]) -> str:
    """Button data in the bot's own shape, made up: real actions, verbs and references."""
    action = draw(
        st.one_of(
            st.sampled_from(sorted(callbacks.ACTIONS)), st.from_regex(r"[a-z]{1,8}", fullmatch=True)
        )
    )
    verb = draw(st.one_of(st.sampled_from(VERBS), st.text(_ARG_CHARS, max_size=12)))
    ref = draw(
        st.one_of(
            st.sampled_from(refs),
            st.from_regex(r"R-[A-Z0-9]{6}", fullmatch=True),
            st.text(_ARG_CHARS, max_size=40),
        )
    )
    extra = draw(st.one_of(st.just(""), st.text(_ARG_CHARS, max_size=8).map(lambda s: "." + s)))
    return f"{action}:{verb}.{ref}{extra}"[:64]


ANY_DATA = st.one_of(
    st.text(_CHARS, min_size=1, max_size=64).filter(lambda s: len(s.encode()) <= 64),
    st.binary(min_size=1, max_size=64).map(lambda b: b.decode("latin-1")),
)


def _destructive_for_owner(user: int, data: str, world: World) -> bool:
    """What the user may rightly do to their own things (close their case, delete their
    report, forget themselves): allowed, so not an attack, and it would empty the world."""
    parsed = callbacks.parse(data)
    if parsed is None:
        return False
    verb, _, ref = parsed.arg.partition(".")
    if parsed.action == "forget":
        return True
    if parsed.action == "case" and verb == "close":
        return True
    return parsed.action == "mine" and verb == "delyes" and ref in world.refs.values()


# ------------------------------------------------------------------------------ properties


@SETTINGS
@given(
    user=st.sampled_from(USERS),
    text=st.one_of(TEXT, _SAFE_COMMAND),
    with_entities=st.booleans(),
    who=WHO,
    data=st.data(),
)
def test_any_text_with_any_entities_gets_an_answer_and_no_error(
    world: World, user: int, text: str, with_entities: bool, who: dict[str, Any], data: Any
) -> None:
    world.ensure_state()
    found = data.draw(entities(text)) if with_entities else None
    update = tg.message_update(user, text, entities=found, **who)
    if found is not None and text.startswith("/"):
        update["message"]["entities"] = found  # as Telegram would mark it up, command or not
    calls = world.dispatch(update)
    answered = [c for c in calls if c.method in ANSWERS and c.ok]
    assert answered, f"no answer to {text[:80]!r}"


@SETTINGS
@given(
    user=st.sampled_from([KARIN, SARA, ANNA, BERIT]),
    text=TEXT,
    via=st.sampled_from(["case:reply", "relay:answer", "mine:add"]),
    whose=st.sampled_from([ANNA, BERIT]),
)
def test_text_for_a_relay_or_an_addition_is_handled_whatever_it_says(
    world: World, user: int, text: str, via: str, whose: int
) -> None:
    """A button that asks for text, then arbitrary text: relayed, added, or refused cleanly."""
    action, verb = via.split(":")
    world.dispatch(tg.callback_update(user, f"{action}:{verb}.{world.refs[whose]}", 1))
    calls = world.dispatch(tg.message_update(user, text))
    assert texts(calls)
    world.run(world.harness.services.outbox.send_due(world.harness.app.bot))


@SETTINGS
@given(user=st.sampled_from(USERS), data=st.data(), who=WHO)
def test_any_callback_data_is_answered_and_never_an_error(
    world: World, user: int, data: Any, who: dict[str, Any]
) -> None:
    world.ensure_state()
    refs = sorted(world.refs.values())
    payload = data.draw(st.one_of(ANY_DATA, forged_data(refs)))
    assume(not _destructive_for_owner(user, payload, world))
    who.pop("last_name", None)
    calls = world.dispatch(
        tg.callback_update(user, payload, data.draw(st.integers(1, 10**6)), **who)
    )
    assert any(c.method == "answerCallbackQuery" for c in calls), payload


@SETTINGS
@given(
    kind=st.sampled_from(["edit", "photo", "sticker", "group", "group_command"]),
    user=st.sampled_from(USERS),
    text=st.one_of(TEXT, COMMAND),
)
def test_edits_media_and_groups_with_any_text(
    world: World, kind: str, user: int, text: str
) -> None:
    if kind == "edit":
        update = tg.edited_message_update(user, text, 1)
    elif kind == "photo":
        update = tg.photo_update(user, caption=text[:1024])
    elif kind == "sticker":
        update = tg.sticker_update(user)
    else:
        body = text if kind == "group" else "/" + text.lstrip("/")
        update = tg.message_update(user, body, chat_type="supergroup", chat_id=tg.DEFAULT_GROUP_ID)
    world.dispatch(update)


# ------------------------------------------------------------------------------ forged buttons


def _snapshot(world: World, ref: str) -> tuple[Any, ...]:
    report = world.db_rows(
        "SELECT id, state, description, acknowledged_by, closed_at FROM reports WHERE ref = ?", ref
    )
    assert report, f"report {ref} is gone"
    report_id = report[0][0]
    links = world.db_rows(
        "SELECT owner_tag, shared FROM report_links WHERE report_id = ?", report_id
    )
    queued = world.db_rows(
        "SELECT COUNT(*) FROM outbox WHERE report_id = ? OR dedupe LIKE ?", report_id, f"%{ref}%"
    )
    pending = world.db_rows("SELECT key, action FROM pending_inputs WHERE report_id = ?", report_id)
    return (report[0], links, queued, pending)


# Who may act on a report, by the kind of button: its organisation's coordinator on the case,
# its reporter on the relay and on /mina.
def _allowed(user: int, action: str, owner: int) -> bool:
    coordinator = {ANNA: KARIN, BERIT: SARA}[owner]
    return user == coordinator if action == "case" else user == owner


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    user=st.sampled_from(USERS),
    action=st.sampled_from(["case", "relay", "mine"]),
    verb=st.sampled_from(
        ["ack", "reply", "close", "show", "answer", "share", "add", "del", "delyes", "keep"]
    ),
    owner=st.sampled_from([ANNA, BERIT]),
)
def test_buttons_forged_for_someone_elses_report_are_refused(
    world: World, user: int, action: str, verb: str, owner: int
) -> None:
    assume(not _allowed(user, action, owner))
    ref = world.refs[owner]
    before = _snapshot(world, ref)
    calls = world.dispatch(tg.callback_update(user, f"{action}:{verb}.{ref}", 1))
    shown = "\n".join(texts(calls))
    assert NOT_FOUND in shown or COORDINATORS_ONLY in shown, shown
    assert ref not in shown
    assert _snapshot(world, ref) == before
    # Nothing was queued to anyone because of it.
    assert world.run(world.harness.services.outbox.send_due(world.harness.app.bot)).sent == 0


def test_a_coordinator_of_another_organisation_is_refused_and_it_is_logged(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    ref = world.refs[ANNA]
    before = _snapshot(world, ref)
    for verb in ("ack", "close", "reply", "show"):
        calls = world.dispatch(tg.callback_update(SARA, f"case:{verb}.{ref}", 1))
        assert texts(calls) == ["Den rapporten finns inte, eller hör inte till dig."]
    assert _snapshot(world, ref) == before
    warned = [r.getMessage() for r in caplog.records if r.name == "bot.handlers.cases"]
    assert warned == ["a coordinator of region-norrmark tried a report of another organisation"] * 4
    # The control: her own organisation's report she can acknowledge.
    calls = world.dispatch(tg.callback_update(SARA, f"case:ack.{world.refs[BERIT]}", 1))
    assert f"Du har kvitterat {world.refs[BERIT]}" in texts(calls)[0]


def _numbers(world: World, org: str) -> set[str]:
    routine = world.harness.services.registry.get(org)
    assert routine is not None
    national = {
        c.phone.national
        for c in world.harness.services.registry.national.contacts.values()
        if c.phone
    }
    own = {c.phone.national for c in routine.contacts.values() if c.phone}
    return own - national


@SETTINGS
@given(
    user=st.sampled_from([MEMBER, KARIN, ANNA, SARA, BERIT]),
    data=st.one_of(
        st.sampled_from(
            [callbacks.situation(s) for s in ("akut", "hot", "nathat", "skydda", "oro")]
        ),
        st.from_regex(r"(sit|rep|remind|menu|lang):[A-Za-z0-9_.-]{0,30}", fullmatch=True),
    ),
)
def test_no_button_shows_another_organisations_contacts(world: World, user: int, data: str) -> None:
    assume(not _destructive_for_owner(user, data, world))
    own = ORG_OF[user]
    other = "region-norrmark" if own == "solvik" else "solvik"
    foreign = _numbers(world, other) - _numbers(world, own)
    calls = world.dispatch(tg.callback_update(user, data, 1))
    shown = "\n".join(str(c.params.get("text", "")) for c in calls)
    leaked = sorted(number for number in foreign if number in shown)
    assert leaked == [], (data, leaked)
