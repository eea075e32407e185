"""A fake Telegram Bot API server on 127.0.0.1, for running the bot end to end over HTTP.

It answers ``/bot<token>/<method>`` (GET or POST; JSON, form-encoded or multipart bodies, as
PTB sends them) with the same `bot.devchat.transport.FakeBotApi` that `RecordingRequest` uses, and
long-polls ``getUpdates`` like Telegram: it waits on a condition until an update is queued or
the ``timeout`` passes, and a newer getUpdates ends an older one with 409 Conflict.

Usage from an async test::

    with FakeBotApiServer() as server:
        app = Application.builder().token(server.token).base_url(server.base_url).build()
        ...start polling...
        server.push_message(42, "/start")
        reply = await server.wait_for(42, "Välkommen")

Standard library only; one thread for the listener plus one per connection, all ended by
`stop` (which closes idle keep-alive connections and wakes long polls).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import re
import socket
import struct
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal, Self, TypeVar
from urllib.parse import parse_qsl, urlsplit

from bot.devchat.transport import (
    DEFAULT_BOT_USERNAME,
    ApiReply,
    Call,
    FakeApiFront,
    FakeBotApi,
    NetworkFault,
    Response,
    canonical_method,
    decode_form_value,
    file_record,
)
from tests.fakes import telegram_objects as tg

JSONDict = dict[str, Any]
Predicate = Callable[[JSONDict], bool] | str | None
T = TypeVar("T")

DEFAULT_TOKEN = "123456:TEST-fake-bot-api-token"
_PATH = re.compile(r"^/bot(?P<token>[^/]*)/(?P<method>[^/]+)$")
_TOKEN = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_CONFLICT = (
    "Conflict: terminated by other getUpdates request; make sure that only one bot instance "
    "is running"
)


class _HTTPServer(ThreadingHTTPServer):
    # Daemon threads, so a test that forgets stop() cannot hang the interpreter's exit; stop()
    # joins them itself (socketserver only joins non-daemon threads).
    daemon_threads = True

    def process_request(self, request: Any, client_address: Any) -> None:
        thread = threading.Thread(
            target=self.process_request_thread,
            args=(request, client_address),
            name=f"FakeBotApiServer:{self.server_address[1]}:connection",
            daemon=True,
        )
        with self.owner._conn_lock:
            self.owner._threads = [t for t in self.owner._threads if t.is_alive()]
            self.owner._threads.append(thread)
        thread.start()

    def __init__(self, address: tuple[str, int], owner: FakeBotApiServer) -> None:
        self.owner = owner
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError):  # the client went away: nothing to tell
            return
        if exc is not None:
            self.owner.errors.append(exc)
        traceback.print_exc()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: with Nagle's algorithm the body waits for the
    # client's delayed ACK, 40 ms per call on Linux, which Telegram's servers do not do.
    disable_nagle_algorithm = True
    server_version = "nginx/1.18.0"
    sys_version = ""
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        owner = self.server.owner
        body = self._read_body()
        try:
            response = owner._answer(self.path, self.headers.get("Content-Type", ""), body)
        except Exception as exc:  # a bug in the fake: answer 500 and keep it for the test
            owner.errors.append(exc)
            traceback.print_exc()
            response = ApiReply.error(500, f"Internal Server Error: {exc!r}")
        if isinstance(response, NetworkFault):
            if response.kind == "timeout":
                owner._hang(response.hang)
            self._reset()
            return
        payload = response.payload()
        self.send_response(response.status)
        content_type = "text/html" if response.raw is not None else "application/json"
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        if owner._stopping.is_set():
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        self.wfile.write(payload)

    def _reset(self) -> None:
        """Break the connection without an answer (RST), like a dead upstream."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def parse_multipart(body: bytes, content_type: str) -> JSONDict:
    """The fields of a multipart/form-data body; a file part becomes a `file_record`."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = header.get_param("boundary")
    if not isinstance(boundary, str):
        raise ValueError("multipart body without boundary")
    params: JSONDict = {}
    files: JSONDict = {}
    for part in body.split(b"--" + boundary.encode("latin-1"))[1:]:
        if part.startswith(b"--"):
            break
        part = part.removeprefix(b"\r\n")
        head, _, content = part.partition(b"\r\n\r\n")
        content = content.removesuffix(b"\r\n")
        headers = Message()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip()] = value.strip()
        field = headers.get_param("name", header="content-disposition")
        if not isinstance(field, str):
            continue
        filename = headers.get_filename()
        if filename is not None or headers.get_content_type() != "text/plain":
            files[field] = file_record(filename, len(content), headers.get("Content-Type"))
        else:
            params[field] = decode_form_value(field, content.decode("utf-8"))
    for field, record in files.items():
        if any(f"attach://{field}" in json.dumps(v) for v in params.values()):
            params.setdefault("_attachments", {})[field] = record
        else:
            params[field] = record
    return params


def parse_body(query: str, content_type: str, body: bytes) -> JSONDict:
    """Bot API params from a query string and a body of any of the accepted encodings."""
    params: JSONDict = {k: decode_form_value(k, v) for k, v in parse_qsl(query, True)}
    kind = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return params
    if kind == "application/json":
        data = json.loads(body.decode("utf-8"))
        if isinstance(data, dict):
            params.update(data)
    elif kind == "multipart/form-data":
        params.update(parse_multipart(body, content_type))
    else:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
        params.update({k: decode_form_value(k, v) for k, v in pairs})
    return params


class FakeBotApiServer(FakeApiFront):
    """The Bot API over HTTP on 127.0.0.1 (``port=0``: a free port), for end-to-end tests.

    ``token=None`` accepts any well-formed token (the bot id is taken from it); a given token
    makes others 401 Unauthorized, as Telegram does. Every method is thread-safe; the
    ``async`` ones wait without blocking the event loop, the ``*_blocking`` ones are for
    threads and sync tests.
    """

    def __init__(
        self,
        *,
        token: str | None = None,
        api: FakeBotApi | None = None,
        bot_id: int | None = None,
        username: str = DEFAULT_BOT_USERNAME,
        strict: bool = False,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._api = api or FakeBotApi(bot_id=bot_id, username=username, strict=strict)
        self._token = token
        if token is not None:
            self.api.adopt_token(token)
        self._address = (host, port)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._poll_generation = itertools.count(1)
        self._current_poll = 0
        self._polling = 0
        self._cursors: dict[int | str, int] = {}
        self._call_cursors: dict[str, int] = {}
        self.errors: list[BaseException] = []

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        if self._httpd is not None:
            raise RuntimeError("FakeBotApiServer already started")
        self._stopping.clear()
        self._httpd = _HTTPServer(self._address, self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeBotApiServer:{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake long polls and hung requests, close every connection, join every
        thread. Safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._stopping.set()
        self.api.notify()
        httpd.shutdown()
        with self._conn_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if thread is not None:
            thread.join()
        with self._conn_lock:
            threads, self._threads = self._threads, []
        for worker in threads:
            worker.join(timeout=5)
            if worker.is_alive():
                self.errors.append(RuntimeError(f"{worker.name} did not end"))
        self._httpd = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeBotApiServer is not started")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """What to pass as PTB's ``base_url`` (PTB appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        return f"{self.url}/file/bot"

    @property
    def token(self) -> str:
        """The token to give the bot (the configured one, or a default)."""
        return self._token or f"{self.api.bot_id}:TEST-fake-bot-api-token"

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    # -- answering ---------------------------------------------------------------------------

    def _answer(self, path: str, content_type: str, body: bytes) -> Response:
        parts = urlsplit(path)
        match = _PATH.match(parts.path)
        if match is None or not _TOKEN.match(match["token"]):
            return ApiReply.error(404, "Not Found")
        token, method = match["token"], match["method"]
        if self._token is not None and token != self._token:
            return ApiReply.error(401, "Unauthorized")
        self.api.adopt_token(token)
        params = parse_body(parts.query, content_type, body)
        if canonical_method(method) == "getUpdates":
            return self._get_updates(params)
        return self.api.handle(method, params)

    def _get_updates(self, params: JSONDict) -> Response:
        injected = self.api.intercept("getUpdates", params)
        if injected is not None:
            return injected
        timeout = params.get("timeout")
        wait = float(timeout) if isinstance(timeout, int | float) and timeout > 0 else 0.0
        condition = self.api.condition
        with condition:
            generation = next(self._poll_generation)
            self._current_poll = generation
            self.api.notify()  # an older long poll ends with 409 Conflict, as on Telegram
            if wait and not self.api.updates_ready(params):
                self._polling += 1
                self.api.notify()
                try:
                    condition.wait_for(
                        lambda: (
                            self._stopping.is_set()
                            or self._current_poll != generation
                            or self.api.down
                            or self.api.updates_ready(params)
                        ),
                        wait,
                    )
                finally:
                    self._polling -= 1
            if self.api.down:  # went down during the long poll: its connection breaks too
                broken = self.api.intercept("getUpdates", params)
                if broken is not None:
                    return broken
            if self._current_poll != generation:
                response = ApiReply.error(409, _CONFLICT)
                self.api.record("getUpdates", params, response)
                return response
        return self.api.handle("getUpdates", params, check_faults=False)

    def _hang(self, seconds: float) -> None:
        """Hold a request without answering until the server stops or ``seconds`` pass."""
        with self.api.condition:
            self.api.condition.wait_for(self._stopping.is_set, seconds)

    # -- pushing updates ---------------------------------------------------------------------

    def push_message(self, user_id: int, text: str, **kwargs: Any) -> JSONDict:
        """Queue a text message from ``user_id`` (see `telegram_objects.message_update` for the
        keyword arguments); its message id comes from the chat's own sequence."""
        update = tg.message_update(user_id, text, message_id=0, **kwargs)
        key = "channel_post" if "channel_post" in update else "message"
        message = update[key]
        message["message_id"] = self.api.allocate_message_id(message["chat"]["id"])
        return self.api.push_update(update)

    def push_callback(
        self, user_id: int, message_id: int, data: str, *, chat_id: int | None = None, **kwargs: Any
    ) -> JSONDict:
        """Queue a tap on a button with ``data`` under the bot's message ``message_id`` (the
        message as it is now, if the bot sent it)."""
        in_chat = chat_id if chat_id is not None else user_id
        current = self.api.message(in_chat, message_id)
        update = tg.callback_update(
            user_id,
            data,
            message_id,
            message=current,
            chat_id=chat_id,
            bot_id=self.api.bot_id,
            bot_username=self.api.username,
            **kwargs,
        )
        return self.api.push_update(update)

    def push_photo(self, user_id: int, **kwargs: Any) -> JSONDict:
        update = tg.photo_update(user_id, message_id=0, **kwargs)
        update["message"]["message_id"] = self.api.allocate_message_id(
            update["message"]["chat"]["id"]
        )
        return self.api.push_update(update)

    # -- what the bot did --------------------------------------------------------------------

    def clear(self) -> None:
        """Forget recorded calls and reset the `wait_for` cursors."""
        with self.api.condition:
            self.api.clear()
            self._cursors.clear()
            self._call_cursors.clear()

    def _message_check(
        self, chat_id: int | str, predicate: Predicate, include_edits: bool
    ) -> Callable[[], JSONDict | None]:
        start = min(self._cursors.get(chat_id, 0), self.api.event_count())
        matcher = self.api.event_matcher(chat_id, predicate, start, include_edits)

        def check() -> JSONDict | None:
            found = matcher()
            if found is None:
                return None
            index, message = found
            self._cursors[chat_id] = index + 1
            return message

        return check

    async def wait_for(
        self,
        chat_id: int | str,
        predicate: Predicate = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per wait is the point of the API
        *,
        include_edits: bool = True,
    ) -> JSONDict:
        """The next message the bot sends (or edits, unless ``include_edits=False``) to
        ``chat_id`` that matches ``predicate`` (a function of the Message dict, or a substring
        of its text/caption, or None for any). Messages are consumed in order: each call looks
        after the one the previous call returned, so earlier replies are not matched twice."""
        with self.api.condition:
            check = self._message_check(chat_id, predicate, include_edits)
        try:
            return await self.api.wait_until(check, timeout, f"a message to {chat_id}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; {self.api.describe_chat(chat_id)}") from None

    def wait_for_blocking(
        self,
        chat_id: int | str,
        predicate: Predicate = None,
        timeout: float = 10.0,
        *,
        include_edits: bool = True,
    ) -> JSONDict:
        """`wait_for` for sync tests and threads."""
        with self.api.condition:
            check = self._message_check(chat_id, predicate, include_edits)
        try:
            return self.api.wait_until_blocking(check, timeout, f"a message to {chat_id}")
        except TimeoutError as exc:
            raise TimeoutError(f"{exc}; {self.api.describe_chat(chat_id)}") from None

    async def wait_for_call(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - a deadline per wait is the point of the API
    ) -> Call:
        """The next call of ``method`` (after the one the previous wait returned) that matches."""
        name = canonical_method(method)
        test = predicate or (lambda call: True)

        def check() -> Call | None:
            calls = self.api.calls(name)
            for index in range(self._call_cursors.get(name, 0), len(calls)):
                if test(calls[index]):
                    self._call_cursors[name] = index + 1
                    return calls[index]
            return None

        return await self.api.wait_until(check, timeout, f"a {name} call")

    async def wait_polling(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until a getUpdates long poll is waiting (the bot is up and idle)."""
        await self.api.wait_until(lambda: True if self._polling else None, timeout, "a poll")

    async def wait_confirmed(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until every queued update was confirmed by a getUpdates offset (fetched by the bot,
        which PTB confirms with its next poll)."""
        await self.api.wait_until(
            lambda: None if self.api.pending_updates() else True, timeout, "confirmed updates"
        )

    # -- faults ------------------------------------------------------------------------------

    # The end-to-end tests' name for `fail_next`: the next calls of a method fail.
    fail = FakeApiFront.fail_next

    def retry_after(self, method: str, seconds: int, *, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer 429 with ``retry_after``."""
        self.api.fail_next(method, retry_after=seconds, times=times)

    def set_down(self, down: bool = True, *, mode: Literal["reset", "502"] = "reset") -> None:
        """While down every request fails: ``reset`` breaks the connection, ``502`` answers
        the front end's HTML "502 Bad Gateway"; both surface in PTB as `NetworkError`."""
        self.api.set_down(down, status=502 if mode == "502" else None)
        self.api.notify()  # a long poll under way ends as its connection would


@contextlib.contextmanager
def running_server(**kwargs: Any) -> Iterator[FakeBotApiServer]:
    """``with running_server() as server:`` — started, and stopped on exit."""
    server = FakeBotApiServer(**kwargs).start()
    try:
        yield server
    finally:
        server.stop()


def texts(messages: list[JSONDict]) -> list[str | None]:
    """The texts (or captions) of messages, for compact assertions."""
    return [m.get("text", m.get("caption")) for m in messages]


def server_threads() -> list[threading.Thread]:
    """Threads of any FakeBotApiServer still alive (none after every server stopped)."""
    return [t for t in threading.enumerate() if t.name.startswith("FakeBotApiServer:")]
