"""The bot as a service, end to end over HTTP: webhook mode, /healthz and /metrics, and a
Telegram outage that is logged once when it starts and summarised when it ends.

- Webhook: `trygg run` with TRYGG_WEBHOOK_URL calls setWebhook with the secret token; an update
  posted with that token is answered, posts with a wrong token or none get 403 and no answer.
- Metrics: read while the bot runs; they count what happened and hold no id of anyone.
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.e2e.conftest import START_WAIT, WAIT, RunningBot, StartBot, Trygg, _spawn
from tests.fakes import telegram_objects as tg
from tests.fakes.bot_api_server import FakeBotApiServer

SECRET = "webhook-secret_0123456789"
MEMBER = 7_912_345_601
STRANGER = 7_912_345_602
NOBODY = 7_912_345_603


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=WAIT) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=WAIT) as response:
            return int(response.status), response.read().decode()
    except urllib.error.HTTPError as error:
        return int(error.code), error.read().decode()


async def post_update(url: str, update: dict[str, object], secret: str | None) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = json.dumps(update).encode()
    return await asyncio.to_thread(_post, url, body, headers)


async def wait_listening(port: int, bot: RunningBot) -> None:
    deadline = time.monotonic() + START_WAIT
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if not bot.running or time.monotonic() > deadline:
                raise AssertionError(f"nothing listens on {port}:\n{bot.log()}") from None
            await asyncio.sleep(0.05)


def metric(text: str, name: str) -> float:
    """The sum of every sample of `name` (all its labels) in an exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


async def wait_metric(port: int, name: str, value: float) -> str:
    """The exposition once `name` has reached `value` (bounded)."""
    deadline = time.monotonic() + WAIT
    while True:
        status, text = await asyncio.to_thread(_get, f"http://127.0.0.1:{port}/metrics")
        assert status == 200
        if metric(text, name) >= value or time.monotonic() > deadline:
            return text
        await asyncio.sleep(0.05)


def assert_no_ids(text: str, *ids: int) -> None:
    for user_id in ids:
        assert str(user_id) not in text
    assert 'chat="' not in text and 'user="' not in text


@pytest.mark.e2e
async def test_webhook_mode_takes_only_posts_with_the_secret(
    trygg: Trygg, server: FakeBotApiServer, tmp_path: Path
) -> None:
    port, metrics_port = free_port(), free_port()
    hook = f"http://127.0.0.1:{port}/telegram"
    env = trygg.environment(
        {
            "TRYGG_WEBHOOK_URL": hook,
            "TRYGG_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
            "TRYGG_WEBHOOK_SECRET": SECRET,
            "TRYGG_METRICS": f"127.0.0.1:{metrics_port}",
        }
    )
    out, err = tmp_path / "hook.stdout", tmp_path / "hook.stderr"
    bot = RunningBot(
        _spawn([sys.executable, "-m", "bot", "run"], env, trygg.cwd, out, err), out, err, server
    )
    try:
        call = await server.wait_for_call("setWebhook", timeout=START_WAIT)
        assert call.params["url"] == hook
        assert call.params["secret_token"] == SECRET
        assert not server.calls("getUpdates")  # no long polling beside the webhook
        await wait_listening(port, bot)

        # A wrong token and none are turned away before any handler runs.
        wrong = tg.message_update(STRANGER, "/start")
        assert await post_update(hook, wrong, "not-the-secret") == 403
        assert await post_update(hook, tg.message_update(NOBODY, "/start"), None) == 403

        code = await trygg.invite("solvik")
        assert await post_update(hook, tg.message_update(MEMBER, f"/start {code}"), SECRET) == 200
        await server.wait_for(MEMBER, "Solvik")
        assert await post_update(hook, tg.message_update(MEMBER, "/kontakt"), SECRET) == 200
        await server.wait_for(MEMBER)
        assert server.messages_to(STRANGER) == [] and server.messages_to(NOBODY) == []

        # The metrics count what happened, and name no one.
        status, health = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics_port}/healthz")
        assert status == 200 and json.loads(health)["status"] == "ok"
        # Counted once its handlers are done, a moment after the answer went out.
        text = await wait_metric(metrics_port, "trygg_updates_total", 2)
        assert metric(text, "trygg_updates_total") == 2  # the two refused never arrived
        assert metric(text, "trygg_answers_total") >= 2
        assert metric(text, "trygg_telegram_up") == 1
        assert metric(text, "trygg_telegram_seconds_since_success") < START_WAIT
        assert "trygg_outbox_depth" in text and "trygg_outbox_oldest_age_seconds" in text
        assert_no_ids(text, MEMBER, STRANGER, NOBODY, server.api.bot_id)
        assert code not in text
        status, _ = await asyncio.to_thread(_get, f"http://127.0.0.1:{metrics_port}/other")
        assert status == 404
    finally:
        code_ = await bot.stop()
    assert code_ == 0, bot.log()
    assert "Traceback" not in bot.log()


@pytest.mark.e2e
async def test_a_telegram_outage_is_logged_once_and_summarised(
    start_bot: StartBot, trygg: Trygg, server: FakeBotApiServer
) -> None:
    metrics_port = free_port()
    bot = await start_bot(TRYGG_METRICS=f"127.0.0.1:{metrics_port}")
    url = f"http://127.0.0.1:{metrics_port}/metrics"
    before = len(bot.log())
    server.set_down(True, mode="502")
    await bot.wait_log(r"Telegram outage: \d+ calls failed", after=before, timeout=START_WAIT)
    _, during = await asyncio.to_thread(_get, url)
    assert metric(during, "trygg_telegram_up") == 0
    assert metric(during, "trygg_telegram_failures_total") >= 3
    server.set_down(False)
    ended = await bot.wait_log(
        r"Telegram answers again after \d+ s: (\d+) calls failed \(server_error \d+\)",
        after=before,
        timeout=60,
    )
    assert int(ended[1]) >= 3
    log = bot.log()[before:]
    assert log.count("Telegram outage:") == 1  # not a line per failed call
    _, after = await asyncio.to_thread(_get, url)
    assert metric(after, "trygg_telegram_up") == 1
    await server.wait_polling(timeout=START_WAIT)  # and it serves again


@pytest.mark.e2e
async def test_the_bot_will_not_start_on_a_database_of_another_key(
    trygg: Trygg, data_dir: Path
) -> None:
    await trygg.invite("solvik")  # the database now knows its key
    key = data_dir.parent / "data.key"
    key.rename(data_dir.parent / "old.key")
    assert (await asyncio.to_thread(trygg, "keygen", str(key))).returncode == 0
    done = await asyncio.to_thread(trygg, "run")
    assert done.returncode == 2
    assert "made with another secret key" in done.stderr
    assert "Traceback" not in done.stderr + done.stdout
    # With the right key back, it starts (and the fixture's bot would run as before).
    key.unlink()
    (data_dir.parent / "old.key").rename(key)
    assert (
        await asyncio.to_thread(trygg, "backup", "--out", str(data_dir.parent / "b"))
    ).returncode == 0
