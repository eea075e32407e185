"""Watching the bot as a service: Telegram outages in the log, /healthz and Prometheus metrics.

- `ObservedRequest` wraps the bot's request object. Every Bot API call passes through it, so it
  sees what Telegram answers (or that nothing answers) without touching a handler. It counts
  answers and failures and keeps `TelegramWatch` up to date.
- `TelegramWatch` turns failures into one log line when an outage starts and one summary when
  it ends, instead of silence (or a line per failed call).
- `Metrics` holds the counters in a registry of its own; `MetricsServer` serves them with
  `/healthz` on a local port (`TRYGG_METRICS`), in a thread, so a busy event loop cannot hide
  from the health check that it is stuck.

Labels are never finer than a kind of thing (a method family, an error class, a reminder kind):
no id, no name, no organisation-level detail that could point at a person.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter as Tally
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

from bot import http_client

log = logging.getLogger(__name__)

OUTAGE_AFTER_FAILURES = 3
"""Consecutive failures that make an outage (one 502 among successes is weather, not an outage)."""
OUTAGE_AFTER_SECONDS = 5.0
"""...or failures with no success in between for this long."""
STALL_SECONDS = 60.0
"""/healthz fails when the event loop has not ticked for this long."""

Monotonic = Callable[[], float]


def _method(url: str) -> str:
    return url.rstrip("/").rpartition("/")[2]


def _answer_kind(method: str) -> str | None:
    """The family of a call that answers a user, or None for calls that do not."""
    lowered = method.lower()
    if lowered.startswith("send"):
        return "send"
    if lowered.startswith("edit"):
        return "edit"
    if lowered == "answercallbackquery":
        return "callback"
    return None


def failure_kind(status: int) -> str | None:
    """How an HTTP answer of the Bot API failed, or None if it did not count as a failure.

    400 and 403 are Telegram answering about one chat (a bad request, a blocked bot): the
    service works, so they are not failures of Telegram.
    """
    if status >= 500:
        return "server_error"
    if status == 429:
        return "rate_limited"
    if status in (401, 404):
        return "refused"
    return None


class Metrics:
    """The bot's Prometheus metrics, in a registry of their own (tests build several bots)."""

    def __init__(self, clock: Monotonic = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        r = self.registry
        self.updates = Counter("trygg_updates", "Updates from Telegram handled", registry=r)
        self.answers = Counter(
            "trygg_answers",
            "Calls that answered a user, accepted by Telegram",
            ["kind"],
            registry=r,
        )
        self.errors = Counter(
            "trygg_errors", "Errors raised while handling an update, by kind", ["kind"], registry=r
        )
        self.telegram_failures = Counter(
            "trygg_telegram_failures", "Bot API calls that failed, by kind", ["kind"], registry=r
        )
        self.telegram_up = Gauge(
            "trygg_telegram_up", "1 when Telegram answers, 0 during an outage", registry=r
        )
        self.telegram_up.set(1)
        self.telegram_is_up = True
        self.last_success = Gauge(
            "trygg_telegram_seconds_since_success",
            "Seconds since the last Bot API call that Telegram answered",
            registry=r,
        )
        self._last_success_at = clock()
        self.last_success.set_function(lambda: self._clock() - self._last_success_at)
        self.outbox_depth = Gauge(
            "trygg_outbox_depth", "Messages queued, neither sent nor given up", registry=r
        )
        self.outbox_oldest = Gauge(
            "trygg_outbox_oldest_age_seconds",
            "Age of the oldest queued message (0 when the outbox is empty)",
            registry=r,
        )
        self.outbox_oldest_at: datetime | None = None  # read from the database by a job
        self.wall_clock: Callable[[], datetime] = _utc_now  # the bot's clock, set at start
        self.outbox_oldest.set_function(
            lambda: outbox_age(self.outbox_oldest_at, self.wall_clock())
        )
        self.reminders = Gauge(
            "trygg_reminders_sent",
            "Reminders recorded as sent in the database, by kind (digest, ack, gap...)",
            ["kind"],
            registry=r,
        )
        self._heartbeat = clock()
        self.server: MetricsServer | None = None  # the listener, when TRYGG_METRICS is set

    def success(self) -> None:
        self._last_success_at = self._clock()

    def set_telegram_up(self, up: bool) -> None:
        self.telegram_is_up = up
        self.telegram_up.set(1 if up else 0)

    def seconds_since_success(self) -> float:
        return self._clock() - self._last_success_at

    def heartbeat(self) -> None:
        """The event loop is alive (called by a job)."""
        self._heartbeat = self._clock()

    def stalled_for(self) -> float:
        return self._clock() - self._heartbeat

    def reminders_recorded(self, counts: dict[str, int]) -> None:
        for kind, count in counts.items():
            self.reminders.labels(kind=kind).set(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class TelegramWatch:
    """Logs a Telegram outage once when it starts and once, summarised, when it ends."""

    def __init__(self, metrics: Metrics | None = None, clock: Monotonic = time.monotonic) -> None:
        self._metrics = metrics
        self._clock = clock
        self._lock = threading.Lock()
        self._first_failure: float | None = None
        self._streak = 0
        self._kinds: Tally[str] = Tally()
        self.in_outage = False

    def failure(self, kind: str) -> None:
        if self._metrics is not None:
            self._metrics.telegram_failures.labels(kind=kind).inc()
        if kind not in ("server_error", "network", "timeout"):
            return  # Telegram answered: rate limits and refusals are not an outage
        now = self._clock()
        with self._lock:
            if self._first_failure is None:
                self._first_failure = now
            self._streak += 1
            self._kinds[kind] += 1
            starts = not self.in_outage and (
                self._streak >= OUTAGE_AFTER_FAILURES
                or now - self._first_failure >= OUTAGE_AFTER_SECONDS
            )
            if starts:
                self.in_outage = True
        if starts:
            if self._metrics is not None:
                self._metrics.set_telegram_up(False)
            log.warning(
                "Telegram outage: %d calls failed since %.0f s ago (%s); queued messages wait, "
                "and the end of the outage will be logged",
                self._streak,
                now - self._first_failure,
                kind,
            )

    def success(self) -> None:
        if self._metrics is not None:
            self._metrics.success()
        if self._first_failure is None:
            return
        now = self._clock()
        with self._lock:
            ended, first, streak, kinds = (
                self.in_outage,
                self._first_failure,
                self._streak,
                self._kinds,
            )
            self._first_failure, self._streak, self._kinds = None, 0, Tally()
            self.in_outage = False
        if ended and first is not None:
            if self._metrics is not None:
                self._metrics.set_telegram_up(True)
            log.warning(
                "Telegram answers again after %.0f s: %d calls failed (%s)",
                now - first,
                streak,
                ", ".join(f"{k} {n}" for k, n in sorted(kinds.items())),
            )


class ObservedRequest(BaseRequest):
    """A request object that passes every call to `inner` and tells the watch how it went."""

    def __init__(
        self, inner: BaseRequest, watch: TelegramWatch, metrics: Metrics | None = None
    ) -> None:
        self._inner = inner
        self._watch = watch
        self._metrics = metrics

    @property
    def inner(self) -> BaseRequest:
        return self._inner

    # PTB decodes every answer with the object whose `post` was called: this one.
    parse_json_payload = staticmethod(http_client.parse_json_payload)

    @property
    def read_timeout(self) -> float | None:
        return self._inner.read_timeout

    async def initialize(self) -> None:
        await self._inner.initialize()

    async def shutdown(self) -> None:
        await self._inner.shutdown()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = BaseRequest.DEFAULT_NONE,
        write_timeout: Any = BaseRequest.DEFAULT_NONE,
        connect_timeout: Any = BaseRequest.DEFAULT_NONE,
        pool_timeout: Any = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        try:
            status, payload = await self._inner.do_request(
                url,
                method,
                request_data=request_data,
                read_timeout=read_timeout,
                write_timeout=write_timeout,
                connect_timeout=connect_timeout,
                pool_timeout=pool_timeout,
            )
        except TimedOut:
            self._watch.failure("timeout")
            raise
        except NetworkError:
            self._watch.failure("network")
            raise
        kind = failure_kind(status)
        if kind is None or kind != "server_error":
            self._watch.success()  # an answer, even a refusal, means Telegram is there
        if kind is not None:
            self._watch.failure(kind)
        elif self._metrics is not None and status == 200:
            answer = _answer_kind(_method(url))
            if answer is not None:
                self._metrics.answers.labels(kind=answer).inc()
        return status, payload


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # a scrape every 15 s is not news

    def do_GET(self) -> None:
        metrics = self.server.metrics
        path = self.path.split("?", 1)[0]
        if path == "/metrics":
            self._reply(200, metrics.exposition(), CONTENT_TYPE_LATEST)
        elif path == "/healthz":
            stalled = metrics.stalled_for()
            healthy = stalled < STALL_SECONDS
            body = {
                "status": "ok" if healthy else "stalled",
                "telegram": "up" if metrics.telegram_is_up else "down",
                "seconds_since_telegram_answered": round(metrics.seconds_since_success(), 1),
            }
            text = json.dumps(body).encode()
            self._reply(200 if healthy else 503, text, "application/json")
        else:
            self._reply(404, b"not found: /healthz or /metrics\n", "text/plain")

    def _reply(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], metrics: Metrics) -> None:
        self.metrics = metrics
        super().__init__(address, _Handler)


class ListenError(RuntimeError):
    """The metrics listener cannot have its address; the message names the setting."""


class MetricsServer:
    """`/healthz` and `/metrics` on `address`, served from a thread of their own."""

    def __init__(self, address: tuple[str, int], metrics: Metrics) -> None:
        try:
            self._server = _Server(address, metrics)
        except OSError as error:
            host, port = address
            raise ListenError(
                f"TRYGG_METRICS: cannot listen on {host}:{port} ({error.strerror}); "
                "choose a free port"
            ) from None
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="trygg-metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()
        host = self._server.server_address[0]
        log.info("health and metrics on http://%s:%d/healthz and /metrics", host, self.port)

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def outbox_age(oldest: datetime | None, now: datetime) -> float:
    return 0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
