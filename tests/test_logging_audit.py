"""The log never holds personal data: checked in the source, and by watching every handler.

**In the source.** Every logging call in `bot/` (any level: DEBUG is an operator's choice too) is
read with `ast`, and its arguments may not name what identifies a person or what they wrote:
message text, user and chat ids, names and usernames, callback data, command arguments (an
invite code is a credential), report references, owner tags and sealed links, or a Telegram
object whose repr holds them. Nor may they pass an exception as it is (its message can quote the
text) or ask for a traceback with the message (`log.exception`, `exc_info=`): the type, and
`traceback.format_tb` for where, is what the error handler logs. `type(x)` and `len(x)` are
always fine. The scanner is tested on code that does each of these wrong, so the test fails when
someone writes `log.info("got %s", update.message.text)`.

**At run time.** The real application runs through every handler (commands, buttons, the report
form and its relay, /mina, the coordinators' commands, reminders, the error handler, flood
control, the outbox through Telegram errors) for users with distinctive ids, names, usernames and
texts, at DEBUG for the bot and INFO for the libraries (the most an operator can choose, as
`configure_logging("DEBUG")` sets it). No record holds any of them; the control is that the log
does say what happened (joins, reports, a forgotten user, a failure, a flood).

Reviewed by hand, for the closing note: every log line of `bot/` names only organisation and
contact ids, counts, durations, outbox row ids, error types, file paths of the routines and data
directory, and permission bits.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.app import OFFLINE_TOKEN
from bot.cli import _CAPPED_LOGGERS
from bot.handlers import callbacks, flood
from bot.reminders.jobs import run_due
from tests.conftest import Harness, texts
from tests.fakes import telegram_objects as tg

BOT = Path(__file__).resolve().parent.parent / "bot"

LOGGERS = frozenset({"log", "logger", "_log", "LOG", "_LOGGER", "logging"})
LEVELS = frozenset({"debug", "info", "warning", "warn", "error", "exception", "critical", "log"})

# Names that must not appear in a logging call's arguments, and why.
FORBIDDEN = {
    "text": "message text",
    "caption": "message text",
    "description": "a report's description",
    "payload": "a queued message",
    "message": "a Telegram message",
    "effective_message": "a Telegram message",
    "update": "a Telegram update (ids, names, text)",
    "query": "a callback query (ids, data)",
    "callback_query": "a callback query (ids, data)",
    "data": "callback data",
    "args": "command arguments (an invite code)",
    "code": "an invite code",
    "user": "a Telegram user",
    "effective_user": "a Telegram user",
    "from_user": "a Telegram user",
    "user_id": "a user id",
    "chat": "a chat",
    "effective_chat": "a chat",
    "chat_id": "a chat id",
    "username": "a username",
    "full_name": "a name",
    "first_name": "a name",
    "last_name": "a name",
    "ref": "a report reference",
    "tag": "an owner tag",
    "owner_tag": "an owner tag",
    "link": "a sealed link",
    "token": "the bot token",
    "secret_key": "the secret key",
    "bot": "a Bot (its repr holds the token)",
    "app": "an Application (its repr holds the token)",
    "application": "an Application (its repr holds the token)",
    "context": "a context (its repr holds the bot)",
}
# An exception passed as it is logs its message, which can quote what the user wrote.
EXCEPTION_NAMES = frozenset({"error", "exc", "exception", "e", "err", "ex"})
SAFE_WRAPPERS = frozenset({"type", "len"})

# Reviewed exceptions to the rules, with the reason.
ALLOWED = {
    # The situations come from the routine files, not from users: the traceback of a file
    # that cannot be indexed helps its author, and holds nothing personal.
    ("bot/routines/triage.py", "could not index situations"),
}


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _is_logging_call(node: ast.Call) -> bool:
    func = node.func
    if not isinstance(func, ast.Attribute) or func.attr not in LEVELS:
        return False
    target = func.value
    if isinstance(target, ast.Name):
        return target.id in LOGGERS
    # logging.getLogger(...).info(...)
    return (
        isinstance(target, ast.Call)
        and isinstance(target.func, ast.Attribute)
        and target.func.attr == "getLogger"
    )


def _names(node: ast.AST) -> Iterator[tuple[str, bool]]:
    """(name, passed as it is) of every name and attribute in an argument, outside type()/len()."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in SAFE_WRAPPERS
    ):
        return
    if isinstance(node, ast.Name):
        yield node.id, True
        return
    if isinstance(node, ast.Attribute):
        yield node.attr, True
        for name, _ in _names(node.value):
            yield name, False
        return
    if isinstance(node, ast.Subscript):  # values["description"] names what it reads
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            yield key.value, True
    for child in ast.iter_child_nodes(node):
        for name, _ in _names(child):
            yield name, False


def _message_of(node: ast.Call) -> str:
    first = node.args[0] if node.args else None
    return first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""


def scan(source: str, path: str) -> list[Finding]:
    """The logging calls of `source` that could log personal data or a secret."""
    findings: list[Finding] = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not _is_logging_call(node):
            continue
        assert isinstance(node.func, ast.Attribute)
        message = _message_of(node)
        if any(path.endswith(p) and m in message for p, m in ALLOWED):
            continue
        problems: list[str] = []
        if node.func.attr == "exception":
            problems.append("log.exception logs the exception's message")
        for keyword in node.keywords:
            if keyword.arg == "exc_info":
                problems.append("exc_info logs the exception's message")
        arguments = [*node.args, *(k.value for k in node.keywords if k.arg != "exc_info")]
        for argument in arguments:
            for name, bare in _names(argument):
                if name in FORBIDDEN:
                    problems.append(f"`{name}`: {FORBIDDEN[name]}")
                elif bare and name in EXCEPTION_NAMES:
                    problems.append(f"`{name}` as it is: log type({name}).__name__")
        findings += [Finding(path, node.lineno, problem) for problem in problems]
    return findings


def test_no_logging_call_in_bot_names_personal_data_or_secrets() -> None:
    findings: list[Finding] = []
    calls = 0
    for path in sorted(BOT.rglob("*.py")):
        source = path.read_text("utf-8")
        relative = str(path.relative_to(BOT.parent))
        findings += scan(source, relative)
        calls += sum(
            isinstance(n, ast.Call) and _is_logging_call(n) for n in ast.walk(ast.parse(source))
        )
    assert calls >= 40, "the scanner found the logging calls"
    assert [str(f) for f in findings] == []


@pytest.mark.parametrize(
    "wrong",
    [
        'log.info("got %s", update.message.text)',
        'log.info(f"user {user.id} wrote")',
        'log.warning("from %d", user_id)',
        'log.info("chat %s", chat_id)',
        'log.info("%s joined", update.effective_user.full_name)',
        'log.info("pressed %s", query.data)',
        'log.info("joined with %s", context.args[0])',
        'log.info("report %s acknowledged", report.ref)',
        'log.warning("failed: %s", error)',
        'log.error("failed: %r", exc)',
        'log.exception("failed")',
        'log.error("failed", exc_info=True)',
        'logging.getLogger(__name__).info("%s", message.text)',
        'log.info("bot %s", context.bot)',
        'log.info("text: " + text)',
        'log.info("text: %s" % text)',
        'log.debug("description %s", draft.values["description"])',
    ],
)
def test_the_scanner_catches_each_kind_of_leak(wrong: str) -> None:
    assert scan(wrong, "bot/handlers/example.py"), wrong


@pytest.mark.parametrize(
    "fine",
    [
        'log.info("a %s joined %s", redeemed.role, redeemed.org_id)',
        'log.warning("failed with %s", type(error).__name__)',
        'log.info("report submitted for %s to %d coordinators", routine.id, len(coordinators))',
        'log.warning("outbox: row %d given up: %s", row.id, undeliverable.reason)',
        'log.info("%d users, %d texts", len(users), len(texts))',
    ],
)
def test_the_scanner_lets_counts_types_and_organisation_ids_through(fine: str) -> None:
    assert scan(fine, "bot/handlers/example.py") == []


# ------------------------------------------------------------------------------ at run time

# Distinctive values: finding one in the log cannot be chance.
MEMBER = 7_391_117
REPORTER = 7_392_228
COORDINATOR = 7_393_339
OTHER_COORDINATOR = 7_394_440
FLOODER = 7_395_551
WHO = {"first_name": "Gunvor", "last_name": "Östlund-Pettersson", "username": "gunvor_ostlund"}
COORDINATOR_WHO = {"first_name": "Ingeborg", "username": "ingeborg_sakerhet"}
QUESTION = "Hemlighet-QX41: någon hotade mig i mejl om Bokvägen 7"
DESCRIPTION = "Hemlighet-DZ92: Erik Svensson på Storgatan 12 ringde från 070-174 06 50"
RELAY = "Hemlighet-RL53: vill du ses i morgon?"
ANSWER = "Hemlighet-SV64: ja, efter lunch"
ADDITION = "Hemlighet-AD75: han ringde igen, 19800101-1234"
TOKEN_PART = OFFLINE_TOKEN.split(":")[1]  # the harness's token; libraries at DEBUG would log it


def _personal(ids: list[int], extra: list[str]) -> list[str]:
    values = [str(i) for i in ids] + list(WHO.values()) + list(COORDINATOR_WHO.values())
    values += ["Hemlighet", "Bokvägen", "Storgatan", "070-174", "19800101", *extra]
    return values


async def _report(harness: Harness, user: int) -> str:
    await harness.send(user, "/rapportera", **WHO)
    await harness.send(user, DESCRIPTION, **WHO)
    await harness.press(user, callbacks.report("keep"))
    await harness.press(user, callbacks.report("back"))
    await harness.press(user, callbacks.report("skip.description"))
    for data in (
        "set.type.hot", "set.channel.epost", "set.month.2026-11", "set.repeated.ja",
        "set.perpetrator.kand", "set.police.planerar", "set.impact.avstod", "done.impact",
        "set.gender.kvinna",
    ):  # fmt: skip
        await harness.press(user, callbacks.report(data), first_name=WHO["first_name"])
    await harness.press(user, callbacks.report("set.contact_me.ja"))
    await harness.press(user, callbacks.report("edit"))
    await harness.press(user, callbacks.report("edit.police"))
    await harness.press(user, callbacks.report("set.police.ja"))
    sent = await harness.press(user, callbacks.report("send"), **{"username": WHO["username"]})
    return next(t.split("Referens: ")[1].split()[0] for t in texts(sent) if "Referens:" in t)


@pytest.fixture
def operator_debug_levels(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """The levels `configure_logging("DEBUG")` sets: DEBUG, with the libraries capped."""
    caplog.set_level(logging.DEBUG)
    saved = {name: logging.getLogger(name).level for name in _CAPPED_LOGGERS}
    for name, floor in _CAPPED_LOGGERS.items():
        logging.getLogger(name).setLevel(floor)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)


@pytest.mark.usefixtures("operator_debug_levels")
async def test_every_handler_keeps_personal_data_out_of_the_log(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h = harness
    codes: list[str] = []
    guard = flood.installed(h.app)
    assert guard is not None
    ticks = iter(range(0, 10**9, 100))
    guard.monotonic = lambda: float(next(ticks))  # no flood until the flood below

    # Joining, in both organisations, a coordinator of each, and a switch of organisation.
    for user, org, role, contact in (
        (COORDINATOR, "solvik", "coordinator", "sakerhet"),
        (OTHER_COORDINATOR, "region-norrmark", "coordinator", "samordnare"),
        (MEMBER, "solvik", "member", None),
        (REPORTER, "solvik", "member", None),
    ):
        code = await h.invite(org, role, contact)
        codes.append(code)
        who = COORDINATOR_WHO if role == "coordinator" else WHO
        await h.send(user, f"/start {code}", **who)
    switch = await h.invite("region-norrmark")
    codes.append(switch)
    await h.send(MEMBER, f"/start {switch}", **WHO)
    await h.press(MEMBER, callbacks.join("-"))
    await h.send(MEMBER, "/start not-a-real-code-4471", **WHO)

    # Asking, every way.
    for text in ("/start", "/kontakt", "/hjalp", "/sprak", "/kort", "/paminnelser", QUESTION,
                 "det står en man utanför med kniv", "hot", "😀😀", "/finnsinte"):  # fmt: skip
        await h.send(MEMBER, text, **WHO)
    for data in ("sit:hot", "sit:finns_inte", "menu:", "lang:en", "lang:sv", "remind:off",
                 "remind:on", "forget:no", "bogus-data-4471"):  # fmt: skip
        await h.press(MEMBER, data, first_name=WHO["first_name"])
    await h.update(tg.photo_update(MEMBER, caption=QUESTION, first_name="Gunvor"))

    # A report, the case, the relay both ways, identity shared, /mina, close.
    ref = await _report(h, REPORTER)
    await h.send(COORDINATOR, "/arenden", **COORDINATOR_WHO)
    await h.send(COORDINATOR, "/rutin", **COORDINATOR_WHO)
    await h.send(COORDINATOR, "/halsa", **COORDINATOR_WHO)
    await h.send(COORDINATOR, "/paminn", **COORDINATOR_WHO)
    for verb in ("show", "ack", "reply"):
        await h.press(COORDINATOR, callbacks.case(f"{verb}.{ref}"))
    await h.send(COORDINATOR, RELAY, **COORDINATOR_WHO)
    await h.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await h.send(REPORTER, ANSWER, **WHO)
    await h.press(REPORTER, callbacks.relay(f"send.{ref}"))
    await h.press(REPORTER, callbacks.relay(f"share.{ref}"), **{"username": WHO["username"]})
    await h.press(REPORTER, callbacks.relay(f"shareyes.{ref}"), **{"username": WHO["username"]})
    await h.send(REPORTER, "/mina", **WHO)
    await h.press(REPORTER, callbacks.mine(f"add.{ref}"))
    await h.send(REPORTER, ADDITION, **WHO)
    await h.press(REPORTER, callbacks.mine(f"del.{ref}"))
    await h.press(REPORTER, callbacks.mine(f"keep.{ref}"))
    # The other organisation's coordinator tries the report.
    await h.press(OTHER_COORDINATOR, callbacks.case(f"ack.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await h.press(COORDINATOR, callbacks.case(f"closew.{ref}"))
    await h.send(COORDINATOR, "Tack, hör av dig om det händer igen.", **WHO)
    # A second report, deleted by its reporter; a form cancelled.
    second = await _report(h, REPORTER)
    await h.press(REPORTER, callbacks.mine(f"delyes.{second}"))
    await h.send(REPORTER, "/rapportera", **WHO)
    await h.send(REPORTER, "/avbryt", **WHO)

    # Telegram errors: a failed reply (the error handler), and the outbox through 429/500/403.
    h.transport.fail_next("sendMessage", 400, "Bad Request: chat not found")
    await h.send(MEMBER, QUESTION, **WHO)
    await h.send(REPORTER, "/rapportera", **WHO)
    third = await _report(h, REPORTER)
    h.transport.fail_next("sendMessage", 500, "Internal Server Error", chat_id=COORDINATOR)
    await h.press(COORDINATOR, callbacks.case(f"ack.{third}"))
    h.transport.fail_next("sendMessage", retry_after=1)
    h.transport.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user")
    h.clock.advance(timedelta(minutes=30))
    await h.services.outbox.send_due(h.app.bot)
    await run_due(h.services)

    # A flood.
    guard.monotonic = lambda: 0.0
    for n in range(guard.burst + 3):
        await h.send(FLOODER, f"{QUESTION} {n}", **WHO)

    # Forgetting.
    await h.send(MEMBER, "/glom", **WHO)
    await h.press(MEMBER, callbacks.forget(True))

    records = caplog.records
    log = "\n".join(f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''}" for r in records)
    # The control: the log says what happened.
    # Joins, reports, deletions and forgettings are counted, never a line each (a join line
    # followed by a report line names the reporter): bot/activity.py logs the counts.
    for expected in (
        "a coordinator of region-norrmark tried a report of another organisation",
        "failed with BadRequest",
        "flood: a user is sending too fast",
        "outbox: sent",
    ):
        assert expected in log, expected
    for unwanted in ("joined", "report submitted", "deleted a report", "was forgotten"):
        assert unwanted not in log, unwanted
    personal = _personal(
        [MEMBER, REPORTER, COORDINATOR, OTHER_COORDINATOR, FLOODER],
        [*codes, ref, second, third, "not-a-real-code", "bogus-data", "finnsinte", TOKEN_PART],
    )
    leaked = sorted({value for value in personal if value in log})
    assert leaked == [], leaked
