"""duplicate_window: how long a sent message is not yet recorded as sent.

A crash (kill -9, a power cut) can only duplicate a message in the window between Telegram
accepting it and the commit of `sent_at` in the database: after a restart the row is still due
and goes again. This measures that window, per message, with the real `Outbox` sending over
HTTP (httpx, as in production) to `tests.fakes.bot_api_server.FakeBotApiServer` on 127.0.0.1:

- from: the moment the fake server has accepted the message and is about to answer (its
  `on_send` hook; the server runs in a process of its own, as Telegram would, and
  `time.monotonic` is one clock for the whole machine);
- to: the moment the transaction that marks the row sent has committed (`outbox_sent_many`
  returned), on the same monotonic clock.

Two runs: at Telegram's own pace (30 a second: commits never queue) and at 20 times that (a
broadcast: answers that arrive while a commit runs share the next one). `value` is the p99 of
the first, in milliseconds; p50, p99 and the maximum of both are reported. The database is a
file on the local disk, with SQLite's default synchronous=FULL in WAL mode (an fsync per commit).
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("PTB_TIMEDELTA", "1")
REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from telegram import Bot  # noqa: E402

from bench.measure import rounded  # noqa: E402
from bot.crypto import Sealer  # noqa: E402
from bot.outbox import Outbox, message  # noqa: E402
from bot.storage import Database  # noqa: E402
from tests.fakes import bot_api_server  # noqa: E402
from tests.fakes.bot_api_server import FakeBotApiServer  # noqa: E402

# The fake writes headers and body in two writes; with Nagle's algorithm and delayed ACKs on
# loopback that alone holds each answer ~40 ms, which Telegram's servers do not do.
bot_api_server._Handler.disable_nagle_algorithm = True

NAME = "duplicate_window"
TOKEN = "123456:duplicate-window-bench-token-000"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
RUNS = (("paced", 1, 300), ("burst", 20, 3000))  # name, scale of the limits, messages
FIRST_CHAT = 20_000_000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _serve(port_queue: Any, stop: Any, result_queue: Any) -> None:
    """The fake Bot API in a process of its own (as Telegram is): its threads do not compete
    with the bot's for the interpreter lock. Sends back when it accepted each chat's message."""
    answered: dict[int, float] = {}

    def on_send(call: Any, sent: dict[str, Any]) -> None:
        answered[int(sent["chat"]["id"])] = time.monotonic()

    with FakeBotApiServer(token=TOKEN) as server:
        server.api.on_send = on_send
        port_queue.put(server.base_url)
        stop.wait()
    result_queue.put(answered)


async def _measure(scale: int, count: int) -> list[float]:
    committed: dict[int, float] = {}
    context = multiprocessing.get_context("spawn")
    port_queue, result_queue, stop = context.Queue(), context.Queue(), context.Event()
    server = context.Process(target=_serve, args=(port_queue, stop, result_queue), daemon=True)
    server.start()
    sealer = Sealer(os.urandom(32))
    try:
        base_url = await asyncio.to_thread(port_queue.get, True, 30)
        with tempfile.TemporaryDirectory(prefix="trygg-bench-window-") as tmp:
            async with await Database.open(Path(tmp) / "trygg.sqlite3") as db:
                items = [
                    message(sealer, f"w:{n}", f"Påminnelse {n}", chat_id=FIRST_CHAT + n)
                    for n in range(count)
                ]
                await db.enqueue(items, NOW)
                chats = {row.id: row.chat_id or 0 for row in await db.due_outbox(NOW, count)}
                record = db.outbox_sent_many

                async def timed(ids: Any, now: datetime) -> int:
                    done = await record(ids, now)
                    moment = time.monotonic()
                    for outbox_id in ids:
                        committed[chats[outbox_id]] = moment
                    return done

                db.outbox_sent_many = timed  # type: ignore[method-assign,assignment]
                outbox = Outbox(db, sealer, lambda: NOW, rate=30 * scale, chat_interval=1 / scale)
                async with Bot(TOKEN, base_url=base_url) as bot:
                    while await db.outbox_pending():
                        await outbox.send_due(bot)
        stop.set()
        answered: dict[int, float] = await asyncio.to_thread(result_queue.get, True, 30)
    finally:
        stop.set()
        server.join(10)
    return [(committed[chat] - answered[chat]) * 1000 for chat in answered]


async def _run() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for name, scale, count in RUNS:
        windows = await _measure(scale, count)
        figures[f"{name}_p50_ms"] = rounded(statistics.median(windows), 3)
        figures[f"{name}_p99_ms"] = rounded(_percentile(windows, 0.99), 3)
        figures[f"{name}_max_ms"] = rounded(max(windows), 3)
        figures[f"{name}_messages"] = len(windows)
    return {"value": figures["paced_p99_ms"], "unit": "ms (p99, paced)", **figures}


def run() -> dict[str, Any]:
    return asyncio.run(_run())


if __name__ == "__main__":
    print(json.dumps({"name": NAME, **run()}))
