"""Triage of plain messages: the phrasings a frightened official actually writes."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.routines.models import Situation, Step, Text
from bot.routines.triage import Triage, TriageIndex, index_for, triage


def _situation(
    sid: str, sv: str, en: str, sv_words: str, en_words: str, urgent: bool = False
) -> Situation:
    """A situation as the loader builds it; match entries are separated by commas."""

    def split(words: str) -> tuple[str, ...]:
        return tuple(w.strip() for w in words.split(",") if w.strip())

    return Situation(
        id=sid,
        title=Text({"sv": sv, "en": en}, "sv"),
        steps=(Step(contact="national.112"),),
        urgent=urgent,
        match={"sv": split(sv_words), "en": split(en_words)},
    )


# The 13 situations of DOMAIN.md, in its order, with match words a routine file would have.
SITUATIONS: tuple[Situation, ...] = (
    _situation(
        "akut",
        "Akut fara",
        "Immediate danger",
        "kniv, vapen, följer efter mig, står utanför, slår mig, tar sig in",
        "knife, weapon, outside my door, following me right now",
        urgent=True,
    ),
    _situation(
        "hot",
        "Jag har fått ett hot (mejl, brev, sms, samtal)",
        "I have received a threat",
        "hot, hotad, hotelse, hotfull, hotbrev, hotmejl, dödshot, mordhot, hotsamtal, hotar, "
        "ska döda dig, vet var du bor",
        "threat, threatened, threatening, death threat, kill you",
    ),
    _situation(
        "nathat",
        "Hat och trakasserier på nätet",
        "Online hate and harassment",
        "näthat, nätet, trakasserier, trakasserad, kränkningar, sociala medier, facebook, "
        "instagram, twitter, kommentarer, skriver om mig, drev, förtal, hatstorm, troll",
        "online hate, harassment, harassed, trolling, social media, comments",
    ),
    _situation(
        "forfoljelse",
        "Någon följer efter mig eller kartlägger mig",
        "Someone follows or maps me",
        "förföljer, förföljd, förföljelse, följt efter, följde efter, kartlägger, kartläggning, "
        "spanar, stalkar, bevakar, smygfotograferar, står och väntar",
        "stalking, stalker, following me, followed me, watching my house",
    ),
    _situation(
        "narstaende",
        "Hot mot mina närstående",
        "Threats against my family",
        "närstående, familj, familjen, barn, barnen, mina barn, make, maka, fru, sambo, partner, "
        "föräldrar, dotter, son, hotar mina barn, hot mot familjen",
        "family, children, kids, spouse, wife, husband",
    ),
    _situation(
        "skadegorelse",
        "Skadegörelse, stöld eller klotter",
        "Vandalism, theft, graffiti",
        "skadegörelse, klotter, klottrat, vandalisering, vandaliserad, sönder, krossad, "
        "krossat fönster, stöld, stulen, stulit, inbrott, repat, punkterat, sprayat",
        "vandalism, vandalised, vandalized, graffiti, theft, stolen, broken window, burglary",
    ),
    _situation(
        "forsandelse",
        "Misstänkt försändelse",
        "Suspicious letter or parcel",
        "försändelse, paket, pulver, kuvert, konstigt paket, misstänkt paket, vitt pulver, "
        "konstig lukt",
        "parcel, package, envelope, powder, suspicious letter",
    ),
    _situation(
        "sexuella",
        "Sexuella trakasserier",
        "Sexual harassment",
        "sexuella, sexuellt, tafsade, tafsar, ofredande, sexuella trakasserier, "
        "oönskad beröring, nakenbilder",
        "sexual harassment, groped, sexual comments, unwanted advances",
    ),
    _situation(
        "paverkan",
        "Otillåten påverkan eller mutförsök",
        "Undue influence or bribery",
        "påverkan, otillåten påverkan, muta, mutor, mutförsök, bestickning, pengar, erbjöd mig, "
        "påtryckningar, rösta ja, rösta nej, utpressning, gentjänst",
        "bribe, bribery, undue influence, pressure, blackmail",
    ),
    _situation(
        "oro",
        "Jag är orolig",
        "I am worried",
        "orolig, oro, rädd, ängslig, otrygg, mår dåligt, ångest, obehag",
        "worried, anxious, afraid, scared, unsafe",
    ),
    _situation(
        "infor_mote",
        "Inför ett möte, en debatt eller en resa",
        "Before a meeting, debate or trip",
        "möte, mötet, debatt, debatten, fullmäktige, offentligt möte, resa, resan, valvaka, "
        "torgmöte, valstuga, kampanj, evenemang, manifestation",
        "meeting, debate, trip, travel, event, rally, campaign",
    ),
    _situation(
        "efter",
        "Efter en händelse",
        "After an incident",
        "händelse, hände, inträffade, polisanmäla, polisanmälan, anmälan, efteråt, krisstöd, "
        "samtalsstöd, prata med någon",
        "afterwards, incident, police report, happened, support",
    ),
    _situation(
        "skydda",
        "Skydda min adress och mina uppgifter",
        "Protect my address and details",
        "skydda, skyddade personuppgifter, adress, adressen, personuppgifter, hemlig adress, "
        "sekretessmarkering, folkbokföring, doxning, doxad",
        "address, protect my address, personal details, doxxing, doxxed",
    ),
)


def _ids(result: Triage) -> list[str]:
    return [s.id for s in result.candidates]


def _best(text: str, lang: str = "sv") -> str | None:
    result = triage(text, SITUATIONS, lang)
    assert not result.acute, (text, result.scores)
    return result.best.id if result.best else None


def test_the_situations_match_the_domain() -> None:
    assert [s.id for s in SITUATIONS] == [
        "akut", "hot", "nathat", "forfoljelse", "narstaende", "skadegorelse", "forsandelse",
        "sexuella", "paverkan", "oro", "infor_mote", "efter", "skydda",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Jag fick ett hotfullt mejl i natt", "hot"),
        ("Han hotade mig efter mötet i fullmäktige och sa att han ska döda dig", "hot"),
        ("Jag har fått ett dödshot", "hot"),
        ("någon skriver hemska saker om mig på facebook", "nathat"),
        ("Näthatet mot mig har blivit värre", "nathat"),
        ("en bil har följt efter mig tre dagar", "forfoljelse"),
        ("jag tror att någon kartlägger mig", "forfoljelse"),
        ("de hotar mina barn", "narstaende"),
        ("någon har klottrat på mitt hus", "skadegorelse"),
        ("bilen vandaliserad", "skadegorelse"),
        ("ett konstigt paket med pulver", "forsandelse"),
        ("han tafsade på mig", "sexuella"),
        ("någon erbjöd mig pengar för att rösta ja", "paverkan"),
        ("Min adress har publicerats, kan jag få skyddade personuppgifter?", "skydda"),
        ("Vad gör jag nu efter händelsen igår?", "efter"),
    ],
)
def test_swedish_phrasings(text: str, expected: str) -> None:
    assert _best(text) == expected


def test_worry_before_a_debate_offers_both() -> None:
    result = triage("jag är orolig inför debatten", SITUATIONS, "sv")
    assert not result.acute
    assert {"oro", "infor_mote"} <= set(_ids(result))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("trakaserier på nätet", "nathat"),  # missing s
        ("jag blir trakaserad", "nathat"),
        ("han forföljer mig", "forfoljelse"),  # o for ö
        ("skadegörlse på partilokalen", "skadegorelse"),
        ("HOTFULLT MEJL!!!", "hot"),
        ("fick ett hotfullt mejl 😡😡", "hot"),
        ("naringslivet erbjod mig pengar", "paverkan"),  # no diacritics at all
        ("I got a threatend email", "hot"),
    ],
)
def test_typos_case_and_diacritics(text: str, expected: str) -> None:
    assert _best(text) == expected


def test_short_typos_are_not_guessed() -> None:
    # One typo in a 4-letter word is another word: no confident answer, and no crash.
    result = triage("hoot", SITUATIONS, "sv")
    assert result.best is None
    assert not result.acute


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I received a threatening email", "hot"),
        ("he followed me home from the meeting", "forfoljelse"),
        ("my car was vandalised last night", "skadegorelse"),
        ("they threatened my children", "narstaende"),
    ],
)
def test_english(text: str, expected: str) -> None:
    assert _best(text, "en") == expected


def test_mixed_languages() -> None:
    assert _best("fick ett threatening mejl", "sv") == "hot"


@pytest.mark.parametrize(
    "text",
    [
        "det står en man utanför mitt hus med en kniv",
        "Han har en KNIV",
        "någon följer efter mig",
        "det brinner i partilokalen",
        "han slår mig",
        "någon försöker ta sig in, hjälp nu",
        "there is a man with a gun outside",
        "someone is breaking in",
        "han hotar mig med ett vapen",  # acute wins over the threat
        "knivhuggen",
        "det luktar bränt och brinnr",  # typo
    ],
)
def test_acute(text: str) -> None:
    result = triage(text, SITUATIONS, "sv")
    assert result.acute
    assert result.best is not None and result.best.id == "akut"
    assert result.candidates[0].id == "akut"


def test_built_in_acute_words_work_without_match_words() -> None:
    bare = tuple(dataclasses.replace(s, match={}) if s.urgent else s for s in SITUATIONS)
    for text in ("han har en kniv", "det står någon utanför dörren", "I see a gun"):
        result = triage(text, bare, "sv")
        assert result.acute, text
        assert result.best is not None and result.best.id == "akut"


def test_acute_without_an_urgent_situation() -> None:
    calm = tuple(s for s in SITUATIONS if not s.urgent)
    result = triage("han har en kniv", calm, "sv")
    assert result.acute
    assert all(not s.urgent for s in result.candidates)


@pytest.mark.parametrize(
    "text",
    [
        "jag sitter i arbetsutskottet",
        "vi måste skjuta upp mötet",
        "jag brinner för skolfrågor",
        "det var en knivig fråga i fullmäktige",
        "kan du skjutsa mig till mötet?",
        "en följd av beslutet",
        "jag blev uppsagd, fired",
        "här är en screenshot av kommentarerna",
        "vi har en vapenvila i partiet",
        "jag fick en panikattack",
    ],
)
def test_harmless_words_are_not_acute(text: str) -> None:
    assert not triage(text, SITUATIONS, "sv").acute


def test_past_tense_following_is_stalking_not_acute() -> None:
    result = triage("han följde efter mig hem i förra veckan", SITUATIONS, "sv")
    assert not result.acute
    assert result.best is not None and result.best.id == "forfoljelse"


@pytest.mark.parametrize(
    "text", ["", "   ", "😱😱😱", "🙏", "!!!???", "<b>hej</b>", "שלום עולם", "\x00\x07\u202e\ud800"]
)
def test_nothing_to_go_on(text: str) -> None:
    result = triage(text, SITUATIONS, "sv")
    assert result == Triage(False, None, (), {})


def test_unsure_gives_up_to_three_candidates_best_first() -> None:
    # A threat by mail about the family and a meeting: several situations fit.
    result = triage("hot mot familjen inför mötet", SITUATIONS, "sv")
    assert result.best is None or result.best is result.candidates[0]
    assert 1 <= len(result.candidates) <= 3
    scores = [result.scores[s.id] for s in result.candidates]
    assert scores == sorted(scores, reverse=True)


def test_phrases_accept_inflections_but_acute_phrases_keep_their_tense() -> None:
    akut = _situation("akut", "Akut fara", "Immediate danger", "följer efter mig", "", True)
    stalk = _situation("stalk", "Förföljelse", "Stalking", "följer efter", "")
    past = triage("han följde efter mig", (akut, stalk), "sv")
    assert not past.acute
    assert past.best is stalk
    assert triage("han följer efter mig", (akut, stalk), "sv").acute


def test_ties_follow_file_order() -> None:
    a = _situation("a", "Alfa", "Alpha", "banan", "")
    b = _situation("b", "Beta", "Beta", "banan", "")
    result = triage("banan", (a, b), "sv")
    assert result.best is None
    assert _ids(result) == ["a", "b"]
    assert _ids(triage("banan", (b, a), "sv")) == ["b", "a"]


def test_a_clear_winner_is_confident() -> None:
    result = triage("paket", SITUATIONS, "sv")
    assert result.best is not None and result.best.id == "forsandelse"
    assert result.candidates[0] is result.best


@pytest.mark.parametrize(
    "text",
    [
        "räddningstjänsten kom till kommunhuset",  # "rädd" inside, not at the end
        "jag bor på hotell",  # "hot" at the start of another word
        "vi röstade mot förslaget",  # "mot" is not "möt(e)" without its ring
        "Anders Andersson är en trevlig person",
    ],
)
def test_fragments_of_other_words_are_not_answers(text: str) -> None:
    assert _best(text) is None


def test_a_typo_counts_for_the_closest_word_only() -> None:
    # "trakaserad" is closest to nathat's "trakasserad", not to the title "Sexuella trakasserier".
    result = triage("jag blir trakaserad", SITUATIONS, "sv")
    assert list(result.scores) == ["nathat"]


def test_html_and_markup_are_words() -> None:
    assert _best("<b>ett konstigt paket</b> med <i>pulver</i>") == "forsandelse"


def test_long_message_is_handled() -> None:
    filler = "Det här är en lång berättelse om hur kommunen fungerar och vad vi gör. "
    text = (filler * 80)[:4000] + " Nu står han utanför med en kniv."
    assert len(text) <= 4096
    result = triage(text, SITUATIONS, "sv")
    assert result.acute  # acute words at the very end are still seen


def test_very_long_and_odd_inputs_do_not_raise() -> None:
    for text in ("a" * 100_000, "hot" * 5000, "ö" * 4096, "x y " * 50_000, "\n" * 4096):
        assert isinstance(triage(text, SITUATIONS, "sv"), Triage)


def test_index_is_cached_per_list() -> None:
    assert index_for(SITUATIONS) is index_for(SITUATIONS)
    assert index_for(list(SITUATIONS)) is index_for(SITUATIONS)  # same objects
    assert index_for(SITUATIONS[:3]) is not index_for(SITUATIONS)


def test_index_can_be_used_directly() -> None:
    index = TriageIndex(SITUATIONS)
    result = index.triage("Jag fick ett hotfullt mejl i natt", "sv")
    assert result.best is not None and result.best.id == "hot"
    assert result.scores["hot"] > 0


def test_empty_situation_list() -> None:
    assert triage("hot", (), "sv") == Triage(False, None, (), {})
    assert triage("kniv", (), "sv").acute


def test_unknown_user_language() -> None:
    assert _best("Jag fick ett hotfullt mejl i natt", "de") == "hot"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_never_raises(text: str) -> None:
    result = triage(text, SITUATIONS, "sv")
    assert len(result.candidates) <= 3
    assert (result.best is None) or (result.best in result.candidates)
