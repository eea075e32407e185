"""Secrets and permissions, for the whole bot rather than one module at a time.

- After a working day of the real application (members join, a report goes to a coordinator,
  the two write to each other, someone is forgotten, retention runs), every file and directory in
  the data directory is owner-only, whatever the umask was: the directory 0700, the database, its
  -wal and -shm, and the key 0600. The CLI commands that create the directory do the same.
- The bot token is never shown: not by the settings (repr, str, format, asdict), not by a
  configuration error however near the bad value is to a real token.

The end-to-end half (the token in the log of `trygg run` at DEBUG, through outages and errors,
and a rejected token) is in tests/e2e/test_faults_secrets.py.
"""

from __future__ import annotations

import dataclasses
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest

from bot import cli
from bot.app import build_application, running
from bot.config import ConfigError, Secret, Settings, load_settings
from bot.devchat.transport import RecordingRequest
from bot.handlers import callbacks
from bot.reports.retention import purge
from tests.conftest import OFFICE_HOURS, Clock, Harness, texts

TOKEN = "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
SECRET_PART = TOKEN.split(":")[1]

REPORTER = 7_600_001
COORDINATOR = 7_600_101


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, int]:
    """The permission bits of `root` and of everything under it, by relative path."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in sorted(root.rglob("*")):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def loose(found: dict[str, int], root: Path) -> dict[str, str]:
    """What anyone but the owner could read, write or enter."""
    return {name: f"{mode:03o}" for name, mode in found.items() if mode & 0o077}


async def _a_working_day(harness: Harness) -> None:
    await harness.join(COORDINATOR, "solvik", role="coordinator", contact="sakerhet")
    await harness.join(REPORTER, "solvik")
    await harness.send(REPORTER, "/rapportera")
    await harness.send(REPORTER, "Någon skrev till mig på Storgatan 12.")
    await harness.press(REPORTER, callbacks.report("keep"))
    for data in (
        "set.type.hot", "set.channel.epost", "set.month.2026-11", "set.repeated.ja",
        "set.perpetrator.kand", "set.police.planerar", "set.impact.avstod", "done.impact",
        "skip.gender",
    ):  # fmt: skip
        await harness.press(REPORTER, callbacks.report(data))
    await harness.press(REPORTER, callbacks.report("set.contact_me.ja"))
    sent = await harness.press(REPORTER, callbacks.report("send"))
    ref = next(t.split("Referens: ")[1].split()[0] for t in texts(sent) if "Referens:" in t)
    await harness.press(COORDINATOR, callbacks.case(f"ack.{ref}"))
    await harness.press(COORDINATOR, callbacks.case(f"reply.{ref}"))
    await harness.send(COORDINATOR, "Hej, vill du ringa mig?")
    await harness.press(REPORTER, callbacks.relay(f"answer.{ref}"))
    await harness.send(REPORTER, "Ja tack.")
    await harness.press(REPORTER, callbacks.relay(f"send.{ref}"))  # after seeing it shown back
    to_coordinator = texts(harness.transport.sent_to(COORDINATOR))
    assert any("Svar från den som rapporterade" in text for text in to_coordinator)
    await harness.press(COORDINATOR, callbacks.case(f"close.{ref}"))
    await harness.press(COORDINATOR, callbacks.case(f"closeok.{ref}"))
    await harness.send(REPORTER, "/glom")
    await harness.press(REPORTER, callbacks.forget(True))
    services = harness.services
    await purge(services.db, services.registry, OFFICE_HOURS + timedelta(days=3 * 365))


async def test_everything_in_the_data_directory_is_owner_only_whatever_the_umask(
    tmp_path: Path, routines_dir: Path
) -> None:
    data_dir = tmp_path / "data"
    transport = RecordingRequest()
    with umask(0):  # the loosest an operator's shell could have
        app = build_application(
            Settings(data_dir=data_dir, routines_dir=routines_dir, reload_interval=3600),
            request=transport,
            updates_request=transport.updates_request(),
            clock=Clock(OFFICE_HOURS),
        )
        async with running(app):
            harness = Harness(app, transport, Clock(OFFICE_HOURS), routines_dir)
            await _a_working_day(harness)
            while_running = modes(data_dir)
        after = modes(data_dir)

    for found in (while_running, after):
        assert loose(found, data_dir) == {}
        assert found["."] == 0o700
        assert "secret.key" not in found  # the key is kept beside the directory, not in it
        assert stat.S_IMODE((tmp_path / "data.key").stat().st_mode) == 0o600
        assert found["trygg.sqlite3"] == 0o600
    # The write-ahead log and its index exist while the bot runs, owner-only too.
    assert while_running["trygg.sqlite3-wal"] == 0o600
    assert while_running["trygg.sqlite3-shm"] == 0o600


def test_the_cli_creates_an_owner_only_data_directory(
    tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "fresh" / "data"
    monkeypatch.setenv("TRYGG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    with umask(0):
        assert cli.main(["invite", "--org", "solvik", "--role", "member"]) == 0
    found = modes(data_dir)
    assert loose(found, data_dir) == {}
    assert {".", "trygg.sqlite3"} <= set(found)
    assert stat.S_IMODE((data_dir.parent / "data.key").stat().st_mode) == 0o600


def test_a_loose_data_directory_from_an_old_setup_is_tightened_at_start(
    tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data_dir = tmp_path / "data"
    monkeypatch.setenv("TRYGG_DATA_DIR", str(data_dir))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    assert cli.main(["invite", "--org", "solvik", "--role", "member"]) == 0
    for path, mode in ((data_dir, 0o755), (data_dir.parent / "data.key", 0o644)):
        path.chmod(mode)
    (data_dir / "trygg.sqlite3").chmod(0o664)
    assert cli.main(["invite", "--org", "solvik", "--role", "member"]) == 0
    assert loose(modes(data_dir), data_dir) == {}
    assert stat.S_IMODE((data_dir.parent / "data.key").stat().st_mode) == 0o600


# ------------------------------------------------------------------------------ the token


def _shown(settings: Settings) -> list[str]:
    """Every way a settings object could end up in a log line or a traceback."""
    return [
        repr(settings),
        str(settings),
        f"{settings}",
        "%s %r" % (settings, settings),  # noqa: UP031 - the logging module's way
        repr(dataclasses.asdict(settings)),
        repr(dataclasses.replace(settings)),
        repr(settings.token),
        str(settings.token),
    ]


def test_settings_never_show_the_token(routines_dir: Path) -> None:
    settings = load_settings({"TELEGRAM_BOT_TOKEN": TOKEN, "TRYGG_ROUTINES": str(routines_dir)})
    assert isinstance(settings.token, Secret) and settings.token.reveal() == TOKEN
    for text in _shown(settings):
        assert SECRET_PART not in text, text


@pytest.mark.parametrize(
    "near_miss",
    [
        TOKEN + " ",  # stripped: valid
        TOKEN[:-15],  # too short after the colon
        TOKEN.replace(":", ";"),
        TOKEN + "!",
        "bot" + TOKEN,
        f"{TOKEN}\n{TOKEN}",
        TOKEN.replace("A", "Å"),
    ],
)
def test_configuration_errors_never_quote_the_token(routines_dir: Path, near_miss: str) -> None:
    env = {"TELEGRAM_BOT_TOKEN": near_miss, "TRYGG_ROUTINES": str(routines_dir)}
    try:
        settings = load_settings(env)
    except ConfigError as error:
        for text in (str(error), repr(error), *error.problems):
            assert SECRET_PART[:10] not in text, text
    else:
        for text in _shown(settings):
            assert SECRET_PART[:10] not in text, text
