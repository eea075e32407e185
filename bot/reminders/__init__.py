"""Reminders: what falls due when (`schedule`), the passes that queue it once (`jobs`, run by
`bot.app` on every minute), the texts (`texts`) and `trygg remind` (`cli`).
"""
