"""The bot's HTTP client for the Bot API: python-telegram-bot's request interface on aiohttp.

Why not PTB's own `HTTPXRequest`: under `bench/bench_load_e2e.py` (500 people at once) the
event loop was busy 92 % of the time and half of that was httpx and httpcore, per request:
building the request and its headers, the cookie jar, checking every idle connection of the
pool for expiry with a system call, and the anyio stream layer. The loop being busy is what
made answers wait. aiohttp's client, with its C HTTP parser, costs a fraction of that per
request (bench/README.md, "The HTTP client"), and sends the same requests: the same methods,
form fields and uploads, the same answers handed back to PTB, which checks them as before.

Timeouts, in PTB's terms: `connect_timeout` and `pool_timeout` together bound getting a
connection (aiohttp's `connect`: waiting for a free one and opening it); `read_timeout` bounds
each wait for the answer (`sock_read`; for `getUpdates` PTB adds the long-poll time). aiohttp has
no write timeout: a write that stalls ends as a read timeout, as no answer comes. A timeout is
`telegram.error.TimedOut`, any other failure of the connection `NetworkError`: what PTB, the
outbox and the monitoring (`monitoring.ObservedRequest`) expect.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import orjson
from telegram.error import NetworkError, TimedOut
from telegram.request import BaseRequest, RequestData

# PTB's defaults for HTTPXRequest, so that nothing about waiting changes with the client.
READ_TIMEOUT = 5.0
WRITE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 5.0
POOL_TIMEOUT = 1.0


def parse_json_payload(payload: bytes) -> Any:
    """Telegram's answer as JSON: `BaseRequest.parse_json_payload`, decoded by orjson.

    Every call's answer is decoded, and a sent answer comes back whole (its text, entities and
    keyboard): orjson takes about a third of the standard library's time on them. An answer
    orjson refuses (bytes that are not UTF-8, say) goes to PTB's own decoder, which replaces
    them and words its errors as for every other call.
    """
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return BaseRequest.parse_json_payload(payload)


def _chosen(value: Any, default: float | None) -> float | None:
    """PTB passes DEFAULT_NONE for "the request object's default"; None means no limit."""
    return default if isinstance(value, type(BaseRequest.DEFAULT_NONE)) else value


def _sum(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a + b


class AiohttpRequest(BaseRequest):
    """One pool of up to `connection_pool_size` keep-alive connections to the Bot API."""

    def __init__(
        self,
        connection_pool_size: int = 1,
        read_timeout: float | None = READ_TIMEOUT,
        connect_timeout: float | None = CONNECT_TIMEOUT,
        pool_timeout: float | None = POOL_TIMEOUT,
    ) -> None:
        self._pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._session: aiohttp.ClientSession | None = None

    @property
    def read_timeout(self) -> float | None:
        return self._read_timeout

    async def initialize(self) -> None:
        if self._session is None or self._session.closed:
            # No cookie jar (the Bot API sets none) and no environment proxies, as with
            # PTB's client, which ignores them too unless given one.
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=self._pool_size),
                cookie_jar=aiohttp.DummyCookieJar(),
                headers={"User-Agent": self.USER_AGENT},
                trust_env=False,
            )

    async def shutdown(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

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
        session = self._session
        if session is None or session.closed:
            raise RuntimeError("This AiohttpRequest is not initialized!")
        timeout = aiohttp.ClientTimeout(
            total=None,
            connect=_sum(
                _chosen(pool_timeout, self._pool_timeout),
                _chosen(connect_timeout, self._connect_timeout),
            ),
            sock_connect=_chosen(connect_timeout, self._connect_timeout),
            sock_read=_chosen(read_timeout, self._read_timeout),
        )
        try:
            async with session.request(
                method, url, data=_body(request_data), timeout=timeout
            ) as response:
                return response.status, await response.read()
        except TimeoutError as error:
            raise TimedOut from error
        except aiohttp.InvalidURL as error:
            # Its message is the URL, which holds the token.
            raise NetworkError(f"aiohttp.{type(error).__name__}") from error
        except aiohttp.ClientError as error:
            # The class name, as PTB does for httpx: the message alone can be empty.
            raise NetworkError(f"aiohttp.{type(error).__name__}: {error}") from error


def _body(request_data: RequestData | None) -> aiohttp.FormData | dict[str, str] | None:
    """The same form PTB's client sends: fields url-encoded, or multipart with the files."""
    if request_data is None:
        return None
    fields = request_data.json_parameters
    if not request_data.contains_files:
        return fields
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, part in request_data.multipart_data.items():
        filename, content, mimetype = part
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form
