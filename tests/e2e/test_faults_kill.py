"""`kill -9` at random points of 50 runs of mixed traffic: nothing lost, nothing duplicated
outside the documented window.

One data directory and one fake Bot API serve 50 short runs of `trygg run`. Each run starts the
bot, sends it a few updates at once, and kills it with SIGKILL after a random delay (seeded):
during start-up (imports, migrations, the reminder pass at start), while it handles updates,
while the outbox sends, or when it is idle. Between runs the test reads the database (the bot is
dead, so it is consistent) to decide what each person does next:

- four members each fill in a report from whatever step their saved draft is at (every button
  to Send, in one go: the run may be killed anywhere in it), send it, and start the next one;
- the coordinator acknowledges each new report, and writes to a reporter through the bot;
- the reporters answer her messages;
- at the first start, the quarterly digest falls due for every member of both organisations
  (the clock is `TRYGG_FAKE_NOW`, a Tuesday at 10:00), so reminders are queued and sent under
  the kills too.

A last run, not killed, drains the outbox and stops on SIGTERM. Then, counting from the database
and from what the fake Telegram accepted:

- every report stored reached the coordinator; every report a member was given a reference
  for is stored; no report was stored twice (the draft is deleted in the same transaction);
- every queued message (case, acknowledgement, relay, answer, digest) was sent; each logical
  message has one outbox row, and any second delivery is that row sent again after Telegram
  accepted it and before `sent_at` was committed: the window bot/outbox.py documents;
- the database passes `PRAGMA integrity_check`, and no run logged a traceback.

The figures (starts, kills by phase, counts, duplicates, start-up time) are printed; `-s`.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.storage import Database, Role
from tests.e2e.conftest import Trygg
from tests.e2e.test_faults import CASE, RELAY, db_rows, sends, unsent, until
from tests.fakes.bot_api_server import FakeBotApiServer

RUNS = int(os.environ.get("TRYGG_KILL_RUNS", "50"))
SEED = 20261124
FAKE_NOW = "2026-11-24T09:00:00+00:00"  # Tuesday 10:00 in Stockholm, outside quiet hours
MONTH = "2026-11"

KARIN = 7_830_001  # Solvik's coordinator, contact `sakerhet`
REPORTERS = (7_830_011, 7_830_012, 7_830_013, 7_830_014)
MEMBERS = tuple(range(7_830_100, 7_830_110))  # Solvik members who only get reminders
REGION = tuple(range(7_830_200, 7_830_205))  # Region Norrmark members
DIGEST = "Din rutin vid hot och hat"
ANSWER = "Svar från den som rapporterade"

BUTTON_FOR_STEP = {
    "type": "rep:set.type.hot",
    "channel": "rep:set.channel.epost",
    "month": f"rep:set.month.{MONTH}",
    "repeated": "rep:set.repeated.ja",
    "perpetrator": "rep:set.perpetrator.kand",
    "police": "rep:set.police.planerar",
    "gender": "rep:skip.gender",
    "description": "rep:skip.description",
    "contact_me": "rep:set.contact_me.ja",
    "summary": "rep:send",
}
NEXT_STEP = {
    "description": "type", "type": "channel", "channel": "month", "month": "repeated",
    "repeated": "perpetrator", "perpetrator": "police", "police": "impact", "impact": "gender",
    "gender": "contact_me", "contact_me": "summary",
}  # fmt: skip


async def _seed(data_dir: Path) -> None:
    """Members as if they had joined, so that the digest at the first start reaches them."""
    now = datetime.fromisoformat(FAKE_NOW)
    prepared = prepare_data_dir(data_dir)
    db = await Database.open(prepared.db_path, Sealer(prepared.secret_key))
    async with db:
        await db.join(KARIN, "solvik", Role.COORDINATOR, "sakerhet", now)
        for user in (*REPORTERS, *MEMBERS):
            await db.join(user, "solvik", Role.MEMBER, None, now)
        for user in REGION:
            await db.join(user, "region-norrmark", Role.MEMBER, None, now)


def _last_message_id(server: FakeBotApiServer, chat: int) -> int:
    sent = server.messages_to(chat)
    return int(sent[-1]["message_id"]) if sent else 1


def _presses(step: str, data: str) -> list[str]:
    """The buttons from the draft's `step` to Send, in order."""
    presses: list[str] = []
    while step != "summary":
        if step == "impact":
            if '"impact"' not in data:
                presses.append("rep:set.impact.avstod")
            presses.append("rep:done.impact")
            step, data = "gender", ""
            continue
        presses.append(BUTTON_FOR_STEP[step])
        step = NEXT_STEP[step]
    return [*presses, BUTTON_FOR_STEP["summary"]]


def _plan(
    server: FakeBotApiServer, data_dir: Path, run: int, rng: random.Random
) -> list[tuple[str, int, str]]:
    """What everyone does this run, from the database: (kind, user, text or button data)."""
    plan: list[tuple[str, int, str]] = []
    sealer = Sealer(prepare_data_dir(data_dir).secret_key)  # drafts are keyed by member key
    by_key = {sealer.member_key(user): user for user in REPORTERS}
    drafts = {
        by_key[k]: (s, d)
        for k, s, d in db_rows(data_dir, "SELECT member_key, step, data FROM drafts")
        if k in by_key
    }
    for user in REPORTERS:
        if user not in drafts:
            plan.append(("text", user, "/rapportera"))
            continue
        step, data = drafts[user]
        plan += [("button", user, press) for press in _presses(step, data)]
    new = db_rows(data_dir, "SELECT ref FROM reports WHERE state = 'new' ORDER BY id")
    for (ref,) in new[:2]:
        plan.append(("button", KARIN, f"case:ack.{ref}"))
    linked = db_rows(
        data_dir,
        "SELECT r.ref FROM reports r JOIN report_links l ON l.report_id = r.id"
        " WHERE r.state != 'closed' ORDER BY r.id",
    )
    pending = {
        k: (a, rid)
        for k, a, rid in db_rows(data_dir, "SELECT key, action, report_id FROM pending_inputs")
    }
    if linked:
        ref = rng.choice(linked)[0]
        if f"c:{KARIN}" not in pending:
            plan.append(("button", KARIN, f"case:reply.{ref}"))
        plan.append(("text", KARIN, f"RELÄ-{run:02d}"))
    # A reporter answers the last message they got from the coordinator, if any.
    for user in REPORTERS:
        got = [m for m in server.messages_to(user) if RELAY in str(m.get("text", ""))]
        if got and rng.random() < 0.5:
            ref = str(got[-1]["text"]).split("om ")[1].split(":")[0]
            plan.append(("button", user, f"relay:answer.{ref}"))
            plan.append(("text", user, f"SVAR-{run:02d}-{user % 100}"))
            plan.append(("button", user, f"relay:send.{ref}"))  # sent as shown back
    return plan


def _push(server: FakeBotApiServer, plan: list[tuple[str, int, str]]) -> None:
    for kind, user, payload in plan:
        if kind == "text":
            server.push_message(user, payload)
        else:
            server.push_callback(user, _last_message_id(server, user), payload)


def _spawn(trygg: Trygg, log: Path) -> subprocess.Popen[bytes]:
    env = trygg.environment({"TRYGG_FAKE_NOW": FAKE_NOW, "TRYGG_RELOAD_INTERVAL": "3600"})
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=trygg.cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def _phase(log: str) -> str:
    """How far the run got before it was killed, read from its log."""
    if "outbox: sent" in log or "report submitted" in log:
        return "handling and sending"
    if "Application started" in log:
        return "polling"
    if "serving" in log:
        return "post_init"
    return "starting"


@pytest.mark.e2e
async def test_kill_9_at_random_points_loses_nothing(
    trygg: Trygg, server: FakeBotApiServer, data_dir: Path, tmp_path: Path
) -> None:
    await _seed(data_dir)
    rng = random.Random(SEED)
    phases: Counter[str] = Counter()
    starts: list[float] = []
    tracebacks: list[int] = []
    began = time.monotonic()
    # How long this machine takes from spawn to polling, so that the kills below still span
    # the start, the polling and the handling, however slow the machine (or the start) is.
    log = tmp_path / "calibration.log"
    spawned = time.monotonic()
    process = _spawn(trygg, log)
    await until(lambda: "Application started" in log.read_text(), 30, "the first start", 0.05)
    latest_kill = max(1.5, time.monotonic() - spawned + 1.0)
    process.send_signal(signal.SIGKILL)
    await asyncio.to_thread(process.wait, 10)

    for run in range(RUNS):
        plan = _plan(server, data_dir, run, rng)
        log = tmp_path / f"run{run:02d}.log"
        spawned = time.monotonic()
        process = _spawn(trygg, log)
        _push(server, plan)
        # Kill at a random point: from during the imports to well after the updates are done.
        await asyncio.sleep(rng.uniform(0.2, latest_kill))
        process.send_signal(signal.SIGKILL)
        await asyncio.to_thread(process.wait, 10)
        text = log.read_text("utf-8", "replace")
        phases[_phase(text)] += 1
        if "Traceback" in text:
            tracebacks.append(run)
        started = _started_at(text)
        if started is not None:
            starts.append(started - _wall(spawned))

    # The last run is not killed: it drains the outbox, then stops as a service manager stops it.
    log = tmp_path / "final.log"
    process = _spawn(trygg, log)
    try:
        await until(lambda: "Application started" in log.read_text(), 30, "the last start", 0.05)
        await until(lambda: unsent(data_dir) == 0, 60, "the outbox to drain", 0.2)
        # And the last updates of the killed runs are handled: nothing waits at Telegram.
        await server.wait_confirmed(timeout=30)
        await until(lambda: unsent(data_dir) == 0, 60, "the outbox to drain again", 0.2)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 20)
    final = log.read_text("utf-8", "replace")
    assert code == 0, final
    assert "Traceback" not in final, final
    assert tracebacks == [], [(r, (tmp_path / f"run{r:02d}.log").read_text()) for r in tracebacks]
    elapsed = time.monotonic() - began

    _count_and_check(server, data_dir, phases, starts, elapsed)


def _wall(monotonic_moment: float) -> float:
    return time.time() - (time.monotonic() - monotonic_moment)


def _started_at(log: str) -> float | None:
    """The wall-clock time of "Application started" in a run's log, if it got that far."""
    for line in log.splitlines():
        if "Application started" in line:
            stamp = line.split(" INFO ")[0]
            try:
                moment = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S,%f")
            except ValueError:
                return None
            return moment.astimezone().timestamp() if moment.tzinfo else _local(moment)
    return None


def _local(moment: datetime) -> float:
    return time.mktime(moment.timetuple()) + moment.microsecond / 1e6


def _count_and_check(
    server: FakeBotApiServer,
    data_dir: Path,
    phases: Counter[str],
    starts: list[float],
    elapsed: float,
) -> None:
    conn = sqlite3.connect(f"file:{data_dir / 'trygg.sqlite3'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        reports = [r for (r,) in conn.execute("SELECT ref FROM reports ORDER BY id")]
        acked = [r for (r,) in conn.execute("SELECT ref FROM reports WHERE state != 'new'")]
        rows = conn.execute(
            "SELECT dedupe, sent_at IS NOT NULL, dead_reason FROM outbox ORDER BY id"
        ).fetchall()
        digests = conn.execute(
            "SELECT key FROM reminders_sent WHERE key LIKE 'digest:%'"
        ).fetchall()
    finally:
        conn.close()

    # Reports: stored once, each delivered; every reference a member was shown is stored.
    assert len(reports) == len(set(reports))
    shown = {
        str(m["text"]).split("Referens: ")[1].split()[0]
        for user in REPORTERS
        for m in server.messages_to(user)
        if "Referens: " in str(m.get("text", ""))
    }
    assert shown <= set(reports), shown - set(reports)
    case_deliveries = {r: sends(server, KARIN, f"{CASE} {r}") for r in reports}
    assert all(n >= 1 for n in case_deliveries.values()), case_deliveries

    # Every queued message went out (none is still waiting or was given up).
    assert [r for r in rows if not r[1]] == [], [r for r in rows if not r[1]]
    by_kind = Counter(dedupe.split(":")[0] for dedupe, _, _ in rows)

    # Relays and answers: each text queued once and delivered; a text never queued (its run was
    # killed before) was never confirmed to its writer either.
    relay_rows = by_kind["relay-c"]
    relays = Counter(
        str(m["text"]).split("\n")[1]
        for user in REPORTERS
        for m in server.messages_to(user)
        if RELAY in str(m.get("text", ""))
    )
    answer_rows = by_kind["relay-r"]
    answers = Counter(
        str(m["text"]).split("\n")[1]
        for m in server.messages_to(KARIN)
        if ANSWER in str(m.get("text", ""))
    )
    assert len(relays) == relay_rows, (relays, relay_rows)
    assert len(answers) == answer_rows, (answers, answer_rows)
    # A writer is told "Sent" exactly when their text was queued: the confirmation is queued
    # with it, in one transaction, and delivered (twice only in the outbox's window).
    assert by_kind["relay-sent"] == relay_rows + answer_rows, dict(by_kind)
    confirmed_relays = sends(server, KARIN, "Skickat (")
    confirmed_answers = sum(sends(server, user, "Skickat (") for user in REPORTERS)
    assert confirmed_relays + confirmed_answers >= relay_rows + answer_rows

    # Acknowledgements: each reporter told once per acknowledged report with a link.
    ack_rows = by_kind["ack-reporter"]
    ack_notices = Counter(
        str(m["text"]).split("Din rapport ")[1].split()[0]
        for user in REPORTERS
        for m in server.messages_to(user)
        if "har tagits emot" in str(m.get("text", ""))
    )
    # Every report has a link (each reporter asked to be contacted) and none is closed.
    assert len(ack_notices) == ack_rows == len(acked)

    # Reminders: the digest period was recorded once, and reached every member.
    everyone = (KARIN, *REPORTERS, *MEMBERS, *REGION)
    digest_deliveries = {u: sends(server, u, DIGEST) for u in everyone}
    assert len(digests) == 2  # one period each for Solvik and Region Norrmark
    assert by_kind["digest"] == len(everyone)
    assert all(n >= 1 for n in digest_deliveries.values()), digest_deliveries

    # Duplicates: any second delivery is one row sent again (the documented window).
    dup = {
        "cases": sum(case_deliveries.values()) - len(case_deliveries),
        "relays": sum(relays.values()) - len(relays),
        "answers": sum(answers.values()) - len(answers),
        "acks": sum(ack_notices.values()) - len(ack_notices),
        "digests": sum(digest_deliveries.values()) - len(digest_deliveries),
    }
    total_rows = len(rows)
    total_dups = sum(dup.values())
    print(
        f"\n{RUNS} runs killed with SIGKILL in {elapsed:.0f} s, by phase {dict(phases)}; "
        + (
            f"start to polling {statistics.median(starts):.2f} s median "
            f"({min(starts):.2f}-{max(starts):.2f}, {len(starts)} runs got there)\n"
            if starts
            else "no run got to polling\n"
        )
        + f"stored: {len(reports)} reports ({len(acked)} acknowledged), {total_rows} outbox rows "
        f"{dict(by_kind)}; delivered: cases {sum(case_deliveries.values())}, relays "
        f"{sum(relays.values())}, answers {sum(answers.values())}, acks "
        f"{sum(ack_notices.values())}, digests {sum(digest_deliveries.values())}; "
        f"lost 0; duplicates {dup}"
    )
    # The window is short: at most one message per kill can fall into it.
    assert total_dups <= RUNS, dup
