"""/statistik through the real handlers on the recording transport."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from bot.devchat.transport import Call
from bot.handlers import callbacks, stats
from bot.invites import NATIONAL_ORG
from bot.reports.model import Report
from bot.stats.render import CELL_WIDTH, LABEL_WIDTH
from bot.stats.tables import StatsView
from tests.conftest import Harness, buttons, texts
from tests.test_stats_aggregate import report

ANNA = 3001  # coordinator of Solvik
BERIT = 3002  # member of Solvik
CARL = 3003  # coordinator of Region Norrmark
DORA = 3004  # the national role
EVA = 3005  # nobody

TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)
REFUSAL = "Det kommandot är för säkerhetssamordnare."


@dataclass
class Drawn:
    charts: list[StatsView] = field(default_factory=list)
    workbooks: list[tuple[StatsView, Sequence[Report] | None]] = field(default_factory=list)


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> Drawn:
    """A tiny chart instead of matplotlib's, and the workbooks' contents recorded."""
    record = Drawn()
    original = stats.xlsx_bytes

    def chart(view: StatsView, lang: str) -> bytes:
        record.charts.append(view)
        return TINY_PNG

    def workbook(view: StatsView, reports: Sequence[Report] | None, lang: str) -> bytes:
        record.workbooks.append((view, reports))
        return original(view, reports, lang)

    monkeypatch.setattr(stats, "render_chart", chart)
    monkeypatch.setattr(stats, "xlsx_bytes", workbook)
    return record


def row(said: str, label: str) -> list[str]:
    """The cells of the first table line that starts with `label` (fixed-width columns)."""
    for line in said.splitlines():
        if line.startswith(label + " "):
            rest = line[LABEL_WIDTH:]
            return [rest[i : i + CELL_WIDTH].strip() for i in range(0, len(rest), CELL_WIDTH)]
    raise AssertionError(f"no line {label!r}")


def of(calls: list[Call], method: str) -> list[Call]:
    return [c for c in calls if c.method == method]


async def seed(harness: Harness) -> None:
    db = harness.services.db
    now = harness.clock()
    for month, kind in [("2026-03", "hot")] * 6 + [("2026-05", "nathat")] * 4:
        await db.submit_report(report("solvik", month, type=kind), None, [], 1, now)
    await db.submit_report(report("solvik", "2026-06", type="vald"), None, [], 1, now)
    for _ in range(3):
        await db.submit_report(report("region-norrmark", "2026-04"), None, [], 1, now)


async def test_a_coordinator_gets_the_text_the_chart_and_the_workbook(
    harness: Harness, drawn: Drawn
) -> None:
    await seed(harness)
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    calls = await harness.send(ANNA, "/statistik")
    said = "\n".join(texts(calls))
    assert "Statistik – Solviks kommun (fiktiv)" in said
    assert "Rapporter: 11 (12 mån) · 11 (I år)" in said
    assert row(said, "Hot") == ["6", "6"]
    assert row(said, "Våld") == ["<3", "<3"]
    assert row(said, "Polisanmält") == ["<3", "<3"]  # its share is not shown either
    assert row(said, "Avstod fråga/uttalande") == ["100 %", "100 %", "25 %"]
    assert "PTU (Brå)" in said and "17 %" in said
    assert "bra.se/ptu" in said
    [photo] = of(calls, "sendPhoto")
    assert photo.params["photo"]["filename"] == "statistik.png"
    assert "Statistik för Solviks kommun (fiktiv), 2025-12 – 2026-11." in photo.result["caption"]
    [view] = drawn.charts
    assert view.org_id == "solvik" and view.total(view.windows[0]).value == 11
    assert buttons(calls) == [("📥 Excel-fil", callbacks.stats("xlsx"))]

    calls = await harness.press(ANNA, callbacks.stats("xlsx"))
    [document] = of(calls, "sendDocument")
    assert document.params["document"]["filename"] == "statistik.xlsx"
    assert "en per rad, utan beskrivningar" in document.result["caption"]
    [(view, reports)] = drawn.workbooks
    assert reports is not None and {r.org_id for r in reports} == {"solvik"}
    assert len(reports) == 11


async def test_the_english_alias_and_labels(harness: Harness, drawn: Drawn) -> None:
    await seed(harness)
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet", language_code="en")
    said = "\n".join(texts(await harness.send(ANNA, "/stats", language_code="en")))
    assert "Statistics – Solviks kommun (fiktiv)" in said
    assert "Reports: 11 (12 mo) · 11 (YTD)" in said
    assert "Threat" in said and "Share of the reports, beside PTU (Brå)" in said


async def test_members_and_strangers_are_refused(harness: Harness, drawn: Drawn) -> None:
    await seed(harness)
    await harness.join(BERIT, "solvik")
    for user, command in ((BERIT, "/statistik"), (EVA, "/stats")):
        calls = await harness.send(user, command)
        assert texts(calls) == [REFUSAL]
        assert of(calls, "sendPhoto") == []
    calls = await harness.press(BERIT, callbacks.stats("xlsx"))
    assert texts(calls) == [REFUSAL]
    assert of(calls, "sendDocument") == [] and drawn.workbooks == []


async def test_a_coordinator_of_another_organisation_sees_nothing_of_this_one(
    harness: Harness, drawn: Drawn
) -> None:
    await seed(harness)
    await harness.join(CARL, "region-norrmark", role="coordinator", contact="samordnare")
    said = "\n".join(texts(await harness.send(CARL, "/statistik")))
    assert "Region Norrmark" in said and "Solvik" not in said
    assert "Rapporter: 3 (12 mån) · 3 (I år)" in said
    assert [v.org_id for v in drawn.charts] == ["region-norrmark"]
    await harness.press(CARL, callbacks.stats("xlsx"))
    [(view, reports)] = drawn.workbooks
    assert view.org_id == "region-norrmark"
    assert reports is not None and {r.org_id for r in reports} == {"region-norrmark"}


async def test_the_national_role_sees_all_organisations_but_never_a_report(
    harness: Harness, drawn: Drawn
) -> None:
    await seed(harness)
    calls = await harness.join(DORA, NATIONAL_ORG, role="national")
    said = "\n".join(texts(calls))
    assert "nationella rollen" in said
    assert "nationella kontakter" in said  # /kontakt: the national contacts
    scoped = [c for c in calls if c.method == "setMyCommands" and "scope" in c.params]
    names = {cmd["command"] for c in scoped for cmd in c.params["commands"]}
    assert {"statistik", "stats", "kontakt"} <= names and "arenden" not in names
    said = "\n".join(texts(await harness.send(DORA, "/statistik")))
    assert "Statistik – Alla organisationer" in said
    assert "Rapporter: 14 (12 mån) · 14 (I år)" in said
    assert "Per organisation" in said
    assert "Solviks kommun (fiktiv)" in said and "Region Norrmark" in said
    [view] = drawn.charts
    assert view.org_id is None and len(view.organisations) == 2
    calls = await harness.press(DORA, callbacks.stats("xlsx"))
    [document] = of(calls, "sendDocument")
    assert "utan enskilda rapporter" in document.result["caption"]
    [(view, reports)] = drawn.workbooks
    assert reports is None

    said = "\n".join(texts(await harness.send(DORA, "/start")))
    assert "nationella rollen" in said


async def test_a_national_invite_asks_before_leaving_an_organisation(
    harness: Harness, drawn: Drawn
) -> None:
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    code = await harness.invite(NATIONAL_ORG, "national")
    calls = await harness.send(ANNA, f"/start {code}")
    assert "Alla organisationer" in "\n".join(texts(calls))
    [yes, _] = buttons(calls)
    await harness.press(ANNA, yes[1])
    membership = await harness.services.db.get_membership(ANNA)
    assert membership is not None and membership.role == "national"
    assert membership.org_id == NATIONAL_ORG


async def test_the_chart_is_a_real_picture(harness: Harness) -> None:
    await seed(harness)
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    [photo] = of(await harness.send(ANNA, "/statistik"), "sendPhoto")
    assert photo.params["photo"]["size"] > 30_000


async def test_too_few_reports_are_one_sentence_without_a_chart(
    harness: Harness, drawn: Drawn
) -> None:
    db = harness.services.db
    await db.submit_report(report("solvik", "2026-05"), None, [], 1, harness.clock())
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    calls = await harness.send(ANNA, "/statistik")
    said = texts(calls)
    assert said == [
        "För få rapporter för statistik ännu: färre än 3 de senaste 12 månaderna, och så små"
        " tal kan peka ut någon."
    ]
    assert of(calls, "sendPhoto") == [] and drawn.charts == []
    english = texts(await harness.send(ANNA, "/stats", language_code="en"))
    assert len(english) == 1 and english[0].startswith("Too few reports for statistics yet")
    # With none at all, the same one sentence.
    await harness.join(CARL, "region-norrmark", role="coordinator", contact="samordnare")
    assert texts(await harness.send(CARL, "/statistik"))[0].startswith("För få rapporter")
