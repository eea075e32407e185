"""Triage a free-text message to the situation(s) of a routine.

A frightened official rarely taps through a menu: they write "någon följer efter mig" or "I got
a threatening email". This module maps such a message to the routine's situations, offline and
deterministically, using the `match` words and titles that the routine file already has.

How a word of the message meets a word of a situation, strongest first:

1. **exact**: the word or one of its Snowball stems (Swedish and English: people mix) equals a
   form of the situation's word, so "hotad", "hotade", "hotet" and "hoten" all meet "hot";
2. **folded**: the same after removing diacritics, for phones without å/ä/ö ("forfoljer");
3. **compound**: Swedish writes compounds as one word ("dödshot", "hotmejlet", "näthatet"), so
   a form of 6 letters or more is found anywhere inside a longer word, one of 4 or 5 letters as
   its last part (the head, as "mejl" in "hotmejlet"), and a 3-letter word only joined to another
   known word ("hot" + "mejl"): short fragments elsewhere are mostly noise ("hot" in "hotell",
   "rädd" in "räddningstjänsten");
4. **fuzzy**: a typo within a `rapidfuzz` ratio of 85 ("trakaserad", "skadegörlse",
   "threatend"), only for words of 5 letters or more: in shorter words one typo is another word.

Multi-word entries ("följer efter mig", "står utanför") are phrases: every word must be there, in
order, with at most two other words in between. A word of a phrase may be inflected ("följt
efter" meets "följer efter": level 3), except in acute phrases: they describe what happens now,
so their words must be as written (exact or folded), and the Snowball stems tell the present
"följer" ("följ") from the past "följt" and "följde".

Acute danger is checked first and wins over everything. Its words are a built-in list (Swedish and
English, so a routine file with an empty acute situation still catches "kniv") plus the `match`
words of every `urgent` situation. **Safety first: a false acute is preferred over a missed one**:
the acute answer only says to call 112, while a missed one may cost a life. So acute words match
with the same tolerance as other words (inflections, compounds, typos) and negation ("ingen kniv")
is not handled. Only a short list of common harmless words is kept out ("arbetsutskott" holds
"skott", "skjuta upp" a meeting, "brinner för" a cause, "vapenvila").

Danger also shows in ways the index cannot see, checked on the whole message: an emoji of a
weapon, fire or explosion (🔪🔥💣🔫), a message that is only a cry for help ("hjälp", "Hjälp!!",
"help me", "SOS"), and a weapon typed one letter off ("knvi", "nife"). Words of acute phrases of
6 letters or more also meet a typo ("folowing", "brytter"), and dialect or phone spellings are
read as the standard word ("mej", "nån", "hes"). English acute phrases are matched as written,
since English stems join tenses ("followed me" is not "following me"). The corpus in
tests/fixtures/triage/corpus.yaml measures all this: danger recall 100%, false alarms under 5%.

Speed: an index is built once per list of situations (`TriageIndex`, about 10 ms for the 13
situations of a routine; `index_for` caches them) and the analysis of each distinct word is
cached. Measured with timeit while developing: a short message takes about 0.1 ms (0.6 ms when
its words are new), a 4096-character message 2-4 ms (25 ms when its words are new). Work is
capped (characters, words, fuzzy look-ups), and `triage` never raises on any string.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
import unicodedata
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.i18n import SPOKEN
from bot.routines.models import Situation

__all__ = ["Triage", "TriageIndex", "index_for", "triage"]

log = logging.getLogger(__name__)

# Levels of a word match (see the module docstring); phrases need COMPOUND (acute: FOLDED).
EXACT = 1.0
FOLDED = 0.9
COMPOUND = 0.8
FUZZY = 0.7

TITLE_WEIGHT = 0.6  # a title word is weaker evidence than a word chosen for `match`
OTHER_LANGUAGE = 0.85  # a word of another language than the user's counts a little less
PHRASE_BONUS = 0.5  # each extra word of a phrase adds this much: phrases are specific
PHRASE_SLACK = 2  # words allowed between the words of a phrase

# A confident single answer must reach FLOOR (one title word, or one mistyped `match` word) and
# beat the second both by MARGIN and by RATIO: "hot" (1.0) beats a title's "hot" (0.6), and one
# more word of the same situation beats one word of another (1.0 + 0.48 against 1.0).
FLOOR = 0.6
MARGIN = 0.2
RATIO = 1.4
TOP = 3  # candidates offered when unsure

MIN_FOLDED = 4  # shortest folded form matched: short words collide (mot/möt, har/här)
MIN_SUBSTRING = 4  # shortest form found inside a longer word
ANYWHERE = 6  # a form this long is found anywhere in a word; a shorter one only at its end...
MAX_ENDING = 4  # ...followed by at most this many letters of ending ("-arna", "-et")
MIN_FOLDED_SUBSTRING = 5  # folded forms are more ambiguous ("blöd" -> "blod" in "blodtryck")
MIN_FUZZY = 5  # shortest word given typo tolerance
FUZZY_CUTOFF = 85.0  # ratio: one missing/extra letter from 5 letters, one swap from 7 letters
MAX_CHARS = 10_000  # Telegram messages are at most 4096 characters
MAX_WORDS = 1000  # positions considered (a 4096-character message has about 700 words)
MAX_WORD_LENGTH = 40  # longer "words" are URLs or keyboard mashing
MAX_FUZZY_WORDS = 300  # distinct words of one message given a fuzzy look-up
ACUTE_FUZZY_MIN = 6  # shortest word of an acute phrase that meets a typo

_TOKEN = re.compile(r"[^\W\d_]+")  # runs of letters; digits, emoji, markup and controls split
_RUN = re.compile(r"(.)\1{2,}")  # a letter held down: "hjälppp", "kniiiv"

# Built-in acute words: danger that is happening now. Phrases are several words.
_ACUTE_SV = (
    "akut", "akuten", "livsfara", "nödläge", "hjälp nu", "i fara", "rädd för mitt liv",
    # weapons and explosives
    "kniv", "knivhugg", "knivhuggen", "vapen", "vapnet", "pistol", "gevär", "skjutvapen",
    "yxa", "yxan", "machete", "slagträ", "basebollträ", "hammare", "järnrör",
    "skjuta", "skjuter", "skjutit", "skjuten", "skott", "skottlossning", "bomb", "sprängämne",
    "sprängladdning", "handgranat", "granat", "brandbomb", "sköt mot", "sköt på", "skjuter mot",
    # fire
    "brand", "brinner", "brinnande", "brann", "eld", "häller bensin", "luktar bensin",
    # killing and violence happening now
    "döda mig", "döda oss", "mörda mig", "mörda oss", "skjuta mig", "livet av mig",
    "slår mig", "slog mig", "misshandlar", "attackerad", "attackerar", "angriper mig",
    "blir slagen", "strypa", "stryper", "strypgrepp", "håller fast mig", "slåss",
    "kastar sten", "kastade sten", "kastar på mig", "kastade på mig", "knivhögg",
    "blöder", "blödning", "skada mig", "skada oss", "döda mina", "döda min", "ring polisen",
    "inlåst", "låst in mig", "gömmer mig", "siktar på mig", "slagit mig",
    "kör efter mig", "krossar fönstret", "krossar rutan", "krossade rutan", "krossade fönstret",
    "och är inne", "är inne i huset", "ryker", "full av rök",
    # someone there, now
    "står utanför", "utanför huset", "utanför dörren", "utanför mitt hus", "utanför min dörr",
    "han är utanför", "hon är utanför", "de är utanför", "någon är utanför",
    "han är här", "hon är här", "de är här", "någon är här", "hittat mig",
    "står och tittar", "tittar in genom", "knackar på fönstret", "smyger runt",
    "någon på min tomt", "någon i trädgården", "någon i mitt hus", "någon inne i huset",
    "någon i min lägenhet", "väntar utanför", "följer efter", "förföljer nu", "blir förföljd",
    "väntar på mig", "står i trapphuset", "nu i trapphuset",
    # breaking in
    "tar sig in", "ta sig in", "tagit sig in", "bryter sig in", "bryta sig in", "inbrott pågår",
    "bankar på dörren", "bankar på", "sparkar på dörren", "sparkar in", "bryta upp",
    "rycker i dörren", "försöker komma in", "på väg in", "försöker ta sig in", "slår på dörren",
    "bultar på dörren", "hamrar på dörren",
)  # fmt: skip
_ACUTE_EN = (
    "emergency", "help now", "in danger", "fear for my life",
    "knife", "knives", "gun", "guns", "gunman", "shotgun", "handgun", "rifle",
    "weapon", "weapons", "shooting", "shoot", "bomb", "explosive", "explosives", "grenade",
    "machete", "baseball bat", "axe",
    "kill me", "kill us", "murder me", "shoot me",
    "attacking me", "attacked me", "under attack", "hitting me", "beating me", "hit me",
    "being attacked", "choking me", "strangling me", "fighting", "throwing stones",
    "bleeding", "on fire", "set fire", "poured petrol", "pouring petrol", "petrol on",
    "outside my house", "outside my door", "outside my home", "waiting outside",
    "standing outside", "he is outside", "she is outside", "they are outside", "he s outside",
    "someone outside", "somebody outside", "he is here", "she is here", "they are here",
    "he s here", "found me", "through the window", "someone in my garden",
    "someone in my house", "someone in my home", "someone in my flat",
    "following me", "is following",
    "breaking in", "broke in", "break in", "trying to get in", "kicking the door",
    "broke into", "broken into", "breaking into", "break into", "hurt me", "kill my",
    "chasing me", "smashed my window", "is inside", "hiding from", "i am hiding",
    "smoke everywhere", "full of smoke", "at my door", "at the door with", "with a bat",
    "aiming at me",
    "banging on the door",
)  # fmt: skip
# Emoji that stand for a weapon, fire, an explosion or a call for help: a frightened person may
# send nothing else.
_ACUTE_EMOJI = frozenset("🔪🗡🔫🔥💣🧨💥🆘🩸🚨")
# A message that is only a cry for help ("hjälp", "Hjälp!!", "help me", "SOS"), however typed.
_CRY_FOR_HELP = re.compile(
    r"^[\W_]*(?:(?:h+j+[äa]+l+p+|h+e+l+p+|h+l+e+p+|s+o+s+|snälla|please|plz|pls|mig|mej|me|"
    r"nu|now|us|oss)[\W_]*)+$",
    re.IGNORECASE,
)
# Dialect and phone spellings, read as the standard word before anything else.
_SPOKEN = {
    "mej": "mig", "dej": "dig", "sej": "sig", "nån": "någon", "nåt": "något", "nagon": "någon",
    "dom": "de", "e": "är", "ä": "är", "hes": "he is", "shes": "she is",
    "theyre": "they are", "theres": "there is", "im": "i am", "gonna": "going to",
}  # fmt: skip
# Short acute words whose one-letter typos are still that word ("knvi", "kiv", "nife").
_TYPO_ONE = ("kniv", "knife", "pistol", "vapen", "knivar")
# English words that are acute as written but whose stems or fragments would not be
# ("fired" from a job, "shot" in "screenshot", "stab" in "establish", "burn" in "burnout").
_ACUTE_EXACT_ONLY = ("fire", "shot", "shots", "stab", "stabbed", "stabbing", "burning")
# Swedish words of danger whose stem is a common word: "jagar" (chases) stems to "jag" (I).
_ACUTE_SV_EXACT_ONLY = ("jagar mig", "jagade mig", "jagad", "jagas")
# Fragments that make a word harmless for the acute check: committees ("arbetsutskott"), a
# ride ("skjuts"), a tricky question ("knivig"), a coat of arms, a firewall, a panic attack.
_BENIGN_FRAGMENTS = (
    "utskott", "skottår", "skottland", "skotta", "skjutsa", "skjutdörr", "knivig", "vapenvil",
    "kommunvapen", "kommunvapn", "brandvägg", "panikattack",
)  # fmt: skip
# Word sequences (prefixes of each word) that are harmless idioms: "skjuta upp" a meeting,
# "brinner för" a cause, "det slår mig att" (it strikes me that).
_BENIGN_SEQUENCES = (
    ("skjut", "upp"), ("sköt", "upp"), ("brinn", "för"), ("brann", "för"), ("det", "slår", "mig"),
    ("slåss", "för"), ("fighting", "for"), ("fire", "about"), ("skjuts", "hem"),
    ("skjuts", "till"), ("ge", "mig", "skjuts"), ("behöver", "skjuts"), ("få", "skjuts"),
)  # fmt: skip

# Title words that say nothing about a situation.
_STOPWORD_TEXT = """
    jag du han hon den det de vi ni en ett och eller i på av för med till om att som är har
    hade fått få min mitt mina din ditt dina sig mig dig oss er efter mot från under över vid
    inte så men nu när var vad hur kan ska vill någon något några här där
    the a an and or of to in on at for with my me i you he she it we they have has had
    received got is am are was before after against someone something about from this that be
"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())


@dataclass(frozen=True)
class Triage:
    """The outcome of triaging one message.

    `acute`: words of acute danger; answer with the urgent situation (and 112) at once.
    `best`: a confident single answer (the first urgent situation when `acute`), else None.
    `candidates`: up to three situations with a score above zero, best first (an acute message
    puts the urgent situation first); empty if nothing matched. When `best` is set it is
    `candidates[0]`, and the others are there for a "did you mean" row.
    `scores`: situation id -> score, for debugging and logs (only scores above zero).
    """

    acute: bool
    best: Situation | None
    candidates: tuple[Situation, ...]
    scores: Mapping[str, float] = field(default_factory=dict)


_STEMMERS = {language.code: snowballstemmer.stemmer(language.stemmer) for language in SPOKEN}
_STEM_LOCK = threading.Lock()  # a Snowball stemmer object keeps state while it stems


@lru_cache(maxsize=65536)
def _stem(word: str, lang: str) -> str:
    """A Snowball stem; cached because the pure-Python stemmers are the slowest part."""
    with _STEM_LOCK:
        stem: str = _STEMMERS[lang].stemWord(word)
    return stem


@lru_cache(maxsize=65536)
def _fold(word: str) -> str:
    """Remove diacritics (å, ä -> a; ö, ø -> o), for users typing without them."""
    decomposed = unicodedata.normalize("NFKD", word)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return plain.translate(_EXTRA_FOLD)


_EXTRA_FOLD = str.maketrans({"ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ð": "d"})


def _words(text: str) -> list[str]:
    """Lower-cased runs of letters; punctuation, digits, emoji and control characters split.

    Letters held down are read once ("hjälppp"), and dialect or phone spellings as the standard
    word ("mej" -> "mig", "nån" -> "någon", "hes" -> "he is").
    """
    words: list[str] = []
    for word in _TOKEN.findall(unicodedata.normalize("NFKC", text).casefold()):
        word = _RUN.sub(r"\1", word)
        words.extend(_SPOKEN.get(word, word).split())
    return words


@dataclass(frozen=True)
class _Word:
    """A word of the index, with the forms it can be met in."""

    text: str
    forms: frozenset[str]
    exact_only: bool


@dataclass(frozen=True)
class _Phrase:
    words: tuple[int, ...]
    weight: float
    lang: str | None


class _Builder:
    """Collects words (deduplicated) and their uses while an index is built."""

    def __init__(self) -> None:
        self.words: list[_Word] = []
        self.ids: dict[tuple[str, tuple[str, ...], bool], int] = {}
        self.single: set[int] = set()  # words used alone (not only inside phrases)

    def word(self, text: str, lang: str | None, exact_only: bool) -> int:
        # A word is stemmed in its own language; an unknown language tries both stemmers.
        langs = (lang,) if lang in _STEMMERS else tuple(_STEMMERS)
        key = (text, langs, exact_only)
        if key not in self.ids:
            forms = {text} if exact_only else {text, *(_stem(text, code) for code in langs)}
            self.ids[key] = len(self.words)
            self.words.append(_Word(text, frozenset(f for f in forms if f), exact_only))
        return self.ids[key]

    def entry(self, entry: str, lang: str | None, exact_only: bool) -> tuple[int, ...]:
        """The word ids of a `match` entry: one for a word, several for a phrase."""
        ids = tuple(self.word(w, lang, exact_only) for w in _words(entry))
        if len(ids) == 1:
            self.single.add(ids[0])
        return ids


class TriageIndex:
    """Everything `triage` needs about one list of situations, precomputed.

    Build it once per routine (or use `index_for`, which caches them); `triage` is then cheap.
    """

    def __init__(self, situations: Sequence[Situation]) -> None:
        self.situations: tuple[Situation, ...] = tuple(situations)
        b = _Builder()
        # word id -> [(situation index, weight, lang)] for words used alone
        uses: dict[int, list[tuple[int, float, str | None]]] = {}
        self._phrases: list[tuple[int, _Phrase]] = []  # (situation index, phrase)
        acute_single: set[int] = set()
        self._acute_phrases: list[_Phrase] = []

        def add(
            target: int | None, entry: str, lang: str | None, weight: float, exact: bool = False
        ) -> None:
            ids = b.entry(entry, lang, exact)
            if not ids:
                return
            if target is None:  # acute
                if len(ids) == 1:
                    acute_single.add(ids[0])
                else:
                    self._acute_phrases.append(_Phrase(ids, 1.0, lang))
            elif len(ids) == 1:
                uses.setdefault(ids[0], []).append((target, weight, lang))
            else:
                self._phrases.append((target, _Phrase(ids, weight, lang)))

        for entry in _ACUTE_SV:
            add(None, entry, "sv", 1.0)
        for entry in _ACUTE_EN:
            # English stems join tenses ("followed" -> "follow"): a phrase is matched as written.
            add(None, entry, "en", 1.0, exact=" " in entry)
        for entry in _ACUTE_EXACT_ONLY:
            add(None, entry, "en", 1.0, exact=True)
        for entry in _ACUTE_SV_EXACT_ONLY:
            add(None, entry, "sv", 1.0, exact=True)
        for index, situation in enumerate(self.situations):
            for lang, entries in situation.match.items():
                for entry in entries:
                    add(None if situation.urgent else index, entry, lang, 1.0)
            for lang, title in situation.title.values.items():
                for word in _words(title):
                    if len(word) >= 3 and word not in _STOPWORDS:
                        add(index, word, lang, TITLE_WEIGHT)

        self._uses: dict[int, tuple[tuple[int, float, str | None], ...]] = {}
        for wid, used in uses.items():
            strongest: dict[int, tuple[int, float, str | None]] = {}
            for use in used:  # one use per situation: the strongest
                if use[0] not in strongest or use[1] > strongest[use[0]][1]:
                    strongest[use[0]] = use
            self._uses[wid] = tuple(strongest.values())
        self._acute_single = frozenset(acute_single)
        self._acute_phrases_by_first: dict[int, list[_Phrase]] = {}
        for phrase in self._acute_phrases:
            self._acute_phrases_by_first.setdefault(phrase.words[0], []).append(phrase)

        self._words = tuple(b.words)
        self._exact: dict[str, list[int]] = {}
        self._folded: dict[str, list[int]] = {}
        self._inner: dict[str, list[int]] = {}
        self._inner_folded: dict[str, list[int]] = {}
        self._short: dict[str, list[int]] = {}
        fuzzy: dict[str, list[int]] = {}
        loose = b.single  # only words used alone get the looser kinds of match
        self._raw: dict[str, list[int]] = {}  # exact-only words meet the word as written
        for wid, known in enumerate(b.words):
            if known.exact_only:
                self._raw.setdefault(known.text, []).append(wid)
                continue
            for form in known.forms:
                folded = _fold(form)
                self._exact.setdefault(form, []).append(wid)
                self._folded.setdefault(folded, []).append(wid)
                if len(form) >= MIN_SUBSTRING:
                    self._inner.setdefault(form, []).append(wid)
                if len(folded) >= MIN_FOLDED_SUBSTRING:
                    self._inner_folded.setdefault(folded, []).append(wid)
                if wid not in loose:  # phrase words need no more than inflections
                    continue
                if len(form) == 3:
                    self._short.setdefault(form, []).append(wid)
                if len(folded) >= MIN_FUZZY:
                    fuzzy.setdefault(folded, []).append(wid)
        # Long words of acute phrases also meet a typo ("folowing", "brytter"): a present-tense
        # phrase word of 6 letters or more is not one letter away from its past tense.
        acute_words = {w for phrase in self._acute_phrases for w in phrase.words}
        acute_fuzzy: dict[str, list[int]] = {}
        for wid in acute_words:
            folded_text = _fold(b.words[wid].text)
            if len(folded_text) >= ACUTE_FUZZY_MIN:
                acute_fuzzy.setdefault(folded_text, []).append(wid)
        self._acute_fuzzy_choices = list(acute_fuzzy)
        self._acute_fuzzy_ids = [acute_fuzzy[c] for c in self._acute_fuzzy_choices]
        self._inner_lengths = sorted({len(f) for f in self._inner})
        self._inner_folded_lengths = sorted({len(f) for f in self._inner_folded})
        self._fuzzy_choices = list(fuzzy)
        self._fuzzy_ids = [fuzzy[c] for c in self._fuzzy_choices]
        self._loose = frozenset(loose)
        self._analyse: Callable[[str, bool], tuple[tuple[int, float], ...]] = lru_cache(
            maxsize=16384
        )(self._analyse_word)
        self._acute_typos: Callable[[str], frozenset[int]] = lru_cache(maxsize=16384)(
            self._acute_typos_of
        )

    # --- one word -------------------------------------------------------------------------

    def _analyse_word(self, word: str, fuzzy: bool) -> tuple[tuple[int, float], ...]:
        """(word id, level) for every index word this word of the message meets."""
        levels: dict[int, float] = {}

        def hit(ids: Iterable[int], level: float) -> None:
            for wid in ids:
                if levels.get(wid, 0.0) < level:
                    levels[wid] = level

        hit(self._raw.get(word, ()), EXACT)
        forms = {word, _stem(word, "sv"), _stem(word, "en")}
        folded = {_fold(f) for f in forms}
        for form in forms:
            hit(self._exact.get(form, ()), EXACT)
        if not levels:  # a fallback, and not for short words: "mot" is not "möt(e)"
            for form in folded:
                if len(form) >= MIN_FOLDED:
                    hit(self._folded.get(form, ()), FOLDED)
        found_exact = bool(levels)
        self._inside(word, self._inner, self._inner_lengths, hit)
        self._inside(_fold(word), self._inner_folded, self._inner_folded_lengths, hit)
        self._joined(word, hit)
        if fuzzy and not found_exact and len(word) >= MIN_FUZZY and self._fuzzy_choices:
            # A typo is one word mistyped: keep only the closest word(s), not all near ones.
            closest: list[tuple[float, int]] = []
            for query in sorted(f for f in folded if len(f) >= MIN_FUZZY):
                closest += [
                    (score, i)
                    for _, score, i in process.extract(
                        query,
                        self._fuzzy_choices,
                        scorer=fuzz.ratio,
                        score_cutoff=FUZZY_CUTOFF,
                        limit=5,
                    )
                ]
            if closest:
                top = max(score for score, _ in closest)
                for score, i in closest:
                    if score >= top:
                        hit(self._fuzzy_ids[i], FUZZY)
        return tuple(levels.items())

    def _acute_typos_of(self, word: str) -> frozenset[int]:
        """Words of acute phrases that `word` is a typo of ("brytter" -> "bryter")."""
        if len(word) < ACUTE_FUZZY_MIN or not self._acute_fuzzy_choices:
            return frozenset()
        found = process.extract(
            _fold(word),
            self._acute_fuzzy_choices,
            scorer=fuzz.ratio,
            score_cutoff=FUZZY_CUTOFF,
            limit=3,
        )
        return frozenset(w for _, _, i in found for w in self._acute_fuzzy_ids[i])

    def _inside(
        self,
        word: str,
        table: dict[str, list[int]],
        lengths: list[int],
        hit: Callable[[Iterable[int], float], None],
    ) -> None:
        """Forms found inside a longer word: the parts of a compound ("hotmejl" -> "mejl").

        A short form (under ANYWHERE letters) must be the compound's last part, the head that
        says what the word is, followed by at most an ending ("hotmejlet"): otherwise "rädd"
        would be found in "räddningstjänsten" and "akut" in "akutmottagningen".
        """
        for length in lengths:
            if length >= len(word):
                break
            first = 0 if length >= ANYWHERE else max(0, len(word) - length - MAX_ENDING)
            for start in range(first, len(word) - length + 1):
                ids = table.get(word[start : start + length])
                if ids:
                    hit(ids, COMPOUND)

    def _joined(self, word: str, hit: Callable[[Iterable[int], float], None]) -> None:
        """A 3-letter word joined to another known word: "hotmejl", "hotsms", "näthat"."""
        for form in {word, _stem(word, "sv")}:
            if len(form) < 6:
                continue
            for short, rest in ((form[:3], form[3:]), (form[-3:], form[:-3])):
                ids = self._short.get(short)
                if not ids:
                    continue
                rest_forms = {rest, _stem(rest, "sv"), _stem(rest, "en")}
                rest_ids = [
                    w for f in rest_forms for w in self._exact.get(f, ()) if w in self._loose
                ]
                if rest_ids:
                    hit(ids, COMPOUND)
                    hit(rest_ids, COMPOUND)

    # --- a message ------------------------------------------------------------------------

    def triage(self, text: str, lang: str) -> Triage:
        """Triage one message; see the module docstring. Never raises on a string."""
        try:
            return self._triage(text, lang)
        except Exception as error:  # pragma: no cover - a safety net, not a code path
            # The type and the code locations only: the message could quote the user's words.
            where = "".join(traceback.format_tb(error.__traceback__))
            log.error(
                "triage failed with %s; falling back to a plain acute check\n%s",
                type(error).__name__,
                where,
            )
            return self._fallback(text)

    def _triage(self, text: str, lang: str) -> Triage:
        tokens = [w for w in _words(text[:MAX_CHARS]) if len(w) <= MAX_WORD_LENGTH][:MAX_WORDS]
        analysis: dict[str, tuple[tuple[int, float], ...]] = {}
        for token in tokens:
            if token not in analysis:
                analysis[token] = self._analyse(token, len(analysis) < MAX_FUZZY_WORDS)

        # Positions of each word, for phrases: as written (exact or folded) for acute phrases,
        # also inflected (compound level: "följt" holds "följ") for the others.
        written: dict[int, list[int]] = {}
        inflected: dict[int, list[int]] = {}
        for pos, token in enumerate(tokens):
            for wid, level in analysis[token]:
                if level >= FOLDED:
                    written.setdefault(wid, []).append(pos)
                if level >= COMPOUND:
                    inflected.setdefault(wid, []).append(pos)

        typos = {t: self._acute_typos(t) for t in list(analysis)[:MAX_FUZZY_WORDS]}
        for pos, token in enumerate(tokens):
            for wid in typos.get(token, ()):
                if pos not in written.get(wid, ()):
                    written.setdefault(wid, []).append(pos)
        for positions in written.values():
            positions.sort()
        acute = _signals_danger(text[:MAX_CHARS], tokens) or self._is_acute(
            tokens, analysis, written
        )

        scores = [0.0] * len(self.situations)
        for matches in analysis.values():
            best: dict[int, float] = {}  # a word of the message counts once per situation
            for wid, level in matches:
                for target, weight, term_lang in self._uses.get(wid, ()):
                    value = level * weight * _language_factor(term_lang, lang)
                    if value > best.get(target, 0.0):
                        best[target] = value
            for target, value in best.items():
                scores[target] += value
        for target, phrase in self._phrases:
            # Most phrases fail on their first word: checking it first skips the full search.
            if phrase.words[0] in inflected and _phrase_found(phrase.words, inflected):
                bonus = 1.0 + PHRASE_BONUS * (len(phrase.words) - 1)
                scores[target] += phrase.weight * bonus * _language_factor(phrase.lang, lang)
        return self._result(acute, scores)

    def _is_acute(
        self,
        tokens: list[str],
        analysis: Mapping[str, tuple[tuple[int, float], ...]],
        positions: Mapping[int, list[int]],
    ) -> bool:
        benign = _benign_positions(tokens)
        for pos, token in enumerate(tokens):
            if pos in benign:
                continue
            if any(wid in self._acute_single for wid, _ in analysis[token]):
                return True
        # Only phrases whose first word is in the message can be found: a look-up per word of
        # the message instead of a pass over every acute phrase.
        for first in positions:
            for phrase in self._acute_phrases_by_first.get(first, ()):
                if not all(wid in positions for wid in phrase.words):
                    continue
                kept = {
                    wid: [p for p in positions.get(wid, ()) if p not in benign]
                    for wid in phrase.words
                }
                if _phrase_found(phrase.words, kept):
                    return True
        return False

    def _result(self, acute: bool, scores: list[float]) -> Triage:
        order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))  # ties: file order
        ranked = [i for i in order if scores[i] > 0]
        by_id: dict[str, float] = {}
        for i in ranked:
            by_id.setdefault(self.situations[i].id, round(scores[i], 3))
        best: Situation | None = None
        if ranked:
            top = scores[ranked[0]]
            second = scores[ranked[1]] if len(ranked) > 1 else 0.0
            if top >= FLOOR and top - second >= MARGIN and top >= RATIO * second:
                best = self.situations[ranked[0]]
        candidates = [self.situations[i] for i in ranked]
        if acute:
            urgent = next((s for s in self.situations if s.urgent), None)
            if urgent is not None:
                best = urgent
                candidates = [urgent, *(s for s in candidates if s is not urgent)]
        return Triage(acute, best, tuple(candidates[:TOP]), by_id)

    def _fallback(self, text: str) -> Triage:
        """If analysis ever fails: a plain search for acute words, erring on the safe side."""
        try:
            lowered = str(text)[:MAX_CHARS].casefold()
            acute = any(w in lowered for w in (*_ACUTE_SV, *_ACUTE_EN) if " " not in w)
            acute = acute or any(char in _ACUTE_EMOJI for char in lowered)
            urgent = next((s for s in self.situations if s.urgent), None) if acute else None
            return Triage(acute, urgent, (urgent,) if urgent else (), {})
        except Exception:  # pragma: no cover
            return Triage(False, None, (), {})


def _signals_danger(text: str, tokens: list[str]) -> bool:
    """Danger that words of the index cannot see: emoji, a bare cry for help, a typed weapon."""
    if any(char in _ACUTE_EMOJI for char in text):
        return True
    if len(text) <= 80 and _CRY_FOR_HELP.match(text):
        return True
    if "sos" in tokens:
        return True
    return any(
        3 <= len(token) <= 8 and OSA.distance(_fold(token), weapon, score_cutoff=1) <= 1
        for token in set(tokens)
        for weapon in _TYPO_ONE
    )


def _language_factor(term_lang: str | None, lang: str) -> float:
    return 1.0 if term_lang is None or term_lang == lang else OTHER_LANGUAGE


def _phrase_found(words: tuple[int, ...], positions: Mapping[int, list[int]]) -> bool:
    """All words of a phrase in order, spanning at most len(words) + PHRASE_SLACK positions."""
    lists = [positions.get(wid) for wid in words]
    if not all(lists):
        return False
    limit = len(words) + PHRASE_SLACK
    first, *rest = [p for p in lists if p is not None]
    for start in first:
        end = start
        for later in rest:
            i = bisect_right(later, end)
            if i == len(later):
                return False  # no later start can complete the phrase either
            end = later[i]
        if end - start + 1 <= limit:
            return True
    return False


_BENIGN_FRAGMENT = re.compile("|".join(re.escape(f) for f in _BENIGN_FRAGMENTS))
_BENIGN_FIRST = tuple(sorted({sequence[0] for sequence in _BENIGN_SEQUENCES}))


def _benign_positions(tokens: list[str]) -> set[int]:
    """Positions of harmless words and idioms, kept out of the acute check."""
    benign = {p for p, t in enumerate(tokens) if _BENIGN_FRAGMENT.search(t)}
    for pos, token in enumerate(tokens):
        if not token.startswith(_BENIGN_FIRST):  # most words start no idiom
            continue
        for sequence in _BENIGN_SEQUENCES:
            if pos + len(sequence) <= len(tokens) and all(
                tokens[pos + k].startswith(part) for k, part in enumerate(sequence)
            ):
                benign.update(range(pos, pos + len(sequence)))
    return benign


# --- a cache of indexes -----------------------------------------------------------------------

_CACHE_SIZE = 32
_cache: OrderedDict[tuple[int, ...], tuple[tuple[Situation, ...], TriageIndex]] = OrderedDict()
_cache_lock = threading.Lock()


def index_for(situations: Sequence[Situation]) -> TriageIndex:
    """The index for these situations, built once and kept in a small LRU cache.

    Situations hold dicts, so they cannot be hashed; the key is the identity of each object,
    and the cache keeps the objects alive so that an identity cannot be reused by another.
    """
    key = tuple(id(s) for s in situations)
    with _cache_lock:
        cached = _cache.get(key)
        if cached is not None:
            _cache.move_to_end(key)
            return cached[1]
    index = TriageIndex(situations)
    with _cache_lock:
        _cache[key] = (index.situations, index)
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return index


def triage(text: str, situations: Sequence[Situation], lang: str) -> Triage:
    """Triage `text` (any string) against `situations` for a user who speaks `lang`."""
    try:
        index = index_for(situations)
    except Exception:  # pragma: no cover - a malformed situation must not silence acute words
        log.exception("could not index situations")
        index = TriageIndex(())
    return index.triage(text, lang)
