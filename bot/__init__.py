"""trygg: a Telegram bot for elected officials who are threatened, harassed or worried."""

import os

# python-telegram-bot 22 warns when RetryAfter is built unless durations are timedeltas; opting in
# keeps 429 handling free of deprecation warnings (and our tests run with warnings as errors).
os.environ.setdefault("PTB_TIMEDELTA", "1")
