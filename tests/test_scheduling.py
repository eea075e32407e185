"""Stopping the bot while a job runs: the operator's log gets no traceback (bot/scheduling.py)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from telegram.ext import ApplicationBuilder, JobQueue

from bot.scheduling import CalmJobQueue

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


async def _stop_while_a_job_runs(queue: JobQueue[Any]) -> list[str]:
    """A job runs; stopping begins; another job falls due before the first ends."""
    app = ApplicationBuilder().token(TOKEN).updater(None).job_queue(queue).build()
    queue.set_application(app)
    started, release = asyncio.Event(), asyncio.Event()
    ran: list[str] = []

    async def slow(_: Any) -> None:
        started.set()
        await release.wait()
        ran.append("slow")

    async def due_while_stopping(_: Any) -> None:
        await asyncio.sleep(0.05)  # a job that takes a moment (the outbox, sending)
        ran.append("due while stopping")

    await queue.start()
    queue.run_once(slow, 0)
    await started.wait()
    stopping = asyncio.create_task(queue.stop(wait=True))
    await asyncio.sleep(0)  # stop() is now waiting for `slow`
    # Falls due as the running job ends: APScheduler starts it in the same turn of the loop in
    # which PTB's stop() stops waiting and shuts the scheduler down.
    queue.run_once(due_while_stopping, 0)
    release.set()
    await stopping
    for _ in range(5):
        await asyncio.sleep(0)
    return ran


async def test_a_job_falling_due_while_the_bot_stops_leaves_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG):
        ran = await _stop_while_a_job_runs(CalmJobQueue())
    assert ran == ["slow"]  # the running job finished; nothing new started
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


async def test_plain_ptb_job_queue_logs_the_cancelled_job(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Why CalmJobQueue exists: the same stop with PTB's own queue cancels the second job and
    logs it as an error, with a traceback."""
    with caplog.at_level(logging.DEBUG):
        await _stop_while_a_job_runs(JobQueue())
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors and errors[0].exc_info is not None
