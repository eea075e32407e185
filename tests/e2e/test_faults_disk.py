"""A full disk under the database, and another process holding its lock.

The data directory is a small `tmpfs` (mounting needs root; without it the bot's file size
limit is lowered under it with `prlimit`, to the size of its write-ahead log, so that SQLite's
writes fail with EFBIG instead; `TRYGG_TEST_NO_MOUNT=1` forces that fallback). With
a report stored and another waiting in the outbox, the disk is filled to the last byte:

- a member who starts a report (a write) is answered politely, and the failure is logged by
  type; a question (reads only) is answered as usual;
- the case waiting in the outbox is delivered; that it could not be recorded as sent is
  logged, and it is not sent again (the outbox keeps it taken until it can record it);
- once there is room again, the member's report goes through, and everything stored before
  is still there (`PRAGMA integrity_check`).

Then a second process holds `BEGIN EXCLUSIVE` on the database: a write waits `busy_timeout`
(5 s) and the member is answered politely; a question is answered; once the lock is gone the
write works. No crash, no traceback, exit code 0 on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningBot, Trygg, has_buttons
from tests.e2e.test_faults import CASE, db_rows, fill_form, join, refs, sends, until
from tests.fakes.bot_api_server import FakeBotApiServer

KARIN = 7_840_001
REPORTERS = (7_840_011, 7_840_012, 7_840_013)
GUEST = 7_840_099
SORRY = "Förlåt, något gick fel"


class Disk:
    """The data directory's room: `fill` it to the last byte, `free` it again."""

    def __init__(self, path: Path, mounted: bool) -> None:
        self.path = path
        self.mounted = mounted
        self.filler = path / "filler"
        self.pid: int | None = None

    def fill(self) -> None:
        if not self.mounted:  # the write-ahead log may not grow: SQLite's writes go there
            assert self.pid is not None
            wal = self.path / "trygg.sqlite3-wal"
            size = wal.stat().st_size if wal.exists() else 0
            _, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (size, hard))  # the soft limit
            return
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            chunk = b"\0" * 65536
            while True:
                try:
                    os.write(fd, chunk)
                except OSError:
                    if len(chunk) == 1:
                        break
                    chunk = chunk[: len(chunk) // 2]
        finally:
            os.close(fd)

    def free(self) -> None:
        if not self.mounted:
            assert self.pid is not None
            _, hard = resource.prlimit(self.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(self.pid, resource.RLIMIT_FSIZE, (hard, hard))
            return
        self.filler.unlink()


@pytest.fixture
def disk(data_dir: Path) -> Iterator[Disk]:
    """A 4 MiB tmpfs as the data directory, unmounted after the bot has stopped (fixtures are
    torn down in reverse order, and this one is set up before the bot)."""
    data_dir.mkdir(mode=0o700)
    mount = ["mount", "-t", "tmpfs", "-o", "size=4m,mode=0700", "tmpfs", str(data_dir)]
    try:
        # TRYGG_TEST_NO_MOUNT=1 tries the fallback where mounting is allowed too.
        mounted = not os.environ.get("TRYGG_TEST_NO_MOUNT") and (
            subprocess.run(mount, capture_output=True, timeout=10).returncode == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        mounted = False
    try:
        yield Disk(data_dir, mounted)
    finally:
        if mounted:
            for _ in range(50):
                done = subprocess.run(["umount", str(data_dir)], capture_output=True, timeout=10)
                if done.returncode == 0:
                    break
                time.sleep(0.1)
            else:
                subprocess.run(["umount", "-l", str(data_dir)], capture_output=True, timeout=10)


def _spawn(trygg: Trygg, server: FakeBotApiServer, tmp_path: Path) -> RunningBot:
    """`trygg run` with its log through a pipe: a file size limit on the bot (the fallback)
    must not stop its log, which the test process writes to a file."""
    out, err = tmp_path / "bot.stdout", tmp_path / "bot.stderr"
    out.touch()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot", "run"],
        env=trygg.environment(),
        cwd=trygg.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def copy() -> None:
        assert process.stderr is not None
        with err.open("ab") as log:
            for line in process.stderr:
                log.write(line)
                log.flush()

    threading.Thread(target=copy, name="bot-log", daemon=True).start()
    return RunningBot(process, out, err, server)


@pytest.mark.e2e
async def test_a_full_disk_and_a_locked_database_get_polite_answers_and_lose_nothing(
    disk: Disk, trygg: Trygg, server: FakeBotApiServer, data_dir: Path, tmp_path: Path
) -> None:
    bot = await asyncio.to_thread(_spawn, trygg, server, tmp_path)
    try:
        await server.wait_polling(timeout=15)
        disk.pid = bot.process.pid
        await _full_and_locked(bot, disk, trygg, server, data_dir)
    finally:
        if bot.running:
            bot.process.kill()
            await asyncio.to_thread(bot.process.wait, 10)


async def _full_and_locked(
    bot: RunningBot, disk: Disk, trygg: Trygg, server: FakeBotApiServer, data_dir: Path
) -> None:
    first, second, third = REPORTERS
    await join(server, trygg, KARIN, "solvik", role="coordinator", contact="sakerhet")
    for user in REPORTERS:
        await join(server, trygg, user, "solvik")

    # Stored before: one report delivered, one waiting in the outbox (Telegram failed it once).
    form = await fill_form(server, first)
    server.push_callback(first, form["message_id"], "rep:send")
    await server.wait_for(KARIN, CASE)
    form = await fill_form(server, second)
    server.fail("sendMessage", 500, "Internal Server Error", chat_id=KARIN)
    server.push_callback(second, form["message_id"], "rep:send")
    await server.wait_for(second, "Referens:")
    before = refs(data_dir)
    assert len(before) == 2 and sends(server, KARIN, f"{CASE} {before[1]}") == 0

    # The disk is full.
    mark = len(bot.log())
    disk.fill()
    server.push_message(third, "/rapportera")  # a write: the draft
    sorry = await server.wait_for(third, SORRY, timeout=15)
    assert sorry["text"].startswith("Är du i fara nu? Ring 112.")
    await bot.wait_log(r"failed with OperationalError", after=mark)
    server.push_message(GUEST, "/kontakt")  # reads only
    await server.wait_for(GUEST, has_buttons)
    # The waiting case goes out (Telegram accepts it) though it cannot be recorded as sent.
    await server.wait_for(KARIN, f"{CASE} {before[1]}", timeout=20)
    await bot.wait_log(r"could not be recorded", after=mark, timeout=20)
    full_for = 3.0
    await asyncio.sleep(full_for)  # the disk stays full a while: the outbox keeps trying
    disk.free()
    freed = time.monotonic()

    # Room again: the member's report goes through, and nothing stored before is lost.
    form = await fill_form(server, third)
    server.push_callback(third, form["message_id"], "rep:send")
    await server.wait_for(third, "Referens:", timeout=20)
    after = refs(data_dir)
    assert after[:2] == before and len(after) == 3
    await until(lambda: sends(server, KARIN, f"{CASE} {after[2]}"), 20, "the third case")
    await until(
        lambda: db_rows(data_dir, "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")[0][0] == 0,
        30,
        "the outbox recorded as sent",
    )
    settled = time.monotonic() - freed
    repeats = sends(server, KARIN, f"{CASE} {before[1]}") - 1
    assert repeats == 0, "sent once, though it could not be recorded while the disk was full"
    conn = sqlite3.connect(f"file:{data_dir / 'trygg.sqlite3'}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()

    # A second process holds the database's write lock: the write waits, then a polite answer.
    await _locked(bot, server, data_dir)

    print(
        f"\ndisk full ({'tmpfs' if disk.mounted else 'prlimit'}) for {full_for:.0f} s after the "
        f"first failure: writes answered politely, reads answered; the case waiting in the "
        f"outbox was delivered {repeats + 1} time(s) though it could not be recorded; settled "
        f"{settled:.1f} s after the disk had room; 3 reports stored, integrity ok"
    )
    assert await bot.stop() == 0
    assert "Traceback" not in bot.log()


async def _locked(bot: RunningBot, server: FakeBotApiServer, data_dir: Path) -> None:
    mark = len(bot.log())
    # The bot writes now and then on its own (the inbox, the outbox, the minute's reminders):
    # the other process waits for such a moment to end before it takes the lock for itself.
    other = sqlite3.connect(data_dir / "trygg.sqlite3", isolation_level=None, timeout=10)
    try:
        other.execute("BEGIN EXCLUSIVE")
        locked_at = time.monotonic()
        choose = REPORTERS[0]
        server.push_message(choose, "/sprak")  # reads: answered
        menu = await server.wait_for(choose, has_buttons, timeout=10)
        server.push_callback(choose, menu["message_id"], "lang:en")  # a write: waits, then fails
        server.push_message(GUEST, "/hjalp")
        sorry = await server.wait_for(choose, SORRY, timeout=20)
        waited = time.monotonic() - locked_at
        assert sorry["text"].startswith("Är du i fara nu? Ring 112.")
        await server.wait_for(GUEST, "Så här hjälper jag dig", timeout=10)
        await bot.wait_log(r"failed with OperationalError", after=mark)
    finally:
        with contextlib.suppress(sqlite3.Error):
            other.execute("ROLLBACK")
        other.close()
    server.push_callback(choose, menu["message_id"], "lang:en")
    await server.wait_for(choose, "I will write in English", timeout=10)
    print(f"\nlocked by another process: the write was answered politely after {waited:.1f} s")
    assert 4.5 <= waited <= 15
