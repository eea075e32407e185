"""The Telegram edge: each module turns an update into one question to the domain and a reply.

`callbacks` moved down to `bot.callbacks` (the domain queues buttons too); it is re-exported here
so that `from bot.handlers import callbacks` keeps working in handler modules.
"""

from bot import callbacks as callbacks
