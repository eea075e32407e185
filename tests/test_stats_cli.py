"""`trygg stats`, `trygg export` and `trygg invite --role national`, as an operator runs them."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import sqlite3
import stat
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import openpyxl
import pytest

from bot.cli import main
from bot.config import ConfigError, load_settings
from bot.datadir import prepare_data_dir
from bot.invites import NATIONAL_ORG
from bot.stats.aggregate import month_of
from bot.storage import Database
from tests.test_stats_aggregate import report


@pytest.fixture
def env(tmp_path: Path, routines_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TRYGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines_dir))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    monkeypatch.delenv("TRYGG_STATS_THRESHOLD", raising=False)
    return tmp_path / "data"


THIS_MONTH = month_of(datetime.now(UTC).date())


async def _seed(data_dir: Path) -> None:
    now = datetime.now(UTC)
    async with await Database.open(prepare_data_dir(data_dir).db_path) as db:
        for kind, count in (("hot", 7), ("nathat", 4), ("vald", 1)):
            for _ in range(count):
                description = '=HYPERLINK("x")' if kind == "vald" else "Ett mejl med hot."
                police = "ja" if kind == "hot" else "nej"
                r = replace(
                    report("solvik", THIS_MONTH, type=kind, police=police), description=description
                )
                await db.submit_report(r, None, [], 1, now)
        for _ in range(5):
            await db.submit_report(report("region-norrmark", THIS_MONTH), None, [], 1, now)


@pytest.fixture
def seeded(env: Path) -> Path:
    asyncio.run(_seed(env))
    return env


def test_stats_of_one_organisation_as_a_table(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats", "--org", "solvik"]) == 0
    out = capsys.readouterr().out
    assert "Statistik – Solviks kommun (fiktiv)" in out
    assert "Rapporter: 12 (12 mån) · 12 (I år)" in out
    assert "<3 = färre än 3 (0 inräknat)" in out
    assert "Region Norrmark" not in out


def test_stats_as_csv_and_json(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--org", "solvik", "--format", "csv", "--lang", "en"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    by_key = {(r["window"], r["dimension"], r["code"]): r for r in rows}
    assert by_key[("12m", "all", "")]["count"] == "12"
    assert by_key[("12m", "type", "hot")]["count"] == "7"
    assert by_key[("12m", "type", "hot")]["label"] == "Threat"
    assert by_key[("12m", "type", "vald")]["count"] == "<3"
    assert main(["stats", "--org", "solvik", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["threshold"] == 3
    assert data["windows"]["12m"]["type"]["nathat"] == 4
    assert data["windows"]["12m"]["type"]["vald"] == "<3"
    assert data["ptu"]["source"] == "bra.se/ptu"


def test_stats_for_a_range_and_a_higher_threshold(
    seeded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["stats", "--org", "solvik", "--from", THIS_MONTH, "--to", THIS_MONTH]
    assert main([*args, "--threshold", "5", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data["windows"]) == ["range"]
    assert data["windows"]["range"]["type"]["nathat"] == "<5"
    assert data["windows"]["range"]["reports"] == 12


def test_stats_of_all_organisations(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["stats", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["scope"] == "*"
    twelve = data["windows"]["12m"]
    assert twelve["reports"] == 17
    assert twelve["organisations"]["solvik"]["reports"] == 12
    assert twelve["organisations"]["region-norrmark"]["reports"] == 5
    assert twelve["organisations"]["solvik"]["police"] == 7


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--org", "atlantis"], "no organisation 'atlantis'"),
        (["--from", "2026-05", "--to", "2026-01"], "ends (2026-01) before it starts (2026-05)"),
    ],
)
def test_stats_refuses_what_cannot_work(
    seeded: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["stats", *args]) == 2
    assert message in capsys.readouterr().err


def test_stats_rejects_a_bad_month_or_threshold(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["stats", "--from", "2026-3"])
    assert "YYYY-MM" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["stats", "--threshold", "2"])
    assert "3 or more" in capsys.readouterr().err


def test_stats_without_a_database_creates_none(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stats"]) == 2
    assert "no database" in capsys.readouterr().err
    assert not (env / "trygg.sqlite3").exists()


def test_export_csv_has_one_row_per_report_and_no_text_unless_asked(
    seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "solvik.csv"
    assert main(["export", "--org", "solvik", "--out", str(out)]) == 0
    assert "wrote 12 report(s) of solvik" in capsys.readouterr().err
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert len(rows) == 12
    assert {r["type"] for r in rows} == {"hot", "nathat", "vald"}
    assert "description" not in rows[0]
    assert "ref" not in rows[0] and "created_at" not in rows[0]
    assert rows[0]["type_label"] in ("Hot", "Hat och trakasserier på nätet", "Våld")

    assert main(["export", "--org", "solvik", "--out", str(out), "--with-text"]) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    texts = {r["description"] for r in rows}
    assert "Ett mejl med hot." in texts
    assert '\'=HYPERLINK("x")' in texts  # a spreadsheet shows it, never runs it


def test_export_xlsx_has_the_summary_and_the_reports(
    seeded: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "solvik.xlsx"
    assert main(["export", "--org", "solvik", "--out", str(out), "--lang", "en"]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["Summary", "Reports"]
    summary = [list(r) for r in book["Summary"].iter_rows(values_only=True)]
    assert summary[0][0] == "Statistics – Solviks kommun (fiktiv)"
    hot = next(r for r in summary if r[1] == "hot")
    assert hot[3:5] == [7, 7]
    vald = next(r for r in summary if r[1] == "vald")
    assert vald[3:5] == ["<3", "<3"]
    reports = list(book["Reports"].iter_rows(values_only=True))
    assert len(reports) == 13 and reports[0][0] == "month"


def test_export_refuses_another_format(seeded: Path, tmp_path: Path) -> None:
    assert main(["export", "--org", "solvik", "--out", str(tmp_path / "x.pdf")]) == 2


def test_invite_for_the_national_role(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["invite", "--role", "national"]) == 0
    assert capsys.readouterr().out.startswith("https://t.me/YOUR_BOT?start=")

    conn = sqlite3.connect(env / "trygg.sqlite3")
    try:
        stored = conn.execute("SELECT org_id, role, uses_left FROM invites").fetchall()
    finally:
        conn.close()
    assert stored == [(NATIONAL_ORG, "national", 1)]  # one use, as for coordinators
    assert main(["invite", "--role", "national", "--org", "solvik"]) == 2
    assert "no --org or --contact" in capsys.readouterr().err
    assert main(["invite", "--role", "member"]) == 2
    assert "--org is needed" in capsys.readouterr().err


def test_the_threshold_is_configured_in_the_environment(routines_dir: Path) -> None:
    base = {"TRYGG_ROUTINES": str(routines_dir)}
    assert load_settings(base).stats_threshold == 3
    assert load_settings({**base, "TRYGG_STATS_THRESHOLD": "5"}).stats_threshold == 5
    for wrong in ("2", "three"):
        with pytest.raises(ConfigError, match="TRYGG_STATS_THRESHOLD"):
            load_settings({**base, "TRYGG_STATS_THRESHOLD": wrong})
