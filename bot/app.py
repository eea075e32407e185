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

from telegram import LinkPreviewOptions
from telegram.constants import ParseMode
from telegram.error import TelegramError
from telegram.ext import ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest

from bot.config import Settings
from bot.context import BotData, Clock, Services, TryggApp, TryggContext
from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.handlers.commands import publish_default_commands
from bot.handlers.flood import FloodGuard
from bot.handlers.ordering import PerUserOrder
from bot.handlers.register import register
from bot.invites import InviteService
from bot.outbox import Outbox
from bot.outbox import schedule as schedule_outbox
from bot.reminders.jobs import start as start_reminders
from bot.reports.retention import schedule as schedule_retention
from bot.routines.registry import RoutineRegistry
from bot.storage.db import Database

log = logging.getLogger(__name__)

# The token used offline (terminal chat, tests): the fake transport never checks it.
OFFLINE_TOKEN = "123456789:offline-terminal-chat-token-0000"
RELOAD_JOB = "routine-reload"
# How long a thread may hold the GIL while another waits for it (Python's default is 5 ms).
# SQLite runs in aiosqlite's thread: a finished query needs the GIL to hand its result back,
# and while the event loop is busy with other people's updates it waited up to 5 ms a query.
SWITCH_INTERVAL_S = 0.001


FAKE_NOW = "TRYGG_FAKE_NOW"
"""A testing hook, never set in production: an ISO time at which the bot's clock starts (then
it runs on at the real pace), so end-to-end tests can start the bot just before a reminder is
due instead of waiting for it."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def testing_clock(raw: str | None) -> Clock | None:
    """The clock of `TRYGG_FAKE_NOW` (see `FAKE_NOW`), or None when it is not set."""
    if not raw:
        return None
    start = datetime.fromisoformat(raw)
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
    builder = (
        ApplicationBuilder()
        .token(token)
        .context_types(ContextTypes(context=TryggContext, bot_data=BotData))
        .defaults(
            Defaults(
                parse_mode=ParseMode.HTML,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
                tzinfo=UTC,
            )
        )
        .post_init(_make_post_init(settings, clock))
        .post_shutdown(_post_shutdown)
        # Updates of one user are handled in order; different users run side by side.
        .concurrent_updates(PerUserOrder())
    )
    if settings.api_url:
        builder = builder.base_url(settings.api_url)
    if request is not None:
        builder = builder.request(request)
    if updates_request is not None:
        builder = builder.get_updates_request(updates_request)
    app: TryggApp = builder.build()
    # Flood control sees every update first; TRYGG_FLOOD_BURST=0 turns it off.
    guard = FloodGuard(settings.flood_burst, settings.flood_rate) if settings.flood_burst else None
    register(app, guard)
    return app


def _make_post_init(settings: Settings, clock: Clock) -> Any:
    async def post_init(app: TryggApp) -> None:
        """Open services before the first update is handled."""
        data_dir = prepare_data_dir(settings.data_dir)
        db = await Database.open(data_dir.db_path)
        registry = RoutineRegistry(settings.routines_dir)
        await asyncio.to_thread(registry.reload)
        _freeze_long_lived()
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        sealer = Sealer(data_dir.secret_key)
        app.bot_data.services = Services(
            settings=settings,
            db=db,
            registry=registry,
            invites=InviteService(db, data_dir.secret_key, clock),
            clock=clock,
            sealer=sealer,
            outbox=Outbox(db, sealer, clock),
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
            schedule_retention(app)  # daily at 03:30 and once after start
        await start_reminders(app)  # what fell due while the bot was down, then every minute
        _install_sighup(app)

    return post_init


def _freeze_long_lived(collect: bool = False) -> None:
    """Move what lives as long as the process (routines, catalogues, PTB) out of the collector's
    sight: a full collection walks every tracked object, and with 311 organisations loaded that
    is a pause of 30-60 ms in the middle of some update (p99 of `load_e2e`). Frozen objects are
    still freed by reference counting. A reload unfreezes first and collects before freezing
    again, so reference cycles of the generation it replaced are not kept for ever."""
    if collect:
        gc.collect()
    gc.freeze()


async def _post_shutdown(app: TryggApp) -> None:
    """Close what post_init opened."""
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

    `run_polling` calls the post_init/post_shutdown hooks itself; here they are called in the
    same order so both paths open and close the same services.
    """
    await app.initialize()
    if app.post_init is not None:
        await app.post_init(app)
    await app.start()
    try:
        yield app
    finally:
        await app.stop()
        await app.shutdown()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)
