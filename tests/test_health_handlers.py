"""/halsa and /kort through the real handlers on the recording transport."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest

from bot.devchat.transport import Call
from bot.handlers import health
from bot.handlers.commands import menu
from bot.health.gaps import OrgHealth
from tests.conftest import Harness, texts

ANNA = 2001
BERIT = 2002
CARL = 2003

# The smallest valid PNG: the handler tests are about the chat, the pictures have their own tests.
TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000050001"
    "0d0a2db40000000049454e44ae426082"
)


def photos(calls: list[Call]) -> list[Call]:
    return [c for c in calls if c.method == "sendPhoto"]


@pytest.fixture
def quick_heatmap(monkeypatch: pytest.MonkeyPatch) -> list[OrgHealth]:
    """Replace the heatmap with a tiny PNG and record the reports it was asked to draw."""
    drawn: list[OrgHealth] = []

    def fake(report: OrgHealth, lang: str) -> bytes:
        drawn.append(report)
        return TINY_PNG

    monkeypatch.setattr(health, "render_heatmap", fake)
    return drawn


async def test_a_routine_without_gaps_is_one_line_and_no_picture(harness: Harness) -> None:
    await harness.join(ANNA, "solvik", role="coordinator", contact="sakerhet")
    calls = await harness.send(ANNA, "/halsa")
    said = "\n".join(texts(calls))
    assert "Solviks kommun (fiktiv) – rutinens hälsa" in said
    assert "Alla 13 situationer har alltid någon av era egna kontakter att nå" in said
    assert "alltid någon att nå" not in said and said.count("\n") <= 7
    assert "Granskning: nästa senast 2027-09-01." in said
    assert "Alla mottagare av rapporter och rutinens ägare har en registrerad samordnare." in said
    assert "Kontakter utan telefon och e-post: Ditt partis säkerhetsansvarige (partiet)" in said
    assert photos(calls) == []


async def test_a_routine_with_gaps_gets_them_listed_and_drawn(
    harness: Harness, quick_heatmap: list[OrgHealth]
) -> None:
    fixture = Path(__file__).parent / "fixtures" / "health" / "luckby.yaml"
    shutil.copy(fixture, harness.routines / "luckby.yaml")
    await asyncio.to_thread(harness.services.registry.reload)
    await harness.join(ANNA, "luckby", role="coordinator", contact="kontor")
    calls = await harness.send(ANNA, "/halsa")
    said = "\n".join(texts(calls))
    assert "• Bara kontorstid: 128 h i veckan utan kontakt" in said
    assert "• Övriga situationer (1): alltid någon att nå" in said
    assert "Akut fara" not in said
    [drawn] = quick_heatmap  # only the situations with gaps
    assert "akut" not in [s.id for s in drawn.situations] and len(drawn.situations) == 4
    [photo] = photos(calls)
    upload = photo.params["photo"]
    assert upload["upload"] is True and upload["filename"] == "rutinens-halsa.png"
    assert "Rött = ingen av era egna kontakter går att nå" in photo.result["caption"]


async def test_unregistered_contacts_before_and_after_a_coordinator_joins(
    harness: Harness, quick_heatmap: list[OrgHealth]
) -> None:
    await harness.join(
        ANNA, "region-norrmark", role="coordinator", contact="tib", language_code="en"
    )
    said = "\n".join(texts(await harness.send(ANNA, "/health", language_code="en")))
    assert (
        "Receiving contacts without a registered coordinator: Security coordinator for elected "
        "officials (samordnare), Head of security (sakerhetschef)"
    ) in said

    await harness.join(BERIT, "region-norrmark", role="coordinator", contact="samordnare")
    said = "\n".join(texts(await harness.send(ANNA, "/health", language_code="en")))
    assert "without a registered coordinator: Head of security (sakerhetschef)" in said


async def test_the_review_shows_as_overdue_on_the_due_date(
    harness: Harness, quick_heatmap: list[OrgHealth]
) -> None:
    await harness.join(ANNA, "region-norrmark", role="coordinator", contact="samordnare")
    harness.clock.moment = harness.clock.moment.replace(year=2027, month=2, day=15)
    said = "\n".join(texts(await harness.send(ANNA, "/halsa")))
    assert "⚠️ Granskning: skulle göras senast 2027-02-15. Rutinen ska ses över nu." in said


async def test_members_and_strangers_cannot_ask_for_the_health(harness: Harness) -> None:
    await harness.join(BERIT, "solvik")
    calls = await harness.send(BERIT, "/halsa")
    assert texts(calls) == ["Det kommandot är för säkerhetssamordnare."]
    assert photos(calls) == []
    calls = await harness.send(CARL, "/health")
    assert texts(calls) == ["Det kommandot är för säkerhetssamordnare."]


async def test_a_member_gets_the_card_and_it_is_cached_until_the_routine_changes(
    harness: Harness,
) -> None:
    await harness.join(BERIT, "solvik")
    before = health.CARDS.stored
    [photo] = photos(await harness.send(BERIT, "/kort"))
    assert photo.params["photo"]["filename"] == "kontaktkort.png"
    size = photo.params["photo"]["size"]
    assert size > 50_000
    caption = photo.result["caption"]
    assert "Kontaktkortet för Solviks kommun (fiktiv), ur rutinen granskad 2026-09-01." in caption
    assert "Vid akut fara: ring 112." in caption
    assert health.CARDS.stored == before + 1

    [again] = photos(await harness.send(BERIT, "/kort"))  # cached: no new drawing
    assert again.params["photo"]["size"] == size
    assert health.CARDS.stored == before + 1

    path = harness.routines / "solvik.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("070-174 06 12", "070-174 06 99"),
        encoding="utf-8",
    )
    await asyncio.to_thread(harness.services.registry.reload)
    [changed] = photos(await harness.send(BERIT, "/kort"))
    assert health.CARDS.stored == before + 2
    assert changed.params["photo"]["size"] != size


async def test_a_non_member_gets_the_national_card_and_how_to_join(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    asked: list[tuple[str, Any]] = []

    def fake(card: Any) -> Any:
        asked.append((card.title, card.lang))
        from bot.health.card import RenderedCard

        return RenderedCard(TINY_PNG, ())

    monkeypatch.setattr(health, "render_card", fake)
    monkeypatch.setattr(health, "CARDS", health.CardCache())
    [photo] = photos(await harness.send(CARL, "/card", language_code="en"))
    assert asked == [("National contacts", "en")]
    assert "Ask your security coordinator for an invite link" in photo.result["caption"]


def test_the_menus() -> None:
    member = [c.command for c in menu("sv", coordinator=False)]
    coordinator = [c.command for c in menu("en", coordinator=True)]
    assert "kort" in member and "halsa" not in member
    assert "card" in coordinator and "health" in coordinator
