"""End-to-end fixtures: the real `trygg` as a subprocess, against the fake Bot API over HTTP.

- `server`: a `FakeBotApiServer` on 127.0.0.1 (a free port) that accepts only `TOKEN`;
- `routines`: a copy of the example routines a test may change or break; `data_dir`: empty;
- `trygg(*args)`: runs `python -m bot *args` with the environment pointing at all three;
  `await trygg.invite(...)` creates an invite and returns its code from the printed deep link;
- `start_bot(**env)`: `trygg run` in the background, returned once it long-polls; stopped with
  SIGTERM at the end of the test, which must end it with exit code 0 and a log without a
  Traceback. Every wait is bounded; nothing sleeps a fixed time.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
import yaml

from tests.fakes.bot_api_server import FakeBotApiServer

REPO = Path(__file__).resolve().parents[2]
ROUTINES = REPO / "routines"

# Well-formed for `bot.config` (digits, colon, 20+ letters); the fake server accepts only it.
TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
DEEP_LINK = re.compile(
    r"^https://t\.me/(?P<username>[A-Za-z0-9_]+)\?start=(?P<code>[A-Za-z0-9_-]+)$"
)

# How long one step may take: a reply, a start, a stop. Generous for a loaded 2-core machine,
# and only ever reached when something is wrong.
WAIT = 10.0
START_WAIT = 15.0


# ------------------------------------------------------------------------------ the CLI


@dataclass
class Trygg:
    """`trygg <args>` as an operator runs it, in a temporary working directory."""

    env: dict[str, str]
    cwd: Path
    server: FakeBotApiServer

    def __call__(
        self, *args: str, env: dict[str, str | None] | None = None, timeout: float = START_WAIT
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bot", *args],
            env=self.environment(env),
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def environment(self, changes: dict[str, str | None] | None = None) -> dict[str, str]:
        """The base environment with `changes` applied; None removes a variable."""
        env = dict(self.env)
        for key, value in (changes or {}).items():
            if value is None:
                env.pop(key, None)
            else:
                env[key] = value
        return env

    async def invite(
        self, org: str, role: str = "member", *, contact: str | None = None, uses: int | None = None
    ) -> str:
        """`trygg invite ...`: the code of the printed deep link, which names the fake bot."""
        args = ["invite", "--org", org, "--role", role]
        if contact is not None:
            args += ["--contact", contact]
        if uses is not None:
            args += ["--uses", str(uses)]
        done = await asyncio.to_thread(self, *args)
        assert done.returncode == 0, done.stderr
        link = DEEP_LINK.match(done.stdout.strip())
        assert link is not None, f"no deep link in {done.stdout!r}"
        assert link["username"] == self.server.api.username
        return link["code"]


# ------------------------------------------------------------------------------ the bot


@dataclass
class RunningBot:
    """`trygg run` in the background, with its stdout and stderr (the log) in files."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    server: FakeBotApiServer
    returncode: int | None = field(default=None)

    def log(self) -> str:
        """Everything the bot wrote (the log goes to stderr)."""
        return self.stderr.read_text("utf-8", "replace") + self.stdout.read_text("utf-8", "replace")

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def send_signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait_log(
        self,
        pattern: str,
        *,
        after: int = 0,
        timeout: float = WAIT,  # noqa: ASYNC109
    ) -> re.Match[str]:
        """The first match of the regular expression `pattern` in the log after offset `after`
        (take it from `len(bot.log())` before the action that should log)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        while True:
            found = regex.search(self.log(), after)
            if found is not None:
                return found
            if not self.running:
                raise AssertionError(f"the bot ended before logging {pattern!r}:\n{self.log()}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing matched {pattern!r} within {timeout}s:\n{self.log()}")
            await asyncio.sleep(0.05)

    async def stop(self) -> int:
        """SIGTERM, as a service manager stops it; killed if it does not end in time."""
        if self.returncode is not None:
            return self.returncode
        if self.running:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.returncode = await asyncio.to_thread(self.process.wait, START_WAIT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.returncode = await asyncio.to_thread(self.process.wait, WAIT)
            raise AssertionError(f"the bot did not stop on SIGTERM:\n{self.log()}") from None
        return self.returncode


def _spawn(args: list[str], env: dict[str, str], cwd: Path, out: Path, err: Path) -> Any:
    with out.open("wb") as stdout, err.open("wb") as stderr:
        return subprocess.Popen(args, env=env, cwd=cwd, stdout=stdout, stderr=stderr)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def server() -> Iterator[FakeBotApiServer]:
    with FakeBotApiServer(token=TOKEN) as fake:
        yield fake
    assert not fake.errors, f"the fake Bot API server failed: {fake.errors!r}"


@pytest.fixture
def routines(tmp_path: Path) -> Path:
    """A copy of the example routines, so a test may change or break a file."""
    target = tmp_path / "routines"
    shutil.copytree(ROUTINES, target)
    return target


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def trygg(tmp_path: Path, server: FakeBotApiServer, routines: Path, data_dir: Path) -> Trygg:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TRYGG_", "TELEGRAM_", "PYTEST_"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TRYGG_API_URL=server.base_url,
        TRYGG_DATA_DIR=str(data_dir),
        TRYGG_ROUTINES=str(routines),
        TRYGG_RELOAD_INTERVAL="0.2",
        TRYGG_LOG_LEVEL="INFO",
        PTB_TIMEDELTA="1",
        # The code under test, whatever the virtualenv's editable install points at.
        PYTHONPATH=str(REPO),
        PYTHONUNBUFFERED="1",
    )
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    return Trygg(env, workdir, server)


StartBot = Callable[..., Awaitable[RunningBot]]


@pytest.fixture
async def start_bot(
    trygg: Trygg, server: FakeBotApiServer, tmp_path: Path
) -> AsyncIterator[StartBot]:
    """`await start_bot(VAR="value", ...)`: `trygg run` with extra environment, once it polls."""
    started: list[RunningBot] = []

    async def start(**env: str | None) -> RunningBot:
        number = len(started) + 1
        out, err = tmp_path / f"bot{number}.stdout", tmp_path / f"bot{number}.stderr"
        process = _spawn(
            [sys.executable, "-m", "bot", "run"], trygg.environment(env), trygg.cwd, out, err
        )
        bot = RunningBot(process, out, err, server)
        started.append(bot)
        try:
            await server.wait_polling(timeout=START_WAIT)
        except TimeoutError:
            raise AssertionError(f"the bot did not start polling:\n{bot.log()}") from None
        return bot

    yield start

    for bot in started:
        code = await bot.stop()
        log = bot.log()
        assert code == 0, f"the bot ended with {code}:\n{log}"
        assert "Traceback" not in log, log


@pytest.fixture
async def bot(start_bot: StartBot) -> RunningBot:
    """The bot on the default test environment, polling."""
    return await start_bot()


# ------------------------------------------------------------------------------ reading answers


def sent_html(server: FakeBotApiServer, message: dict[str, Any]) -> str:
    """The raw HTML the bot sent for `message` (what it passed to sendMessage)."""
    for call in server.calls("sendMessage"):
        result = call.result or {}
        if (
            call.ok
            and result.get("message_id") == message["message_id"]
            and result.get("chat", {}).get("id") == message["chat"]["id"]
        ):
            return str(call.params["text"])
    raise AssertionError(f"no sendMessage made message {message['message_id']}")


def buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, callback data) of a message's inline keyboard."""
    rows = (message.get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b.get("callback_data", "")) for row in rows for b in row]


def has_buttons(message: dict[str, Any]) -> bool:
    return bool(buttons(message))


@dataclass(frozen=True)
class Phone:
    national: str
    e164: str

    @property
    def link(self) -> str:
        """How the bot shows it: plain international format, which every client makes tappable."""
        return phonenumbers.format_number(
            phonenumbers.parse(self.e164, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )


def phone(raw: str) -> Phone:
    number = phonenumbers.parse(raw, "SE")
    return Phone(
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
    )


def routine_yaml(routines: Path, org: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((routines / f"{org}.yaml").read_text("utf-8"))
    return data


def coordinator_phone(routines: Path, org: str) -> Phone:
    """The number of the organisation's coordinator (the file's `owner`), as the file has it."""
    data = routine_yaml(routines, org)
    return phone(data["contacts"][data["organisation"]["owner"]]["phone"])


def organisation_phones(routines: Path, org: str) -> set[Phone]:
    """Every number of the organisation's own contacts."""
    contacts = routine_yaml(routines, org)["contacts"]
    return {phone(c["phone"]) for c in contacts.values() if c.get("phone")}
