"""What an operator sees during a Telegram outage: the metrics and the log, second by second.

`trygg run` (its own process, TRYGG_METRICS on) against the fake Bot API; three members join;
then Telegram answers every call with a 502 page for `OUTAGE` seconds (60 by default), and five
seconds in, `trygg remind` queues the digest to the members. /metrics is read every 10 s during
the outage and every second after it until the outbox is empty. The log lines about Telegram are
returned as they were written.

    python bench/run.py --only outage_60s          (about 90 s)
    python bench/bench_outage.py --seconds 20      (a shorter outage, printed as a table)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.fakes.bot_api_server import FakeBotApiServer  # noqa: E402

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
OUTAGE = 60.0
MEMBERS = (7_700_001, 7_700_002, 7_700_003)
WATCHED = (
    "trygg_telegram_up",
    "trygg_telegram_seconds_since_success",
    "trygg_telegram_failures_total",
    "trygg_outbox_depth",
    "trygg_outbox_oldest_age_seconds",
    "trygg_answers_total",
    "trygg_updates_total",
    "trygg_reminders_sent",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    found = dict.fromkeys(WATCHED, 0.0)
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        name = line.split("{", 1)[0].split(" ", 1)[0]
        if name in found:
            found[name] += float(line.rsplit(" ", 1)[1])
    return {k: round(v, 1) for k, v in found.items()}


def run(outage: float = OUTAGE) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="trygg-outage-"))
    shutil.copytree(REPO / "routines", work / "routines")
    metrics_port = _free_port()
    with FakeBotApiServer(token=TOKEN) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYGG_", "TELEGRAM_"))}
        env.update(
            TELEGRAM_BOT_TOKEN=TOKEN,
            TRYGG_API_URL=server.base_url,
            TRYGG_DATA_DIR=str(work / "data"),
            TRYGG_ROUTINES=str(work / "routines"),
            TRYGG_METRICS=f"127.0.0.1:{metrics_port}",
            PYTHONPATH=str(REPO),
            PYTHONUNBUFFERED="1",
        )
        trygg = [sys.executable, "-m", "bot"]
        invite = subprocess.run(
            [*trygg, "invite", "--org", "solvik", "--role", "member", "--uses", "10"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        code = invite.stdout.strip().rpartition("=")[2]
        log_path = work / "bot.log"
        with log_path.open("wb") as log:
            bot = subprocess.Popen([*trygg, "run"], env=env, stdout=log, stderr=log)
        try:
            server.api.wait_until_blocking(lambda: server.calls("getUpdates") or None, 30, "poll")
            for member in MEMBERS:
                server.push_message(member, f"/start {code}")
                server.wait_for_blocking(member, None, 15)
            timeline: list[dict[str, Any]] = [
                {"t": 0.0, "phase": "before", **_scrape(metrics_port)}
            ]
            start = time.monotonic()
            server.set_down(True, mode="502")
            reminded = False
            next_scrape = 10.0
            while (elapsed := time.monotonic() - start) < outage:
                if not reminded and elapsed >= 5:
                    subprocess.run([*trygg, "remind", "--org", "solvik"], env=env, check=True,
                                   capture_output=True)  # fmt: skip
                    reminded = True
                if elapsed >= next_scrape:
                    timeline.append({"t": round(elapsed), "phase": "down", **_scrape(metrics_port)})
                    next_scrape += 10
                time.sleep(0.2)
            server.set_down(False)
            back = time.monotonic()
            recovered = None
            while time.monotonic() - back < 120:
                time.sleep(1)
                snap = _scrape(metrics_port)
                timeline.append({"t": round(time.monotonic() - start), "phase": "back", **snap})
                if snap["trygg_telegram_up"] == 1 and snap["trygg_outbox_depth"] == 0:
                    recovered = time.monotonic() - back
                    break
        finally:
            bot.send_signal(signal.SIGTERM)
            bot.wait(30)
    lines = [
        line.split(" ", 2)[2] if line[:2] == "20" else line
        for line in log_path.read_text("utf-8", "replace").splitlines()
        if "Telegram" in line and "bot.monitoring" in line
    ]
    shutil.rmtree(work, ignore_errors=True)
    return {
        "value": round(recovered, 1) if recovered is not None else None,
        "unit": "s from Telegram back to an empty outbox",
        "outage_s": outage,
        "log": lines,
        "timeline": timeline,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=OUTAGE)
    result = run(parser.parse_args().seconds)
    columns = ["t", "phase", *WATCHED]
    print(" ".join(c.replace("trygg_", "") for c in columns))
    for row in result["timeline"]:
        print(" ".join(str(row[c]) for c in columns))
    print("\n".join(result["log"]))
    print(json.dumps({k: v for k, v in result.items() if k not in ("timeline", "log")}))


if __name__ == "__main__":
    main()
