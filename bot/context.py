"""The typed context every handler receives: services instead of string keys and casts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from telegram.ext import Application, CallbackContext, ExtBot

from bot.config import Settings
from bot.crypto import Sealer
from bot.invites import InviteService
from bot.outbox import Outbox
from bot.routines.registry import RoutineRegistry
from bot.storage import Database

if TYPE_CHECKING:
    from bot.monitoring import Metrics
    from bot.render_cache import RenderCache

Clock = Callable[[], datetime]


@dataclass
class Services:
    """What handlers need, opened in post_init and closed in post_shutdown."""

    settings: Settings
    db: Database
    registry: RoutineRegistry
    invites: InviteService
    clock: Clock
    sealer: Sealer
    outbox: Outbox
    answers: RenderCache  # rendered answers and menus (bot/render_cache.py)


class BotData:
    """Application-wide data; `services` is set once the application has started."""

    def __init__(self) -> None:
        self.services: Services | None = None
        self.metrics: Metrics | None = None  # set by build_application (bot/monitoring.py)


class TryggContext(CallbackContext[ExtBot[None], dict[Any, Any], dict[Any, Any], BotData]):
    @property
    def services(self) -> Services:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("services are used before the application was initialised")
        return services


TryggApp = Application[ExtBot[None], TryggContext, dict[Any, Any], dict[Any, Any], BotData, Any]
