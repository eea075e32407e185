"""Outages in the log and the metrics, on the recording transport and an injected clock."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from telegram import Bot
from telegram.error import TelegramError

from bot.devchat.transport import RecordingRequest
from bot.monitoring import ListenError, Metrics, MetricsServer, ObservedRequest, TelegramWatch

TOKEN = "123456789:offline-terminal-chat-token-0000"


class Tick:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sample(metrics: Metrics, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels or None)
    return 0.0 if value is None else value


async def _send(bot: Bot, chat_id: int = 42) -> bool:
    try:
        await bot.send_message(chat_id, "hej")
    except TelegramError:
        return False
    return True


@pytest.fixture
def setup() -> tuple[Bot, RecordingRequest, Metrics, Tick]:
    clock = Tick()
    metrics = Metrics(clock)
    watch = TelegramWatch(metrics, clock)
    transport = RecordingRequest()
    observed = ObservedRequest(transport, watch, metrics)
    return Bot(TOKEN, request=observed, get_updates_request=observed), transport, metrics, clock


async def test_an_outage_is_logged_once_and_summarised_when_it_ends(
    setup: tuple[Bot, RecordingRequest, Metrics, Tick], caplog: pytest.LogCaptureFixture
) -> None:
    bot, transport, metrics, clock = setup
    await bot.initialize()
    assert await _send(bot)
    assert _sample(metrics, "trygg_answers_total", kind="send") == 1

    transport.api.set_down(True, status=502)
    for _ in range(10):
        clock.now += 6
        assert not await _send(bot)
    outage_lines = [r for r in caplog.records if "Telegram outage" in r.getMessage()]
    assert len(outage_lines) == 1  # not one per failed call
    assert _sample(metrics, "trygg_telegram_up") == 0
    assert _sample(metrics, "trygg_telegram_failures_total", kind="server_error") == 10
    assert _sample(metrics, "trygg_telegram_seconds_since_success") == 60

    transport.api.set_down(False)
    assert await _send(bot)
    ended = [r.getMessage() for r in caplog.records if "answers again" in r.getMessage()]
    assert ended == ["Telegram answers again after 54 s: 10 calls failed (server_error 10)"]
    assert _sample(metrics, "trygg_telegram_up") == 1
    assert _sample(metrics, "trygg_telegram_seconds_since_success") == 0


async def test_one_failure_among_successes_is_not_an_outage(
    setup: tuple[Bot, RecordingRequest, Metrics, Tick], caplog: pytest.LogCaptureFixture
) -> None:
    bot, transport, metrics, _ = setup
    await bot.initialize()
    transport.api.fail_next("sendMessage", network="reset")
    assert not await _send(bot)
    assert await _send(bot)
    assert "Telegram" not in caplog.text
    assert _sample(metrics, "trygg_telegram_failures_total", kind="network") == 1


async def test_rate_limits_and_blocked_chats_are_counted_but_are_no_outage(
    setup: tuple[Bot, RecordingRequest, Metrics, Tick], caplog: pytest.LogCaptureFixture
) -> None:
    bot, transport, metrics, clock = setup
    await bot.initialize()
    for _ in range(5):
        transport.api.fail_next("sendMessage", retry_after=1)
        clock.now += 10
        assert not await _send(bot)
    transport.api.block_user(42)
    assert not await _send(bot)
    assert "Telegram outage" not in caplog.text
    assert _sample(metrics, "trygg_telegram_up") == 1
    assert _sample(metrics, "trygg_telegram_failures_total", kind="rate_limited") == 5


def test_healthz_and_metrics_are_served_and_name_no_one() -> None:
    clock = Tick()
    metrics = Metrics(clock)
    metrics.errors.labels(kind="BadRequest").inc()
    metrics.reminders_recorded({"digest": 2, "ack": 1})
    server = MetricsServer(("127.0.0.1", 0), metrics)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        with urllib.request.urlopen(f"{base}/healthz", timeout=5) as response:
            assert json.loads(response.read())["status"] == "ok"
        with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert 'trygg_errors_total{kind="BadRequest"} 1.0' in text
        assert 'trygg_reminders_sent{kind="digest"} 2.0' in text
        clock.now += 120  # the event loop has not ticked for two minutes
        with pytest.raises(urllib.error.HTTPError) as failed:
            urllib.request.urlopen(f"{base}/healthz", timeout=5)
        assert failed.value.code == 503
    finally:
        server.stop()
    labels = {
        label
        for family in metrics.registry.collect()
        for sample in family.samples
        for label in sample.labels
    }
    assert labels <= {"kind"}  # nothing finer than a kind: no chat, user or organisation


def test_a_busy_metrics_port_is_named_in_the_error() -> None:
    first = MetricsServer(("127.0.0.1", 0), Metrics())
    try:
        with pytest.raises(
            ListenError, match=rf"TRYGG_METRICS: cannot listen on 127.0.0.1:{first.port}"
        ):
            MetricsServer(("127.0.0.1", first.port), Metrics())
    finally:
        first.stop()
