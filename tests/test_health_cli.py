"""`trygg gaps`: the report of every organisation, as text (sv, en), JSON and a heatmap."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.crypto import Sealer
from bot.datadir import prepare_data_dir
from bot.health.heatmap import heatmap_size
from bot.storage import Database, Role

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "health" / "luckby.yaml"
RANGE = re.compile(
    r"^(mon|tue|wed|thu|fri|sat|sun) ([01]\d|2[0-4]):[0-5]\d-([01]\d|2[0-4]):[0-5]\d$"
)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Routines: the national file, Solvik and the test routine with gaps; no database yet."""
    routines = tmp_path / "routines"
    routines.mkdir()
    for name in ("_national.yaml", "solvik.yaml"):
        shutil.copy(REPO / "routines" / name, routines / name)
    shutil.copy(FIXTURE, routines / "luckby.yaml")
    monkeypatch.setenv("TRYGG_ROUTINES", str(routines))
    monkeypatch.setenv("TRYGG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["gaps", "--format", "json", *args]) == 0
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, dict)
    return data


def test_json_has_exactly_the_specified_shape(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = run_json(capsys)
    assert list(data) == ["organisations"]
    organisations = data["organisations"]
    assert isinstance(organisations, list)
    assert [org["id"] for org in organisations] == ["luckby", "solvik"]
    for org in organisations:
        assert list(org) == ["id", "situations", "review", "unregistered", "unreachable"]
        for found in org["situations"].values():
            assert list(found) == ["uncovered"]
            assert all(RANGE.match(r) for r in found["uncovered"])
        assert list(org["review"]) == ["due", "overdue"]
        due = date.fromisoformat(org["review"]["due"])
        assert org["review"]["overdue"] is (due <= datetime.now(UTC).date())
        assert all(isinstance(c, str) for c in org["unregistered"] + org["unreachable"])
    luckby = organisations[0]
    assert luckby["situations"]["akut"] == {"uncovered": []}
    assert luckby["situations"]["kedja"]["uncovered"][:2] == ["mon 00:00-08:00", "mon 22:00-24:00"]
    assert luckby["review"]["due"] == "2026-11-30"
    assert luckby["unregistered"] == ["kontor", "jour", "agare"]
    assert luckby["unreachable"] == ["tyst"]
    assert organisations[1]["unreachable"] == ["partiet"]


def test_unregistered_contacts_before_and_after_a_coordinator_joins(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def unregistered() -> list[str]:
        [org] = run_json(capsys, "--org", "luckby")["organisations"]  # type: ignore[misc]
        return list(org["unregistered"])

    assert unregistered() == ["kontor", "jour", "agare"]
    assert not (env / "data").exists()  # reading never creates a database

    async def join(user_id: int, contact: str) -> None:
        data_dir = prepare_data_dir(env / "data")
        async with await Database.open(data_dir.db_path, Sealer(data_dir.secret_key)) as db:
            await db.join(user_id, "luckby", Role.COORDINATOR, contact, datetime.now(UTC))

    asyncio.run(join(1, "kontor"))
    assert unregistered() == ["jour", "agare"]
    asyncio.run(join(2, "agare"))
    assert unregistered() == ["jour"]


def test_text_in_swedish_and_english_exits_0_with_gaps(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["gaps", "--org", "luckby"]) == 0
    captured = capsys.readouterr()
    assert "Luckby kommun (test) – rutinens hälsa" in captured.out
    assert "• Bara partiet: 168 h i veckan utan kontakt – hela veckan" in captured.out
    assert "Kontakter utan telefon och e-post: Ditt parti (tyst)" in captured.out
    assert "no coordinator joined" in captured.err
    assert main(["gaps", "--org", "luckby", "--lang", "en"]) == 0
    english = capsys.readouterr().out
    assert "• Office hours only: 128 h a week without a contact" in english
    assert "Receiving contacts without a registered coordinator: Security coordinator" in english
    assert "&" not in english and "<b>" not in english


def test_every_organisation_in_text(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gaps"]) == 0
    out = capsys.readouterr().out
    assert out.index("Luckby kommun") < out.index("Solviks kommun")


def test_an_unknown_organisation_is_an_error(env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gaps", "--org", "nowhere"]) == 2
    assert "known: luckby, solvik" in capsys.readouterr().err


def test_png_writes_a_heatmap_of_the_stated_size(
    env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    target = env / "week.png"
    assert main(["gaps", "--org", "luckby", "--png", str(target), "--format", "json"]) == 0
    json.loads(capsys.readouterr().out)  # stdout stays valid JSON
    image = Image.open(io.BytesIO(target.read_bytes()))
    assert image.format == "PNG" and image.size == heatmap_size(5)
    image.verify()


def test_png_for_several_organisations_gets_one_file_each() -> None:
    from bot.cli import _png_paths

    assert _png_paths(Path("out/w.png"), ["solvik"]) == {"solvik": Path("out/w.png")}
    assert _png_paths(Path("w.png"), ["a", "b"]) == {"a": Path("w-a.png"), "b": Path("w-b.png")}
