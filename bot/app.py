"""build_application(settings): defaults, typed context, lifecycle and handlers in one place."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
from datetime import UTC, datetime
from typing import Any

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import NetworkError, TelegramError
from telegram.ext import (
    ApplicationBuilder,
    ApplicationHandlerStop,
    ContextTypes,
    Defaults,
    TypeHandler,
)
from telegram.request import BaseRequest

from bot import activity
from bot.config import ConfigError, Settings
from bot.context import BotData, Clock, Services, TryggApp, TryggContext
from bot.crypto import Sealer
from bot.datadir import open_database, prepare_data_dir
from bot.handlers.commands import publish_default_commands
from bot.handlers.register import register
from bot.http_client import AiohttpRequest
from bot.i18n import LANGUAGES, catalog
from bot.inbox import InboxFloodGuard, InboxOrder, InboxQueue
from bot.invites import InviteService
from bot.monitoring import Metrics, MetricsServer, ObservedRequest, TelegramWatch
from bot.outbox import Outbox
from bot.outbox import schedule as schedule_outbox
from bot.reminders import jobs as reminders
from bot.render_cache import RenderCache
from bot.reports import retention
from bot.routines.answer import situations_for
from bot.routines.hours import closed_days
from bot.routines.registry import RoutineRegistry
from bot.routines.triage import index_for
from bot.scheduling import CalmJobQueue

log = logging.getLogger(__name__)

# The token used offline (terminal chat, tests): the fake transport never checks it.
OFFLINE_TOKEN = "123456789:offline-terminal-chat-token-0000"
RELOAD_JOB = "routine-reload"
METRICS_JOB = "metrics-refresh"
METRICS_INTERVAL = 5.0
METRICS_GROUP = 1000
REMINDERS_SEND_AT_START = "reminders-send-at-start"
# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms).
# SQLite runs in aiosqlite's thread: every statement hands the GIL back and forth, and while
# the event loop is busy with other people's updates each hand-over waited up to this long.
# The inbox's synced commit of each update takes several: at 1 ms, the update waited about
# 4 ms for it (load_e2e p50 10.3 ms, 5.9 without the inbox); at 0.2 ms, p50 7.9-8.5 ms, and
# the CPU per update did not grow (the other threads are idle most of the time).
SWITCH_INTERVAL_S = 0.0002
SHUTDOWN_SETTLE_S = 5.0  # at most this long for kicked outbox rounds to finish at shutdown
# Organisations whose triage index is built at start (below triage's cache of 32 indexes).
WARM_ORGANISATIONS = 16


FAKE_NOW = "TRYGG_FAKE_NOW"
"""A testing hook, never set in production: an ISO time at which the bot's clock starts (then
it runs on at the real pace), so end-to-end tests can start the bot just before a reminder is
due instead of waiting for it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def testing_clock(raw: str | None) -> Clock | None:
    """The clock of `TRYGG_FAKE_NOW` (see `FAKE_NOW`), or None when it is not set."""
    if not raw or not raw.strip():
        return None
    try:
        start = datetime.fromisoformat(raw.strip())
    except ValueError:
        # A testing hook set wrong must stop the start: the real clock instead would mislead.
        shown = raw if len(raw) <= 40 else raw[:40] + "…"
        raise ConfigError(
            [f"{FAKE_NOW}={shown!r} is not a moment: write it as 2026-12-05T22:00+01:00"]
        ) from None
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    offset = start - utc_now()

    def shifted() -> datetime:
        return utc_now() + offset

    return shifted


def build_application(
    settings: Settings,
    *,
    request: BaseRequest | None = None,
    updates_request: BaseRequest | None = None,
    clock: Clock = utc_now,
) -> TryggApp:
    """The bot, wired but not started: `initialize()` opens the database and loads routines."""
    token = settings.token.reveal() if settings.token else OFFLINE_TOKEN
    if clock is utc_now and (shifted := testing_clock(os.environ.get(FAKE_NOW))) is not None:
        log.warning("%s is set: the clock is shifted (a testing hook)", FAKE_NOW)
        clock = shifted
    # The inbox: every update is stored before Telegram is told it arrived (bot/inbox.py).
    inbox = InboxQueue()
    builder = (
        ApplicationBuilder()
        .token(token)
        .update_queue(inbox)
        .context_types(ContextTypes(context=TryggContext, bot_data=BotData))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=UTC,
            )
        )
        .post_init(_make_post_init(settings, clock))
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
        .job_queue(CalmJobQueue())
        # Updates of one user are handled in order; different users run side by side; each
        # leaves the inbox once handled.
        .concurrent_updates(InboxOrder(inbox))
    )
    if settings.api_url:
        builder = builder.base_url(settings.api_url)
    # Every Bot API call passes the watch: outages are logged once and counted (monitoring.py).
    # The pool sizes and timeouts are python-telegram-bot's own defaults; the client is aiohttp
    # (http_client.py), much cheaper per request than PTB's httpx under load.
    metrics = Metrics()
    watch = TelegramWatch(metrics)
    builder = builder.request(
        ObservedRequest(request or AiohttpRequest(connection_pool_size=256), watch, metrics)
    ).get_updates_request(
        ObservedRequest(updates_request or AiohttpRequest(connection_pool_size=1), watch, metrics)
    )
    app: TryggApp = builder.build()
    app.bot_data.metrics = metrics
    # Last, after every other group: flood control must stay first, and an update it drops is
    # not one handled.
    app.add_handler(TypeHandler(Update, _count_update), group=METRICS_GROUP)
    app.add_error_handler(_count_error)  # first: it also quiets failed polls (see there)
    # Flood control sees every update first; TRYGG_FLOOD_BURST=0 turns it off.
    guard = (
        InboxFloodGuard(inbox, settings.flood_burst, settings.flood_rate)
        if settings.flood_burst
        else None
    )
    register(app, guard)
    return app


async def _count_update(update: object, context: TryggContext) -> None:
    """Counted after the handlers of the other groups ran (or did not match)."""
    if context.bot_data.metrics is not None:
        context.bot_data.metrics.updates.inc()


async def _count_error(update: object, context: TryggContext) -> None:
    """Counted by the error's class: the kind, never its message (which may quote a user).

    A poll that failed on the network is Telegram being away: the outage watch logs that once
    when it starts and once when it ends, so the trace of every retry is not logged as well.
    """
    error = context.error
    if context.bot_data.metrics is not None and error is not None:
        context.bot_data.metrics.errors.labels(kind=type(error).__name__).inc()
    if update is None and isinstance(error, NetworkError):
        raise ApplicationHandlerStop


async def _refresh_metrics(context: TryggContext) -> None:
    """What the metrics read from the database, and the event loop's heartbeat."""
    metrics = context.bot_data.metrics
    if metrics is None:
        return
    metrics.heartbeat()
    db = context.services.db
    try:
        metrics.outbox_depth.set(await db.outbox_pending())
        metrics.outbox_oldest_at = await db.outbox_oldest()
        metrics.reminders_recorded(await db.reminder_counts())
    except Exception as error:  # a busy database must not stop the heartbeat
        log.warning("metrics: could not read the database (%s)", type(error).__name__)


def _warm_up(registry: RoutineRegistry, now: datetime) -> None:
    """Build what the first answers after a start would otherwise build while someone waits:
    the message catalogs (a YAML parse: 160 ms before libyaml, 16 ms now), the holiday tables
    (an import, 130 ms) and the triage index of each organisation (20-60 ms each). Measured as
    the slowest answers of `load_e2e`, all in the first second. A large deployment builds the
    indexes beyond the first `WARM_ORGANISATIONS` on first use, as before."""
    for lang in LANGUAGES:
        catalog(lang)
    for year in (now.year, now.year + 1):
        closed_days(year)
    index_for(situations_for(registry.national))
    for routine in registry.organisations()[:WARM_ORGANISATIONS]:
        index_for(situations_for(routine))


def _make_post_init(settings: Settings, clock: Clock) -> Any:
    async def post_init(app: TryggApp) -> None:
        """Open services before the first update is handled."""
        data_dir = prepare_data_dir(settings.data_dir, settings.key_file)
        db = await open_database(data_dir)  # WrongKeyError: a database of another key
        sealer = Sealer(data_dir.secret_key)
        registry = RoutineRegistry(settings.routines_dir)
        await asyncio.to_thread(registry.reload)
        await asyncio.to_thread(_warm_up, registry, clock())
        inbox = app.update_queue
        if isinstance(inbox, InboxQueue):
            inbox.attach(db, sealer, clock)
        _freeze_long_lived()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        app.bot_data.services = Services(
            settings=settings,
            db=db,
            registry=registry,
            invites=InviteService(db, data_dir.secret_key, clock),
            clock=clock,
            sealer=sealer,
            outbox=Outbox(db, sealer, clock),
            answers=RenderCache(),
        )
        log.info(
            "serving %d organisations from %s", len(registry.organisations()), settings.routines_dir
        )
        try:
            await publish_default_commands(app.bot)
        except TelegramError as error:
            log.warning("could not publish the command menu: %s", type(error).__name__)
        if app.job_queue is not None:
            app.job_queue.run_repeating(
                _reload_if_changed, interval=settings.reload_interval, name=RELOAD_JOB
            )
            schedule_outbox(app)
            _schedule_retention(app)  # daily at 03:30 and once after start
            app.job_queue.run_repeating(
                activity.log_activity,
                interval=activity.INTERVAL_SECONDS,
                first=activity.INTERVAL_SECONDS,
                name=activity.JOB_NAME,
            )
        # What fell due while the bot was down, then a pass on every minute.
        await reminders.start_pass(app.bot_data.services)
        if app.job_queue is not None:
            _schedule_reminders(app, clock)
        else:
            log.warning("no job queue: reminders are only queued at start")
        if isinstance(inbox, InboxQueue):
            # Before polling or the webhook starts, so a user's old updates come first.
            await inbox.replay(app.bot)
        _install_sighup(app)
        _start_metrics(app, settings)

    return post_init


def _start_metrics(app: TryggApp, settings: Settings) -> None:
    """/healthz and /metrics on TRYGG_METRICS, refreshed by a job (also the heartbeat)."""
    metrics = app.bot_data.metrics
    if settings.metrics_listen is None or metrics is None:
        return
    if app.bot_data.services is not None:
        metrics.wall_clock = app.bot_data.services.clock  # queue times are on this clock
    metrics.server = MetricsServer(settings.metrics_listen, metrics)
    metrics.server.start()
    if app.job_queue is not None:
        app.job_queue.run_repeating(
            _refresh_metrics, interval=METRICS_INTERVAL, first=0, name=METRICS_JOB
        )


def _schedule_retention(app: TryggApp) -> None:
    """The purge of reports past their retention: daily, and once shortly after a start
    (`bot.reports.retention` says why)."""
    assert app.job_queue is not None
    name = retention.JOB_NAME
    app.job_queue.run_daily(_purge, retention.DAILY_AT, name=name)
    app.job_queue.run_once(_purge, retention.STARTUP_DELAY, name=f"{name}-startup")


def _schedule_reminders(app: TryggApp, clock: Clock) -> None:
    """The reminders' pass just after every wall-clock minute (`bot.reminders.jobs` says why),
    and one round of the outbox as soon as the application runs.

    Runs in post_init after the pass at start, which only queued: what it queued (or what was
    queued before a crash) goes out at once instead of one outbox interval later, since a
    repeating job added before the scheduler starts counts its first interval from the start.
    """
    assert app.job_queue is not None
    _book_reminders(app, clock())
    # Never skipped as "missed".
    app.job_queue.run_once(
        _send_at_start,
        when=0,
        name=REMINDERS_SEND_AT_START,
        job_kwargs={"misfire_grace_time": None},
    )


def _book_reminders(app: TryggApp, now: datetime) -> None:
    """The next pass, just after the next minute of the bot's clock (booked again by every pass,
    so the passes never drift off the minute)."""
    if app.job_queue is None:
        return
    # Never skipped as "missed": a pass that wakes late (a stalled loop) still runs.
    app.job_queue.run_once(
        _remind,
        when=reminders.seconds_to_next_minute(now),
        name=reminders.JOB_NAME,
        job_kwargs={"misfire_grace_time": None},
    )


async def _remind(context: TryggContext) -> None:
    """On each minute: the next pass is booked first, then what fell due is queued and sent."""
    services = context.services
    _book_reminders(context.application, services.clock())  # type: ignore[arg-type]

    async def send() -> None:
        await services.outbox.kick(context.application)

    await reminders.minute_pass(services, send)


async def _send_at_start(context: TryggContext) -> None:
    """Once, when the application has started: a round of the outbox."""
    await context.services.outbox.send_due_if_idle(context.bot)


async def _purge(context: TryggContext) -> None:
    services = context.application.bot_data.services
    if services is None:
        return
    await retention.daily_purge(services.db, services.registry, services.clock())


def _freeze_long_lived(collect: bool = False) -> None:
    """Move what lives as long as the process (routines, catalogues, PTB) out of the collector's
    sight: a full collection walks every tracked object, and with 311 organisations loaded that
    is a pause of 30-60 ms in the middle of some update (p99 of `load_e2e`). Frozen objects are
    still freed by reference counting. A reload unfreezes first and collects before freezing
    again, so reference cycles of the generation it replaced are not kept for ever."""
    if collect:
        gc.collect()
    gc.freeze()


async def _post_stop(app: TryggApp) -> None:
    """Once no update is handled any more, and while the bot can still reach Telegram: let the
    outbox rounds the last handlers kicked finish, so what Telegram accepts is recorded."""
    services = app.bot_data.services
    if services is None:
        return
    try:
        async with asyncio.timeout(SHUTDOWN_SETTLE_S):
            await services.outbox.settled()
    except TimeoutError:
        log.warning("outbox: a round was still under way at shutdown; the next start sends it")


async def _post_shutdown(app: TryggApp) -> None:
    """Close what post_init opened."""
    metrics = app.bot_data.metrics
    if metrics is not None and metrics.server is not None:
        metrics.server.stop()
        metrics.server = None
    gc.unfreeze()  # tests start many apps in one process; let the collector see theirs again
    services = app.bot_data.services
    if services is not None:
        await services.db.close()


async def reload_routines(app: TryggApp) -> None:
    """Reload every routine file; broken files keep their last good version."""
    services = app.bot_data.services
    if services is None:
        return
    gc.unfreeze()  # the generation being replaced may hold cycles only the collector finds
    try:
        report = await asyncio.to_thread(services.registry.reload)
    finally:
        _freeze_long_lived(collect=True)
    log.info("routines reloaded: %s", report)


async def _reload_if_changed(context: TryggContext) -> None:
    """Polled: cheap stat of the routine files, a reload only when one changed."""
    if context.services.registry.changed():
        await reload_routines(context.application)  # type: ignore[arg-type]


def _install_sighup(app: TryggApp) -> None:
    """SIGHUP reloads the routines, as daemons do; not available off the main thread."""
    loop = asyncio.get_running_loop()
    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        loop.add_signal_handler(
            signal.SIGHUP, lambda: app.create_task(reload_routines(app), name="sighup-reload")
        )


@contextlib.asynccontextmanager
async def running(app: TryggApp) -> Any:
    """Run the application without polling: for the terminal chat and tests that feed updates.

    `run_polling` calls the post_init/post_stop/post_shutdown hooks itself; here they are called
    in the same order so both paths open and close the same services.
    """
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
