"""A cron reminder end to end: `trygg run` sends it on its minute, not up to a minute late.

Solvik's digest is set to `* * * * *` (every minute) and the bot's clock (`TRYGG_FAKE_NOW`) starts
three seconds before a minute. The pass at start sends the digest of the minute before (it fell
due "while the bot was down"); then each minute's digest must reach every member within 5 s of
that minute of the bot's clock. Before, the job ticked 60 s after the start, so the first minute
came 57 s late.

The minute is placed in real time from the log line the bot writes when it reads
`TRYGG_FAKE_NOW` (the clock's offset is fixed then). `TRYGG_CRON_MINUTES` (default 1) measures
more minutes; the lateness of each is printed (`-s`).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.storage import Database, Role
from tests.e2e.conftest import Trygg
from tests.e2e.test_faults import until
from tests.fakes.bot_api_server import FakeBotApiServer

MINUTES = int(os.environ.get("TRYGG_CRON_MINUTES", "1"))
MEMBERS = [7_860_000 + n for n in range(5)]
DIGEST = "Din rutin vid hot och hat"
LATE_AT_MOST = 5.0


def _digests(server: FakeBotApiServer) -> int:
    return sum(
        1
        for call in server.calls("sendMessage")
        if call.ok and DIGEST in str(call.params.get("text", ""))
    )


def _clock_set_at(log: Path) -> float | None:
    """The real time (epoch seconds) at which the bot fixed its shifted clock."""
    for line in log.read_text("utf-8", "replace").splitlines():
        if "TRYGG_FAKE_NOW is set" in line:
            stamp = datetime.strptime(line.split(" WARNING ")[0], "%Y-%m-%d %H:%M:%S,%f")
            return time.mktime(stamp.timetuple()) + stamp.microsecond / 1e6
    return None


def _spawn(trygg: Trygg, fake_now: datetime, log: Path) -> subprocess.Popen[bytes]:
    env = trygg.environment(
        {"TRYGG_FAKE_NOW": fake_now.isoformat(), "TRYGG_RELOAD_INTERVAL": "3600"}
    )
    with log.open("wb") as err:
        return subprocess.Popen(
            [sys.executable, "-m", "bot", "run"],
            env=env,
            cwd=trygg.cwd,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


async def _seed(data_dir: Path, now: datetime) -> None:
    prepared = prepare_data_dir(data_dir)
    async with await Database.open(prepared.db_path, Sealer(prepared.secret_key)) as db:
        for user in MEMBERS:
            await db.join(user, "solvik", Role.MEMBER, None, now)


@pytest.mark.e2e
async def test_a_cron_reminder_reaches_members_within_5_s_of_its_minute(
    trygg: Trygg, server: FakeBotApiServer, routines: Path, data_dir: Path, tmp_path: Path
) -> None:
    path = routines / "solvik.yaml"
    text = path.read_text("utf-8").replace("members: quarterly", 'members: "* * * * *"', 1)
    path.write_text(text.replace('quiet_hours: "21:00-08:00"', 'quiet_hours: "12:00-12:01"'))
    # Tuesday 24 November 2026, 10:09:57 in Stockholm: three seconds before a minute.
    fake_now = datetime(2026, 11, 24, 9, 9, 57, tzinfo=UTC)
    await _seed(data_dir, fake_now - timedelta(days=1))
    log = tmp_path / "bot.log"
    process = _spawn(trygg, fake_now, log)
    lateness: list[float] = []
    try:
        # The digest of 10:09, due at start, goes to everyone first.
        await until(lambda: _digests(server) >= len(MEMBERS), 30, "the digest at start", 0.01)
        set_at = _clock_set_at(log)
        assert set_at is not None, log.read_text()
        for minute in range(1, MINUTES + 1):
            due = set_at + (timedelta(seconds=3) + timedelta(minutes=minute - 1)).total_seconds()
            want = len(MEMBERS) * (minute + 1)
            # Bounded by the goal: a digest later than 5 s after its minute fails here.
            wait = due + LATE_AT_MOST - time.time()
            await until(lambda w=want: _digests(server) >= w, wait, "the minute's digest", 0.01)
            lateness.append(time.time() - due)
    finally:
        process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(process.wait, 20)
    output = log.read_text("utf-8", "replace")
    assert code == 0, output
    assert "Traceback" not in output, output
    ordered = sorted(lateness)
    print(
        f"\ncron lateness over {len(ordered)} minutes: p50 {ordered[len(ordered) // 2]:.2f} s, "
        f"max {ordered[-1]:.2f} s ({', '.join(f'{x:.2f}' for x in lateness)})"
    )
