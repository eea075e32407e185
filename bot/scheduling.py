"""The job queue, stopped without an "Error running job" traceback in the log.

PTB's `JobQueue.stop` waits for the running jobs, then shuts APScheduler down, whose asyncio
executor cancels whatever it started in between. A job falling due in that wait (the outbox
every few seconds, say while a slow Telegram holds the last send) was cancelled before it ran,
and APScheduler logged the cancellation with a traceback: alarming in an operator's log, and
nothing had gone wrong. Pausing the scheduler first means no job starts once stopping began.
"""

from __future__ import annotations

from telegram.ext import JobQueue

from bot.context import TryggContext


class CalmJobQueue(JobQueue[TryggContext]):
    async def stop(self, wait: bool = True) -> None:
        if self.scheduler.running:
            self.scheduler.pause()  # nothing new starts; the running jobs are waited for below
        await super().stop(wait)
