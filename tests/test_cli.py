"""The trygg command: check, invite and the terminal chat, as an operator uses them."""

from __future__ import annotations

import asyncio
import io
import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.config import Settings
from bot.crypto import Sealer
from bot.devchat.chat import run_chat
from bot.storage import Database, Role
from tests.conftest import ROUTINES

KEY = bytes(range(1, 33))


@pytest.fixture
def env(tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRYGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return routines_dir


def test_check_passes_on_the_example_routines(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(ROUTINES), "--routines", str(ROUTINES)]) == 0
    out = capsys.readouterr()
    assert out.out.splitlines()[-1].startswith(f"ok: {ROUTINES}")
    assert out.err == ""  # problems, warnings and the verdict on one stream


def test_check_prints_every_problem_with_its_position(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = env / "solvik.yaml"
    text = broken.read_text(encoding="utf-8").replace("contacts:", "contcts:", 1)
    broken.write_text(text, encoding="utf-8")
    assert main(["check", str(broken), "--routines", str(env)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out
    assert all(re.match(r"^.+solvik\.yaml:\d+:\d+: ", line) for line in out)
    assert any("did you mean 'contacts'" in line for line in out)


def test_check_of_a_missing_path_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["check", str(tmp_path / "nope.yaml")]) == 1
    assert "no such file" in capsys.readouterr().out


def test_invite_prints_a_deep_link_and_stores_only_a_hash(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "--org", "solvik", "--role", "member", "--uses", "5"]) == 0
    link = capsys.readouterr().out.strip()
    found = re.fullmatch(r"https://t\.me/YOUR_BOT\?start=([A-Za-z0-9_-]+)", link)
    assert found is not None
    database = (tmp_path / "data" / "trygg.sqlite3").read_bytes()
    assert found[1].encode() not in database


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "atlantis", "--role", "member"], "no organisation 'atlantis'"),
        (
            ["--org", "solvik", "--role", "coordinator", "--contact", "nobody"],
            "--contact is one of",
        ),
        (["--org", "solvik", "--role", "member", "--contact", "sakerhet"], "only for coordinators"),
    ],
)
def test_invite_refuses_what_cannot_work(
    env: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["invite", *args]) == 2
    assert message in capsys.readouterr().err


def test_invite_rejects_a_bad_expiry(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["invite", "--org", "solvik", "--role", "member", "--expires", "soon"])
    assert "is not a duration" in capsys.readouterr().err


def test_run_without_a_token_says_what_to_set(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["run", "--no-chat"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN" in err and "trygg chat" in err


def _lines(*lines: str) -> Iterator[str | None]:
    yield from lines
    yield None


async def test_terminal_chat_shows_buttons_as_numbers_and_answers(
    routines_dir: Path, tmp_path: Path
) -> None:
    out = io.StringIO()
    typed = _lines("/kontakt", "2", "det står någon utanför dörren med kniv")
    settings = Settings(data_dir=tmp_path / "unused", routines_dir=routines_dir)
    code = await run_chat(
        settings, org="solvik", lang="sv", role="member", read_line=lambda: next(typed), out=out
    )
    assert code == 0
    shown = out.getvalue()
    assert "Välkommen! Du är nu med i Solviks kommun (fiktiv)" in shown
    assert "  [1] 🆘 Akut fara" in shown
    assert "Jag har fått ett hot" in shown and "+46 980 31 92 10" in shown
    assert "☎ SOS Alarm – nödnummer: 112" in shown
    assert not (tmp_path / "unused").exists()  # each chat uses a temporary database


async def test_terminal_chat_as_a_coordinator_in_english(
    routines_dir: Path, tmp_path: Path
) -> None:
    out = io.StringIO()
    typed = _lines("/routine")
    settings = Settings(data_dir=tmp_path / "unused", routines_dir=routines_dir)
    await run_chat(
        settings,
        org="region-norrmark",
        lang="en",
        role="coordinator",
        read_line=lambda: next(typed),
        out=out,
    )
    assert "security coordinator of Region Norrmark" in out.getvalue()
    assert "loaded without errors" in out.getvalue()


def test_an_export_to_a_missing_folder_says_so_without_a_traceback(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "solvik.csv"
    assert main(["invite", "--org", "solvik", "--role", "member"]) == 0  # a database to read
    capsys.readouterr()
    assert main(["export", "--org", "solvik", "--out", str(target)]) == 1
    assert capsys.readouterr().err.strip() == f"trygg: {target}: No such file or directory"


def test_a_heatmap_into_a_folder_that_is_not_there_says_so(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-folder" / "week.png"
    assert main(["gaps", "--org", "solvik", "--png", str(target)]) == 1
    err = capsys.readouterr().err
    assert f"trygg: {target}: No such file or directory" in err
    assert "Traceback" not in err


async def test_a_wrong_key_is_one_clear_line_for_every_command(
    env: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    async with await Database.open(data / "trygg.sqlite3", Sealer(KEY)) as db:
        await db.join(4242, "solvik", Role.MEMBER, None, datetime(2026, 11, 2, tzinfo=UTC))
    (data / "secret.key").write_bytes(bytes(range(32)))  # a backup restored with another key
    (data / "secret.key").chmod(0o600)
    for command in (["status"], ["members", "--org", "solvik"], ["purge", "--dry-run"]):
        assert await asyncio.to_thread(main, command) == 2
        err = capsys.readouterr().err
        assert err.startswith("trygg: The database") and "another secret key" in err, err
        assert "Traceback" not in err


def test_members_of_an_unknown_organisation_is_an_error(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["invite", "--org", "solvik", "--role", "member"]) == 0
    capsys.readouterr()
    assert main(["members", "--org", "solvk"]) == 2
    assert "no organisation 'solvk' is loaded (known: region-norrmark, solvik)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize(
    ("at", "expected"),
    [
        ("2026-12-05T22:00", "🕗 Säkerhetssamordnare (Karin Holm): nås från mån 08:00"),
        ("2026-12-07T08:30", "☎ Säkerhetssamordnare (Karin Holm): +46 980 31 92 10"),
    ],
)
def test_the_terminal_chat_can_start_at_another_hour(
    env: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    at: str,
    expected: str,
) -> None:
    """A coordinator checks whom the routine names on a Saturday night or a Monday morning."""
    monkeypatch.setattr("sys.stdin", io.StringIO("jag fick ett hotfullt mejl\n"))
    assert main(["chat", "--org", "solvik", "--at", at]) == 0
    assert expected in capsys.readouterr().out


def test_the_terminal_chat_refuses_an_hour_it_cannot_read(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["chat", "--at", "lördag kväll"])
    assert "is not a date and time: write it as YYYY-MM-DDTHH:MM" in capsys.readouterr().err


def test_run_says_what_it_waits_for_before_telegram_answers(
    env: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Telegram unreachable at start: python-telegram-bot retries without a word at INFO."""
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
    monkeypatch.setattr("telegram.ext.Application.run_polling", lambda *a, **k: None)
    with caplog.at_level(logging.INFO, logger="bot"):
        assert main(["run"]) == 0
    assert "connecting to Telegram; until it answers, the bot keeps trying" in caplog.text


def test_check_of_a_file_that_is_no_routine_quotes_only_its_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`trygg check` on the wrong file (a list of accounts) must not print the whole file."""
    other = tmp_path / "passwd"
    other.write_text("\n".join(f"user{n}:x:{n}:{n}::/home/user{n}:/bin/sh" for n in range(50)))
    assert main(["check", str(other)]) == 1
    out = capsys.readouterr().out
    assert out.startswith(f"{other}:1:1: expected keys such as `schema: 1`, got 'user0:x:0:0")
    assert out.rstrip().endswith("…'")
    assert len(out) < 200 and "user49" not in out
