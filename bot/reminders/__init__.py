"""Reminders: what falls due when (`schedule`), the job that queues it once (`jobs`), the texts
(`texts`), `trygg remind` (`cli`) and the pacing of the outbox under Telegram's limits (`pacing`).

Nothing is imported here, so that `bot.outbox` can use `bot.reminders.pacing` without a cycle.
"""
