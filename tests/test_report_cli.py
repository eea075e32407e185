"""`trygg status`, `trygg purge` and `trygg redact` as an operator or a coordinator runs them."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.outbox import message
from bot.reports.anonymise import anonymise
from bot.reports.model import Draft, report_from_draft
from bot.storage import Database, Role
from tests.test_retention import file_bytes, report

REPO = Path(__file__).resolve().parent.parent
COORDINATOR = 7_880_101


@pytest.fixture
def env(tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRYGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path / "data"


def db_path(data_dir: Path) -> Path:
    return data_dir / "trygg.sqlite3"


Work = Callable[[Database], Awaitable[object]]


async def _with_db(data_dir: Path, work: Work) -> None:
    prepared = prepare_data_dir(data_dir)
    async with await Database.open(prepared.db_path, Sealer(prepared.secret_key)) as db:
        await work(db)


def with_db(data_dir: Path, work: Work) -> None:
    """Run `await work(db)` on the CLI's database (creating it, as the bot would)."""
    asyncio.run(_with_db(data_dir, work))


def block(out: str, org: str) -> str:
    """The lines of `org`'s block in the status."""
    blocks = out.split("\n\n")
    return next(b for b in blocks if b.split("\n", 1)[0].split(" ", 1)[0] == org)


# --- status ----------------------------------------------------------------------------------


def test_status_shows_a_receiving_contact_without_coordinator_until_one_joins(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    solvik = block(out, "solvik")
    assert "routine file: loads" in solvik
    assert "NO COORDINATOR for sakerhet" in solvik
    assert "trygg invite --org solvik --role coordinator --contact sakerhet" in solvik
    assert "database: none yet" in out
    assert not db_path(env).exists()  # status never creates a database

    async def join(db: Database) -> None:
        now = datetime.now(UTC)
        await db.join(COORDINATOR, "solvik", Role.COORDINATOR, "sakerhet", now)
        stored = report_from_draft(_draft("solvik"), "R-STAT01", now)
        await db.submit_report(stored, None, [], 1, now)

    with_db(env, join)
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    solvik = block(out, "solvik")
    assert "NO COORDINATOR" not in solvik
    assert "receives reports: sakerhet (1 coordinator(s))" in solvik
    assert "reports: 1 open, 1 not acknowledged" in solvik
    # The region's contacts are still missing theirs.
    norrmark = block(out, "region-norrmark")
    assert "NO COORDINATOR for samordnare" in norrmark
    assert "NO COORDINATOR for sakerhetschef" in norrmark
    assert "reports: 0 open" in norrmark


def _draft(org: str) -> Draft:
    return Draft(
        org_id=org,
        values={
            "type": "hot",
            "channel": "epost",
            "month": "2026-11",
            "repeated": "nej",
            "perpetrator": "okand",
            "police": "nej",
            "impact": ["ingen"],
            "contact_me": "nej",
        },
    )


def test_status_shows_a_broken_routine_file_and_the_outbox(
    env: Path, routines_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = routines_dir / "solvik.yaml"
    path.write_text(path.read_text("utf-8").replace("contacts:", "contcts:", 1), "utf-8")
    queued = message(Sealer(b"k" * 32), "notice:1", "Hej", chat_id=COORDINATOR)
    with_db(env, lambda db: db.enqueue([queued], datetime.now(UTC)))
    assert main(["status"]) == 0
    out = capsys.readouterr().out
    assert "outbox: 1 message(s) waiting to be sent" in out
    solvik = block(out, "solvik")
    assert "problem(s)" in solvik and "see `trygg check`" in solvik
    assert "routine file: loads" in block(out, "region-norrmark")


def test_status_of_one_organisation_and_of_an_unknown_one(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "--org", "solvik"]) == 0
    out = capsys.readouterr().out
    assert "solvik" in out and "region-norrmark" not in out
    assert main(["status", "--org", "atlantis"]) == 2
    assert "no organisation 'atlantis'" in capsys.readouterr().err


# --- purge -----------------------------------------------------------------------------------


def test_purge_deletes_by_each_organisations_retention_and_from_the_file(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # solvik keeps reports 24 months, region-norrmark 36: 30 months is too old only for solvik.
    now = datetime.now(UTC)
    texts = {
        "solvik-old": "Solviks gamla beskrivning PURGE-ME-1",
        "solvik-new": "Solviks nya beskrivning KEEP-ME-2",
        "norrmark-old": "Norrmarks beskrivning KEEP-ME-3",
        "gone-org": "Beskrivning från en nedlagd kommun KEEP-ME-4",
    }
    created = {
        "solvik-old": ("solvik", now - timedelta(days=30 * 30)),
        "solvik-new": ("solvik", now - timedelta(days=60)),
        "norrmark-old": ("region-norrmark", now - timedelta(days=30 * 30)),
        "gone-org": ("gamla-kommunen", now - timedelta(days=30 * 60)),
    }

    async def fill(db: Database) -> None:
        for key, (org, when) in created.items():
            await db.submit_report(report(org, when, texts[key]), None, [], 1, when)
        await db.checkpoint()

    with_db(env, fill)
    assert all(t.encode() in _data_files(env) for t in texts.values())

    assert main(["purge", "--dry-run"]) == 0
    dry = capsys.readouterr().out
    assert "solvik: 1 report(s) older than 24mo" in dry and "would be deleted" in dry
    assert texts["solvik-old"].encode() in _data_files(env)

    assert main(["purge"]) == 0
    out = capsys.readouterr().out
    assert "solvik: 1 report(s) older than 24mo" in out
    assert "region-norrmark: 0 report(s) older than 36mo" in out
    assert "gamla-kommunen: 1 report(s) kept: its routine is not loaded" in out
    assert "would" not in out

    data = _data_files(env)
    assert texts["solvik-old"].encode() not in data
    for key in ("solvik-new", "norrmark-old", "gone-org"):
        assert texts[key].encode() in data, key


def _data_files(data_dir: Path) -> bytes:
    """Every byte of every file of the data directory (the database, -wal, -shm, the key)."""
    return b"".join(p.read_bytes() for p in sorted(data_dir.iterdir()) if p.is_file())


def test_purge_keeps_the_reports_of_a_routine_that_does_not_load(
    env: Path, routines_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = datetime.now(UTC) - timedelta(days=30 * 40)

    async def fill(db: Database) -> None:
        await db.submit_report(report("solvik", old, "KEEP-BROKEN-1"), None, [], 1, old)

    with_db(env, fill)
    path = routines_dir / "solvik.yaml"
    path.write_text(path.read_text("utf-8") + "\n  ]\n", "utf-8")
    assert main(["purge"]) == 0
    captured = capsys.readouterr()
    assert "solvik: 1 report(s) kept: its routine is not loaded" in captured.out
    assert "solvik.yaml has" in captured.err

    async def check(db: Database) -> None:
        assert await db.report_orgs() == {"solvik": 1}

    with_db(env, check)
    assert main(["purge", "--org", "solvik"]) == 2
    assert "its 1 report(s) are kept" in capsys.readouterr().err


def test_purge_without_a_database_creates_none(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["purge"]) == 0
    assert "nothing to purge" in capsys.readouterr().out
    assert not db_path(env).exists()


def test_a_database_file_shows_the_description_until_purged(env: Path) -> None:
    """The reason for the checkpoint: a copy of the file with its -wal holds what was written."""
    now = datetime.now(UTC) - timedelta(days=30 * 30)

    async def fill(db: Database) -> None:
        await db.submit_report(report("solvik", now, "WAL-ONLY-TEXT"), None, [], 1, now)
        assert b"WAL-ONLY-TEXT" in file_bytes(db)

    with_db(env, fill)
    assert main(["purge"]) == 0
    assert b"WAL-ONLY-TEXT" not in _data_files(env)


# --- redact ----------------------------------------------------------------------------------

LINES = [
    "Han heter Erik Svensson och ringde från 070-174 06 50.\n",
    "\n",
    "Mejl: erik.svensson@example.se, personnummer 19800101-1234\r\n",
    "Inget personligt på den här raden.\n",
    "Han bor på Storgatan 12 i Solvik",  # the last line has no line break
]
PLANTED = ("Erik Svensson", "070-174 06 50", "erik.svensson@example.se", "19800101-1234")


def test_redact_prints_each_line_anonymised_as_it_came() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRYGG_", "TELEGRAM_"))}
    env.update(PYTHONPATH=str(REPO), LC_ALL="C", PYTHONIOENCODING="")
    done = subprocess.run(
        [sys.executable, "-m", "bot", "redact"],
        input="".join(LINES).encode("utf-8"),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    out = done.stdout.decode("utf-8")
    lines = out.splitlines(keepends=True)
    assert len(lines) == len(LINES)
    for given, printed in zip(LINES, lines, strict=True):
        body = given.rstrip("\r\n")
        assert printed == anonymise(body).text + given[len(body) :]
    assert lines[0] == "Han heter [namn] och ringde från [telefon].\n"
    assert lines[1] == "\n"
    assert lines[2].endswith("\r\n")
    assert lines[3] == LINES[3]
    assert lines[4] == "Han bor på [adress] i Solvik"
    for planted in PLANTED:
        assert planted not in out


def test_redact_reads_standard_input(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO("Ring Erik Svensson\nok\n"))
    assert main(["redact"]) == 0
    assert capsys.readouterr().out == "Ring [namn]\nok\n"
