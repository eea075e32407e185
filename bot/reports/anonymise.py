"""Anonymise the free-text description of an incident report, offline, as soon as it arrives.

A stored report must not identify the reporter (DOMAIN.md, "Anonymisation"), and the user sees
the redacted text before it is sent and may keep it or rewrite it. `anonymise(text)` finds
personal data and replaces each span with a bracketed Swedish placeholder that the user
understands; `Redacted.found` says what was found where (kind and offsets, never the words).
Nothing here stores, caches or logs text.

What is found (kind, placeholder: how), in order of precedence. Overlapping spans become one
placeholder over their union: the most specific kind wins, then the longest span, and a name
never wins over structured data (an address that contains a name is an address).

- personnummer, [personnummer]: YYMMDD-XXXX or YYYYMMDDXXXX, with -, +, a dash, a space or
  nothing; month 01-12, day 01-31 or 61-91 (samordningsnummer); the checksum is not required.
  Also with the date written as a date, then a dash: "1961-05-17-1234", "84 06 12-3390".
- case, [ärendenummer]: police diary numbers (5000-K123456-26, K123456-26), and the number after
  "ärendenummer", "diarienummer", "dnr", "case number". They identify the case, and so the
  reporter, to anyone who can look it up.
- email, [e-post]: name@domain.tld, also "name(at)domain.tld", and spelled out: "anna punkt
  svensson at gmail punkt com", "info [at] x [dot] se", "kalle snabel-a telia.se".
- handle, [konto]: @handle, and profile links on social media (facebook.com/…, instagram.com/…,
  x.com/…, twitter.com/…, tiktok.com/@…, linkedin.com/in/…, youtube.com/@…). Without @ near a
  platform's name in the same sentence: a word with an underscore, a dot or digits inside or a
  capital after a small letter ("på TikTok heter han kalle_bangen", "Instagram: p.hammar91"),
  or a word that is neither a word nor a name right after "heter", "som", ":" ("som
  bangenlive").
- url, [länk]: http(s)://…, www.…, and bare domains with a common top-level domain
  (hatsidan.nu/artikel). A well-known site named without a path ("facebook.com", "ratsit.se")
  says nothing about a person and is kept, and so are the pages of authorities
  ("polisen.se/anmal-brott").
- ip, [ip-adress]: IPv4; IPv6 checked with `ipaddress`.
- phone, [telefon]: numbers written the Swedish way (0…) or the international way (+…, 00…),
  valid or not, then `phonenumbers.PhoneNumberMatcher(text, "SE", leniency=VALID)` on the rest.
  Never the national short numbers 112, 114 14, 116 006, 1177, 113 13 and 90000.
- plate, [registreringsnummer]: ABC 123 or ABC 12A (no I, Q or V) in capitals, unless the
  letters are an abbreviation (SOS, SMS) or a word (HAR); in small letters only after a cue
  such as "reg.nr", "skylten", "bilen", "plate".
- address, [adress]: a street name with a number, and a letter, flat and floor if given
  ("Storgatan 12B", "Ekvägen 3 lgh 1102", "Västra Långgatan 21, 3 tr", "Karl Johans gata 5").
  Street names end in -gatan, -vägen, -stigen, -gränd, -torget, -allén, -backen, -leden,
  -stråket, -gata or -väg (in any case), or, capitalised, in -plan, -torg, -platsen, -parken,
  -kajen, -ringen, … ("Stureplan 4" but not "detaljplan 12"). After "bor på", "adress", "lives
  on", a street name counts without a number.
- postcode, [postnummer]: NNN NN before a capitalised place name ("123 45 Solvik": the place is
  kept), or after "postnummer".
- name, [namn]: below.

Names come from word lists in `names/` (below) and from word frequencies (further below): about
1,300 first names (Swedish, and common among people in Sweden born elsewhere) and 700
surnames, ordinary words that are never names, and capitalised words that are not people
(places, parties, authorities, platforms, months). All are compared
case-insensitively and loaded once as frozensets. A capitalised word in the name lists is a
name, at the start of a sentence too; so is, in the middle of a sentence, a capitalised word
that looks like a surname (-sson, -qvist, -ström, -berg, -gren, -lund, -ović, -nen, …). Names
that are also ordinary words ("Per", "Hans", "Sten", "Liv", "Inga", "Will"; `ambiguous.txt`)
count in the middle of a sentence, where Swedish and English write ordinary words in small
letters, at the start of one only before a verb such as "skrev", "ringde" or "har" ("Per
skrev", "Bo har", not "Per dag"; "Inga" only before the first kind), next to another name, or
after a cue, and never after an article ("a Tor exit node"). A first name followed by a
capitalised word is a full name ("Anna Kowalski"); a capitalised word before a surname is its
first name ("Zlatko Andersson"); initials and particles join ("Göran W. Falk", "Karl von
Essen").

Words in no list are told from names by how common they are (`wordfreq`'s Swedish and English
lists, offline): a word that is not common in either language (below Zipf 3.5 in Swedish, 4.0
in English), not a compound of common words ("dörrkarmen", "Solviksskolan"), not a long word
with a Swedish ending ("-ningen", "-arna", "-skap") and not a genitive of one of those, is a
name when it is capitalised in the middle of a sentence ("Det var Karimi som skrev"), except
after "i", "på", "vid" (a place: "på Kivik"); at the start of a sentence when it is rare (below
Zipf 2.0: "Dzenan skickade") or the subject of a verb ("Gunde stod", "Sten har skrivit"); in
small letters after a cue ("heter vedran", "ringde dzenan") or after a name ("ahmed karimi").
A listed first name in small letters counts alone ("såg jag bengt igen"), a listed name that is
also a word only with a surname ("per andersson", "jonny svärd"). In a text written all in small
letters, where capitals tell nothing, a rare word (below Zipf 2.0) is a name where a person
often stands: first in a sentence, before a verb, or after "och", "från", "är" ("att lehtonen
har", "från dragomir"); rare ordinary words there are redacted too ("och gravlax").

Cues make the next capitalised word a name even when it is in no list: "heter", "hette",
"kallas", "named", "called", "name is", "Mr", "Mrs", "herr", "fru", "Mvh", "undertecknat", and a
relation after a possessive or in its definite form ("min man Bo", "grannens son Milton",
"kollegan Ali", "my neighbour John"). After "kallar sig", "alias", "signaturen", "under namnet",
"username" the next word that is not an ordinary word is taken whatever it looks like
("Frihetskämpen1488", "vildkatten99"). "från", "till", "med", "av" let a listed name in small
letters count ("mejl från erik"); otherwise names in small letters count only as a first name
with a surname ("anna svensson"). In capitals ("VI VET VAR DU BOR ANNA"), only listed names.

Offsets index the text after NFC normalisation (the form Telegram sends; decomposed å/ä/ö would
otherwise split words), which is also the form of `Redacted.text`.

Limits: a name that is also a common word or a common place name, with no cue, is missed
("Sten låg på vägen" keeps Sten; "Milan" alone is a city); so are names in small letters that
are in no list and follow no cue, and a name right after "i" or "på". A capitalised word in the
middle of a sentence that is rare and in no list is redacted even when it is a place or a
company not in `not_names.txt` ("från Hovås"); so is an ambiguous name before a place
("gruppen Sanna Solvik"). Addresses need a street suffix: "Box 123", "Ekv. 3" and foreign
addresses are missed. Plates in small letters need a cue; a plate that is also an abbreviation
in the stop list is missed. Names written in other scripts (Arabic, Cyrillic) are not found.

Speed: regexes are compiled and the word lists loaded once; patterns read each word once
(possessive quantifiers, anchored starts), cue words are looked up with substring tests before
any pattern runs, and most words are dismissed by one set look-up, so the work grows with the
length of the text. Measured while developing (best of several runs): a 4096-character
description takes 0.5 ms without personal data, 2 ms with a few items, 4-5 ms when every line
holds some; the test corpus runs at about 15,000 sentences a second. Loading the word lists on
first use takes about 5 ms; the frequency lists are read on the first text that needs them
(about 60 ms, and 16 MB that stay for the life of the process). Nothing caches words seen in a
text.
"""

from __future__ import annotations

import gzip
import importlib.util
import ipaddress
import logging
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Final, NamedTuple, TypeAlias

import msgpack
import phonenumbers

__all__ = ["KINDS", "PLACEHOLDERS", "Finding", "Redacted", "anonymise", "redact_lines"]

PLACEHOLDERS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "personnummer": "[personnummer]",
        "case": "[ärendenummer]",
        "email": "[e-post]",
        "handle": "[konto]",
        "url": "[länk]",
        "ip": "[ip-adress]",
        "phone": "[telefon]",
        "plate": "[registreringsnummer]",
        "address": "[adress]",
        "postcode": "[postnummer]",
        "name": "[namn]",
    }
)
KINDS: Final[tuple[str, ...]] = tuple(PLACEHOLDERS)

# Precedence among overlapping spans: the most specific first (a personnummer inside something
# phone-like is a personnummer, a profile link is a handle rather than a plain URL).
_RANK: Final[Mapping[str, int]] = MappingProxyType(
    {kind: len(KINDS) - i for i, kind in enumerate(KINDS)}
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One redacted span: its kind and its offsets in the (NFC-normalised) input."""

    kind: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Redacted:
    """The redacted text and what was found, in order; holds none of the original words."""

    text: str
    found: tuple[Finding, ...]


class _Span(NamedTuple):
    start: int
    end: int
    kind: str
    rank: int


# --- numbers -------------------------------------------------------------------------------

# National short numbers that must stay readable (digits only).
_SHORT_NUMBERS: Final = frozenset({"112", "11414", "116006", "1177", "11313", "90000"})

_DAY = r"(?:0[1-9]|[12]\d|3[01]|6[1-9]|[78]\d|9[01])"  # 61-91: samordningsnummer
_PERSONNUMMER = re.compile(
    rf"(?<![\w+\-/.,:])(?P<date>(?:19|20)?\d\d(?:0[1-9]|1[0-2]){_DAY})"
    r"(?P<sep>\s?[-+–—‐−]\s?|[ \u00a0])?(?P<tail>\d{4})(?![\w\-/]|[.,:]\d)"
)
# "1961-05-17-1234", "84 06 12-3390": the date written as a date, then the last four digits
# after a dash or a plus (a space there would make every date and time a personnummer).
_PERSONNUMMER_DATED = re.compile(
    rf"(?<![\w+\-/.,:])(?:19|20)?\d\d(?P<d>[\-–  ])(?:0[1-9]|1[0-2])(?P=d){_DAY}"
    r"\s?[-+–—‐−]\s?\d{4}(?![\w\-/]|[.,:]\d)"
)
_CASE_NUMBER = re.compile(r"(?<![\w\-])(?:\d{4}\s?-\s?)?[Kk]\s?\d{3,8}\s?-\s?\d{2}(?![\w\-])")
_CASE_CUED = re.compile(
    r"(?i:\b(?:ärendenummer|ärendenr|anmälningsnummer|diarienummer|dnr|case\s+number"
    r"|reference\s+number|ref\.?\s*nr)\b)[\s.:]*(?:är\s+|is\s+)?"
    r"(?P<cued>[A-Za-zÅÄÖåäö]{0,4}[\s\-]?\d[\w/\-]*\w|\d)"
)
_CASE_HINTS = ("ärende", "anmälningsnummer", "diarienummer", "dnr", "case number", "reference")
_ANY_DIGIT = re.compile(r"\d")
# Candidates `phonenumbers` may read in one text: it parses each in Python (about 0.2 ms), and
# numbers written the usual ways are found before it runs.
_PHONE_TRIES = 40
# Gate for `phonenumbers`: seven digits with separators between them.
_MAYBE_PHONE = re.compile(r"\d(?:[\s().\-/]{0,3}\d){6}")
_PHONE_FALLBACK = re.compile(
    r"(?<![\w+])(?<!\d[\-/.:])"
    r"(?:(?:\+|00)\s?[1-9]\d{0,2}(?:\s?\(0\))?(?:[\s\-]{0,2}\d){6,12}"
    r"|\(?0\d{1,3}\)?(?:\s?[\-/–]\s?|\s)?\d(?:[\s\-–]?\d){4,8})(?![\d\w])"
)
_DATE_LIKE = re.compile(r"\d{1,2}[\-/]\d{1,2}[\-/]\d{2,4}")
_EMAIL = re.compile(
    r"(?<![\w.+%\-])[\w.+%\-]{1,64}"
    r"(?:@|\s?[(\[{]\s?(?:at|snabel-a)\s?[)\]}]\s?)"
    r"(?:[\w\-]{1,63}\.){1,8}[^\W\d_]{2,24}(?![\w\-])"
)
_AT_HINTS = ("at)", "at]", "at}", "snabel-a")
# "anna punkt svensson at gmail punkt com", "kalle99 at outlook.com", "info [at] x [dot] se":
# an address spelled out so that filters miss it. The "at" must stand between a local part and
# a domain that ends in a known top-level domain, so "at home" or "at 8" never match.
_SPELLED_DOT = r"(?:\.|\s?[(\[]\s?(?:dot|punkt)\s?[)\]]\s?|\s(?:dot|punkt)\s)"
_SPELLED_AT = r"(?:\s?[(\[{]\s?(?:at|snabel-?a)\s?[)\]}]\s?|\s(?:at|snabel-?a)\s)"
_SPELLED_HINTS = (" at ", "snabel", "(at)", "[at]", "{at}")
# Words before a spelled "at" that are not the local part of an address ("he was at x.com").
_NOT_LOCAL: Final = frozenset(
    {"was", "is", "are", "were", "be", "been", "me", "him", "her", "us", "them", "it", "look",
     "looked", "here", "there", "that", "this", "home", "work", "site", "page", "only"}
)  # fmt: skip
_TLDS = (
    "se|com|nu|org|net|info|io|eu|tv|co|uk|de|no|dk|fi|fm|app|ly|gl|nl|fr|es|pl|ru|biz|xyz|"
    "online|site|blog|live|cc|ws|gg|link|page|shop|ca|ch|ee|lv|lt|ai|dev|ax|me"
)
_SPELLED_EMAIL = re.compile(
    rf"(?i)(?<![\w.+%\-])(?P<local>[\w+%\-]{{1,64}}(?:{_SPELLED_DOT}[\w+%\-]{{1,64}}){{0,3}})"
    rf"{_SPELLED_AT}(?:[\w\-]{{1,63}}{_SPELLED_DOT}){{1,4}}(?:{_TLDS})(?![\w\-])"
)
_URL = re.compile(
    r"(?i:\bhttps?://|(?<![\w@.\-/])www\.)[^\s<>\"'`{}|\\^\[\]]+"
    rf"|(?<![\w@.\-/])(?:[\w\-]{{1,63}}\.){{1,8}}(?:{_TLDS})(?![\w\-@])(?:[/?#][^\s<>\"'`{{}}|\\^]*)?"
)
_TLD_SET: Final = frozenset(_TLDS.split("|"))
_SENTENCE_END = re.compile(r"[.!?\n]\s")
_URL_HINT = re.compile(r"[\w\-]\.[^\W\d_]|://")
_URL_TRAILING = ".,;:!?)]}'\"»”’"
_SOCIAL_HOSTS: Final = frozenset(
    {
        "facebook.com", "fb.com", "instagram.com", "x.com", "twitter.com", "tiktok.com",
        "linkedin.com", "youtube.com", "snapchat.com", "threads.net", "bsky.app",
        "mastodon.social", "vk.com", "t.me", "telegram.me", "reddit.com", "pinterest.com",
    }
)  # fmt: skip
# Authorities: their pages say nothing about a person, with or without a path.
_OFFICIAL_HOSTS: Final = frozenset(
    {
        "polisen.se", "1177.se", "krisinformation.se", "bra.se", "skr.se", "msb.se",
        "brottsofferjouren.se", "sakerhetspolisen.se", "regeringen.se", "riksdagen.se",
        "domstol.se", "aklagare.se", "lagen.nu",
    }
)  # fmt: skip
# Well-known sites: named without a path they say nothing about a person.
_PUBLIC_HOSTS: Final = _SOCIAL_HOSTS | _OFFICIAL_HOSTS | frozenset(
    {
        "flashback.org", "google.com", "google.se", "gmail.com", "hotmail.com", "outlook.com",
        "aftonbladet.se", "expressen.se", "svt.se", "sr.se", "dn.se", "gp.se", "svd.se",
        "sydsvenskan.se", "tv4.se", "whatsapp.com", "signal.org", "telegram.org",
        "hitta.se", "ratsit.se", "merinfo.se", "eniro.se", "mrkoll.se", "upplysning.se",
        "birthday.se", "lexbase.se", "allabolag.se",
    }
)  # fmt: skip
_HOST_PREFIX = re.compile(r"^(?:https?://)?(?:www\.|m\.|mobile\.|web\.|[a-z]{2}-[a-z]{2}\.)?", re.I)
_IPV4 = re.compile(
    r"(?<![\w.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
    r"(?![\w]|\.\d)"
)
_IPV6 = re.compile(
    r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|[\d.]{7,15})?(?![\w:])"
)
# A handle without @ next to a platform's name: "på TikTok heter han kalle_bangen",
# "Instagram: patrik.hammar91", "heter johnny_wolf87 på Instagram". Near a platform, a word
# with an underscore, a dot or digits inside, or with a capital inside ("SolvikAvslojar"), is
# an account name; so is a word that is not an ordinary word right after "heter", "som",
# "är", ":" or "under namnet".
_PLATFORM = re.compile(
    r"(?<![\w.])(?:(?i:tiktok|instagram|insta|snapchat|snap|facebook|twitter|youtube|telegram"
    r"|discord|kick|twitch|reddit|flashback|threads|bluesky|messenger|tumblr|linkedin)"
    r"|(?:X|IG|FB)\b)"
)
# Substrings to look for before the pattern runs: most texts name no platform.
_PLATFORM_HINTS = ("tiktok", "insta", "snap", "facebook", "twitter", "youtube", "telegram",
                   "discord", "kick", "twitch", "reddit", "flashback", "threads", "bluesky",
                   "messenger", "tumblr", "linkedin")  # fmt: skip
_PLATFORM_SHORT_HINTS = ("X", "IG", "FB")
_HANDLE_WORD = re.compile(r"(?<![\w@.+\-/:])[^\W_][\w.]*[^\W_](?![\w@]|\.\w|-\w)")
_HANDLE_SHAPE = re.compile(r"_|[^\W\d_]\.[^\W_]|[^\W\d_]\d|\d[^\W\d_]|[a-zåäö][A-ZÅÄÖ]")
# The word before a plain word that makes it an account name ("som bangenlive").
_HANDLE_CUE_WORDS: Final = frozenset(
    {"heter", "hette", "sig", "kallas", "som", "är", "var", "namnet", "signaturen", "is", "as",
     "called", "named"}
)  # fmt: skip
_HANDLE_WINDOW = 60
_HANDLE = re.compile(r"(?<![\w@.+\-/])@(?=[\w.]*[^\W\d])[\w](?:[\w.]{0,38}[\w])?")

# Plates: three letters (no I, Q, V) and two digits and a digit or letter.
_PLATE_CORE = r"[A-HJ-PR-UW-Z]{3}[ \u00a0]?\d{2}[A-HJ-PR-UW-Z\d]"
_PLATE = re.compile(rf"(?<![\w\-]){_PLATE_CORE}(?![\w\-])")
_PLATE_ANY_CASE = re.compile(rf"(?i)(?<![\w\-]){_PLATE_CORE}(?![\w\-])")
_PLATE_CUE = re.compile(
    r"(?i)(?:reg(?:istrerings)?[.\s]?(?:nr|nummer|numret|nummret|skylt)|regnr|skylt|"
    r"nummerplåt|\bplåt|\bbil(?:en|ar|arna)?\b|\bcar\b|plate|licen[cs]e|registration|fordon|"
    r"vehicle|\bvan\b|\bmoped)"
)
_PLATE_HINTS = ("reg", "skylt", "plåt", "bil", "car", "plate", "licen", "fordon", "vehicle",
                "van", "moped")  # fmt: skip
_PLATE_STOP: Final = frozenset(
    {"SOS", "SMS", "MMS", "USA", "EUR", "SEK", "USD", "NOK", "DKK", "GBP", "TEL", "MOB", "FAX",
     "REF", "DNR", "TIB", "KS", "KF", "BRB", "SFS", "PTU", "SKR", "MSB", "BRA", "GPS", "CET"}
)  # fmt: skip

# --- addresses -----------------------------------------------------------------------------

# Suffixes that make a word a street name whatever its case ("storgatan 12").
_STREET_SUFFIX = (
    r"gatan|gata|vägen|väg|stigen|gränden|gränd|torget|allén|allé|alléen|backen|leden|stråket"
)
# Suffixes also used by ordinary words: the street name must be capitalised ("Stureplan 4").
_STREET_SUFFIX_CAP = (
    r"plan|torg|platsen|plats|kajen|kaj|esplanaden|promenaden|ringen|slingan|gången|parken|"
    r"backe|stig|liden|hagen|udden|vägen|gatan"
)
_STREET_WORDS_SEPARATE = (
    r"gata|gatan|väg|vägen|gränd|torg|torget|allé|plan|backe|stig|led|plats|park"
)
_STREET_PREFIX = (
    r"(?:(?:Lilla|Stora|Gamla|Nya|Norra|Södra|Östra|Västra|Övre|Nedre|Sankt|Sankta|S:t|S:ta)\s+)"
)
_HOUSE_NUMBER = (
    r"\d{1,4}(?:\s?-\s?\d{1,4})?(?:[ \u00a0]?[A-Ha-h](?![\w\-]))?"
    r"(?:,?\s*(?:lgh|lägenhet|lägenhetsnummer|apt|apartment|ingång|uppgång|port)\.?\s*"
    r"(?:nr\.?\s*)?\d{1,4}[A-Za-z]?(?![\w]))?"
    r"(?:,?\s*\d{1,2}\s?(?:tr|trappor|trappa|vån|våningen)\.?(?:\s(?:ned|upp))?(?![\w]))?"
    r"(?:,?\s*(?:vån(?:ing)?(?:en)?|floor)\.?\s*\d{1,2}(?![\w]))?"
)
_NOT_QUANTITY = (
    r"(?!\s*(?:gånger|ggr|kr|kronor|sek|st|stycken|%|procent|minuter|min|timmar|tim|dagar|"
    r"veckor|månader|år|personer|meter|m|km|mil|kg|ton|times|people|minutes|hours|days)\b)"
)


def _ends_with(suffixes: str, ignore_case: bool = False) -> str:
    """A test that the word just read ends with one of `suffixes` (a lookbehind for each)."""
    tests = (f"(?<={suffix})" for suffix in suffixes.split("|"))
    if ignore_case:
        tests = (f"(?i:{test})" for test in tests)
    return "(?:" + "|".join(tests) + ")"


# A word is read whole (possessive *+), then its ending is checked: one attempt per word.
_ADDRESS = re.compile(
    r"(?<![\w\-])(?:"
    # one word: "Storgatan 12", "Lilla Nygatan 4", "storgatan 12"
    rf"(?P<one>{_STREET_PREFIX}?[^\W\d_][\w\-]*+{_ends_with(_STREET_SUFFIX, True)})"
    rf"|(?P<cap>{_STREET_PREFIX}?[A-ZÅÄÖÉ][\w\-]*+{_ends_with(_STREET_SUFFIX_CAP)})"
    # several words: "Karl Johans gata 5", "Drottning Kristinas väg 12", "Karl XII:s torg 1"
    rf"|(?P<multi>(?:[A-ZÅÄÖÉ][\w:\-]*+\s){{0,2}}+(?<=s\s)(?:{_STREET_WORDS_SEPARATE}))"
    rf")[ \u00a0]+(?:(?:nr|nummer|no)\.?[ \u00a0]*)?{_HOUSE_NUMBER}"
    rf"(?![\w\-]|[.,:]\d){_NOT_QUANTITY}"
)
# "bor på Ekvägen": a street name after a word about living there, even without a number.
_ADDRESS_CUED = re.compile(
    r"(?i:\b(?:bor|bodde|boende|bostad|bostaden|hemma|adress|adressen|lives|lived|living|address)"
    r"(?:\s+(?:är|is|was|var))?\s+(?:på|vid|on|at|i|in)?\s*)"
    rf"(?P<street>{_STREET_PREFIX}?[^\W\d_][\w\-]*?(?:{_STREET_SUFFIX}|{_STREET_SUFFIX_CAP}))"
    r"(?![\w\-])"
)
_LOWER_STREET = re.compile(rf"(?:{_STREET_SUFFIX})$")
_ADDRESS_HINTS = ("bor ", "bodde", "boende", "bostad", "hemma", "adress", "lives", "lived",
                  "living", "address")  # fmt: skip
# Lower-case words with a street suffix that are ordinary words, not streets.
_NOT_STREETS: Final = frozenset(
    {
        "gatan", "gata", "vägen", "väg", "stigen", "gränden", "gränd", "torget", "allén", "allé",
        "backen", "leden", "stråket", "genvägen", "omvägen", "halvvägen", "motorvägen",
        "landsvägen", "cykelvägen", "gångvägen", "järnvägen", "bilvägen", "hemvägen",
        "tillbakavägen", "utvägen", "mittvägen", "bakgatan", "huvudgatan", "sidogatan",
        "gågatan", "vänstervägen", "uppförsbacken", "nedförsbacken", "bostadsgatan",
        "körvägen", "skogsvägen", "grusvägen", "stora", "lilla", "torg", "plan", "kaj",
        "detaljplan", "detaljplanen", "översiktsplan", "översiktsplanen", "handlingsplan",
        "handlingsplanen", "budgetplan", "åtgärdsplan", "åtgärdsplanen", "tidsplan",
        "tidsplanen", "verksamhetsplan", "säkerhetsplan", "säkerhetsplanen", "krisplan",
        "krisplanen", "beredskapsplan", "arbetsplan", "arbetsplatsen", "arbetsplats",
        "parkeringsplatsen", "parkeringsplats", "brottsplatsen", "mötesplatsen", "platsen",
        "plats", "planen", "ringen", "gången", "hagen", "parken", "udden", "liden", "backe",
        "stig", "första", "andra",
    }
)  # fmt: skip
_POSTCODE = re.compile(
    r"(?<![\w+,.])(?<!\d-)(?<!\d[ \u00a0])\d{3}[ \u00a0]?\d{2}(?![\w\-.,:/])"
    r"(?=[ \u00a0]*,?[ \u00a0]*[A-ZÅÄÖ][a-zåäöéü]+)"
)
_POSTCODE_CUED = re.compile(
    r"(?i:\b(?:postnummer|postnr|postal\s+code|post\s+code|zip(?:\s+code)?)\b)[\s.:]*"
    r"(?:är\s+|is\s+)?(?P<cued>\d{3}[ \u00a0]?\d{2})(?!\d)"
)
_PLACE_AFTER = re.compile(r"[ \u00a0]*,?[ \u00a0]*(?P<word>[^\W\d_]+)")
_POSTCODE_NOT_BEFORE: Final = frozenset({"kr", "kronor", "sek", "euro", "procent", "gånger"})

# --- names ---------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*(?:-[^\W\d_]+)*")
_SENTENCE_BREAK = re.compile(r"[.!?:;…\n\r•·\"“”«»()\[\]<>|]|^\s*[\-–—*]\s")
_ADJACENT = re.compile(r"[ \t\u00a0]{1,3}|-")  # gap between two words of one name
_AFTER_INITIAL = re.compile(r"\.[ \t\u00a0]{0,2}")  # "A. Svensson"
_CUE_GAP = re.compile(r"[\s:,\"'“”«»‘’.]{1,6}")
_SURNAME_LIKE = re.compile(
    r"(?:s?son|[nrld]sen|ussen|[qk]vist|ström|berg|gren|lund|blad|dahl|stedt|holm|ell|ér|én"
    r"|ander|[iy]us|ović|ovic|vić|ić|ski|sky|cki|inen|anen|(?<!i)onen|änen|zadeh|poulos|enko)$"
)
_STRONG_CUES: Final = frozenset(
    {
        "heter", "hette", "kallas", "kallad", "kallades", "named", "called", "mr", "mrs", "ms",
        "miss", "dr", "herr", "fru", "fröken", "mvh", "hälsningar", "hälsning", "regards",
        "sincerely", "undertecknad", "undertecknat", "undertecknade", "signerad", "signerat",
        "signed", "avsändare", "avsändaren", "sender", "förnamn", "efternamn", "förnamnet",
        "efternamnet", "efternamnen",
    }
)  # fmt: skip
_STRONG_CUE_PAIRS: Final = frozenset(
    {
        ("name", "is"), ("name", "was"), ("name", "’s"), ("namn", "är"), ("namn", "var"),
        ("namnet", "är"), ("namnet", "var"), ("heter", "är"), ("kallas", "för"),
        ("kallad", "för"), ("kallades", "för"), ("sig", "som"), ("vid", "namn"),
        ("förnamnet", "är"), ("efternamnet", "är"), ("förnamnet", "var"), ("efternamnet", "var"),
        ("hans", "namn"), ("hennes", "namn"), ("first", "name"), ("last", "name"),
    }
)  # fmt: skip
# "min man Bo", "grannens son Milton", "my neighbour John": a relation after a possessive.
_RELATIONS: Final = frozenset(
    {
        "man", "make", "maken", "fru", "frun", "hustru", "sambo", "sambon", "partner", "son",
        "sonen", "dotter", "dottern", "bror", "brodern", "syster", "systern", "mamma", "pappa",
        "mor", "far", "farbror", "morbror", "faster", "moster", "kusin", "granne", "grannen",
        "kollega", "kollegan", "partikamrat", "chef", "chefen", "vän", "väninna", "kompis",
        "pojkvän", "flickvän", "ex", "exman", "exfru", "ex-man", "ex-fru", "exmake", "ex-make",
        "exsambo", "ex-sambo", "barnbarn", "svärson", "svärdotter",
        "husband", "wife", "daughter", "brother", "sister", "mother", "father", "mum", "mom",
        "dad", "neighbour", "neighbor", "colleague", "boss", "friend", "boyfriend",
        "girlfriend", "cousin", "uncle", "aunt",
    }
)  # fmt: skip
_POSSESSIVES: Final = frozenset(
    {"min", "mitt", "mina", "din", "ditt", "dina", "hans", "hennes", "deras", "vår", "våra",
     "er", "era", "sin", "sina", "my", "his", "her", "their", "our", "your"}
)  # fmt: skip
# Sentence-initial "Per skrev", "Hans ringde": an ambiguous first name followed by a verb of
# writing, calling or coming is a name ("Per dag", "Hans bil" are not followed by one).
_NAME_VERBS: Final = frozenset(
    {
        "skrev", "skriver", "ringde", "ringer", "sa", "sade", "säger", "hotade", "hotar", "kom",
        "kommer", "stod", "står", "följde", "följer", "skickade", "skickar", "mejlade",
        "mejlar", "smsade", "svarade", "ropade", "skrek", "sprang", "körde",
        "wrote", "writes", "called", "calls", "said", "says", "threatened", "came", "followed",
        "sent", "texted", "shouted",
    }
)  # fmt: skip
# A sentence-initial word before one of these is the subject: a name if it is no common word
# ("Gunde stod", "Dzenan har"), or if it is a name that is also a word ("Sten har", "Bo har").
_SUBJECT_VERBS: Final = _NAME_VERBS | frozenset(
    {
        "har", "hade", "stod", "satt", "sitter", "gick", "går", "tog", "tar", "slog", "spottade",
        "filmade", "filmar", "lämnade", "lämnar", "väntade", "väntar", "kastade", "delade", "la",
        "lade", "lägger", "publicerade", "visste", "vet", "brukar", "ville", "vill", "ska",
        "skulle", "kan", "kunde", "måste", "tycker", "tyckte", "startade", "fotograferade",
        "knackade", "dök", "försökte", "tittade", "sms:ade", "has", "had", "keeps", "kept",
        "went", "took", "filmed", "left", "waited", "posted", "told", "knows", "knew",
    }
)  # fmt: skip
# Names that are also pronouns or auxiliaries: a subject only before a verb of _NAME_VERBS.
_NAMING_VERBS: Final = frozenset({"heter", "hette", "named"})
_PRONOUN_LIKE: Final = frozenset({"inga", "will", "may", "can", "said", "hope"})
_PLACE_PREPOSITIONS: Final = frozenset({"i", "på", "vid", "nära", "in", "at", "near"})
_ARTICLES: Final = frozenset({"a", "an", "the", "en", "ett"})
# Words after which a listed name in small letters still counts ("mejl från erik").
_WEAK_CUES: Final = frozenset(
    {"från", "av", "till", "med", "hos", "och", "from", "by", "to", "with", "and", "sa", "said",
     "är", "var", "is", "was"}
)  # fmt: skip
_LOWER_GATE: Final = _STRONG_CUES | _RELATIONS | _NAME_VERBS
_ALIAS = re.compile(
    r"(?i:\b(?:kallar|kallade|kallat)\s+sig(?:\s+för)?|\balias|\bsignatur(?:en)?|"
    r"\banvändarnamn(?:et)?(?:\s+är)?|\bunder\s+(?:namnet|aliaset|signaturen)|\bgoes\s+by|"
    r"\bcall(?:s|ing|ed)\s+(?:him|her|them)sel(?:f|ves)|\buser\s?name(?:\s+is)?|\bnick(?:name)?(?:\s+is)?)"
    r"(?![\w])"
)
# The words after an alias cue: the first that is not an ordinary word ("kallar sig just nu X").
_ALIAS_WORD = re.compile(r"[\s:,]*[\"'“”«»‘’]?(?P<alias>[\w][\w.\-]*[\w]|[\w])")
_ALIAS_LOOKAHEAD = 3
_ALIAS_HINTS = ("kalla", "alias", "signatur", "användarnamn", "under nam", "under alias",
                "goes by", "call", "user", "nick")  # fmt: skip
_PARTICLES: Final = frozenset(
    {"von", "af", "van", "der", "de", "del", "della", "di", "da", "dos", "du", "la", "le", "al",
     "el", "bin", "ibn", "abu", "ben", "ter", "ten", "mac", "mc", "o"}
)  # fmt: skip
_MONTH_WORDS: Final = frozenset(
    {"april", "may", "june", "august", "maj", "juni", "juli", "augusti", "mars", "march", "jan"}
)
_MONTH_CONTEXT: Final = frozenset(
    {"in", "since", "during", "of", "last", "next", "early", "late", "mid", "until", "by", "from",
     "i", "sedan", "under", "från", "till", "början", "slutet", "mitten", "av", "före", "efter",
     "before", "after", "this", "den", "the"}
)  # fmt: skip


class _Lexicon(NamedTuple):
    first: frozenset[str]
    sur: frozenset[str]
    ambiguous: frozenset[str]
    not_names: frozenset[str]
    common: frozenset[str]
    lower_names: frozenset[str]  # names and their genitives, for a quick look at each word


def _read_words(name: str) -> frozenset[str]:
    text = resources.files("bot.reports").joinpath("names", name).read_text(encoding="utf-8")
    words = (w for line in text.splitlines() for w in line.split("#", 1)[0].split())
    return frozenset(unicodedata.normalize("NFC", w).casefold() for w in words)


@cache
def _lexicon() -> _Lexicon:
    first, sur = _read_words("first_names.txt"), _read_words("surnames.txt")
    names = first | sur
    return _Lexicon(
        first=first,
        sur=sur,
        ambiguous=_read_words("ambiguous.txt"),
        not_names=_read_words("not_names.txt"),
        common=_read_words("common_words.txt"),
        lower_names=frozenset(
            form for name in names for form in (name, name + "s", name + "'s", name + "’s")
        ),
    )


# --- word frequencies ----------------------------------------------------------------------

# How common a word is, from `wordfreq` (Swedish: subtitles, Wikipedia, news, web, social media;
# English: its small list). Zipf scale in tenths: 30 is once per million words, 60 once per
# thousand. Only words of Swedish from 2.0 up are kept (about 100,000): anything rarer counts as
# 0, and a word rarer than that is a name, a typo or a compound (checked separately).
_FREQ_FLOOR = 20


class _Frequencies(NamedTuple):
    sv: Mapping[str, int]
    en: Mapping[str, int]


@cache
def _frequencies() -> _Frequencies:
    """Load the frequency lists once, on first use (about 0.07 s and 15 MB)."""
    frequencies = _Frequencies(
        _read_frequencies("large_sv.msgpack.gz", _FREQ_FLOOR),
        _read_frequencies("small_en.msgpack.gz", 0),
    )
    if not frequencies.sv:
        # Every word then counts as a word (`_is_word`): names are found from the lists alone,
        # as before the frequencies, rather than every rare capitalised word being redacted.
        logging.getLogger(__name__).warning(
            "wordfreq's Swedish list could not be read: names in no list will be missed"
        )
    return frequencies


def _read_frequencies(name: str, floor: int) -> dict[str, int]:
    """Words of `wordfreq`'s list `name` as common as `floor` or more, in tenths of Zipf.

    The list is read as a stream, without importing `wordfreq` (its import alone takes 0.1 s
    and 14 MB for tokenisers this module does not use) and without decoding the rarer words.
    The format is wordfreq's "cB" version 1: a header, then one list of words per centibel of
    frequency, the most common first. Anything unexpected leaves the table empty: the name
    lists still work, and a test fails.
    """
    spec = importlib.util.find_spec("wordfreq")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    table: dict[str, int] = {}
    try:
        with gzip.open(path, "rb") as stream:
            unpacker = msgpack.Unpacker(stream, raw=False)
            size = unpacker.read_array_header()
            header = unpacker.unpack()
            if not isinstance(header, dict) or (header.get("format"), header.get("version")) != (
                "cB",
                1,
            ):
                return {}
            for i in range(size - 1):
                zipf = 90 - i // 10  # bucket i: frequency 10^(-i/100), Zipf 9 - i/100
                if zipf < floor:
                    break
                for word in unpacker.unpack():
                    if isinstance(word, str) and (word.isalpha() or "-" in word):
                        table[word] = zipf
    except Exception:  # a broken or changed data file: fall back to the lists
        return {}
    return table


def _zipf(key: str) -> tuple[int, int]:
    """(Swedish, English) frequency of a case-folded word, in tenths of Zipf; 0 if rare."""
    freq = _frequencies()
    return freq.sv.get(key, 0), freq.en.get(key, 0)


def _is_word(key: str, sv_below: int = 35, en_below: int = 40) -> bool:
    """An ordinary word: common in Swedish or English, or a compound of Swedish words."""
    if not _frequencies().sv:
        return True  # no frequencies: only the lists tell a name
    if key.endswith(("'s", "’s")):  # "report's"
        key = key[:-2]
    sv, en = _zipf(key)
    return (
        sv >= sv_below
        or en >= en_below
        or (len(key) >= 7 and key.endswith(_WORD_ENDINGS))
        or _is_compound(key)
        or (key.endswith("s") and len(key) > 4 and _is_word(key[:-1], sv_below, en_below))
    )


# Endings of Swedish derived and inflected words ("inloggningen", "trakasserierna",
# "ordförandeskapet"): a long word that ends so is a word even when it is rare.
_WORD_ENDINGS = (
    "ningen", "ningar", "ningarna", "ingen", "heten", "heter", "andet", "endet", "andet",
    "arna", "erna", "orna", "skap", "skapet", "tion", "tionen", "tioner", "ligt", "liga",
    "iska", "istisk", "erier", "eriet", "ande", "ende", "else", "elsen", "mässig", "aren", "erad",
    "erade", "erat", "ering", "eringen",
)  # fmt: skip


def _is_compound(key: str) -> bool:
    """A Swedish compound ("dörrkarmen", "partikansliet", "facebookgruppen"): a common first part,
    with or without a linking s, and a known word of four letters or more after it."""
    sv = _frequencies().sv
    for cut in range(3, len(key) - 3):
        tail = sv.get(key[cut:], 0)
        if tail < 25:
            continue
        if tail >= 40 and len(key) - cut >= 5:  # "Medborgarhuset": a common word at the end
            return True
        head = key[:cut]
        if head.endswith("s"):  # a linking s: "Solviksskolan", "säkerhetssamordnaren"
            head = head[:-1] if sv.get(head, 0) < 30 else head
        if sv.get(head, 0) >= 30 or _not_a_name(head, _lexicon()):
            return True
    return "-" in key and all(sv.get(part, 0) >= 30 for part in key.split("-") if part)


# Token classes for names.
_NONE, _ANCHOR, _WEAK, _UNKNOWN, _LOWER, _INITIAL, _PARTICLE, _LOWAMB, _LOWRARE = range(9)


class _Token(NamedTuple):
    start: int
    end: int
    cls: int
    first: bool  # a first name (listed), or a weak first-name-like word
    sur: bool  # a listed or surname-like word
    lower: bool  # written in small letters


# --- the public API ------------------------------------------------------------------------


def anonymise(text: str) -> Redacted:
    """Redact personal data in `text`; never raises for any string."""
    text = unicodedata.normalize("NFC", text) if text else ""
    if not text.strip():
        return Redacted(text, ())
    spans = _merge(_candidates(text))
    parts: list[str] = []
    position = 0
    for span in spans:
        parts.append(text[position : span.start])
        parts.append(PLACEHOLDERS[span.kind])
        position = span.end
    parts.append(text[position:])
    return Redacted("".join(parts), tuple(Finding(s.kind, s.start, s.end) for s in spans))


def redact_lines(lines: Iterable[str]) -> Iterator[str]:
    """Anonymise line by line, keeping each line's ending: `writelines(redact_lines(stdin))`."""
    for line in lines:
        body = line.rstrip("\r\n")
        yield anonymise(body).text + line[len(body) :]


# --- detection -----------------------------------------------------------------------------


def _candidates(text: str) -> list[_Span]:
    spans: list[_Span] = []
    add = spans.append
    lowered = text.lower()  # for quick looks at cue words; offsets are taken from `text`
    if _ANY_DIGIT.search(text):
        _find_personnummer(text, add)
        _find_case_numbers(text, lowered, add)
        _find_ips(text, add)
        _find_phones(text, spans, add)
        _find_plates(text, lowered, add)
        _find_addresses(text, add)
        _find_postcodes(text, lowered, add)
    if "@" in text or any(hint in lowered for hint in _AT_HINTS):
        for m in _EMAIL.finditer(text):
            add(_span(m.start(), m.end(), "email"))
    if any(hint in lowered for hint in _SPELLED_HINTS):
        for m in _SPELLED_EMAIL.finditer(text):
            if m.group("local").casefold() not in _NOT_LOCAL:
                add(_span(m.start(), m.end(), "email"))
    if any(hint in lowered for hint in _PLATFORM_HINTS) or any(
        hint in text for hint in _PLATFORM_SHORT_HINTS
    ):
        _find_platform_handles(text, add)
    if _URL_HINT.search(text):
        _find_urls(text, add)
    if "@" in text:
        for m in _HANDLE.finditer(text):
            add(_span(m.start(), m.end(), "handle"))
    _find_cued_addresses(text, lowered, add)
    _find_names(text, lowered, add)
    return spans


def _span(start: int, end: int, kind: str, rank: int | None = None) -> _Span:
    return _Span(start, end, kind, _RANK[kind] if rank is None else rank)


def _merge(spans: list[_Span]) -> list[_Span]:
    """Merge overlapping spans into one each: the most specific kind, then the longest, wins."""
    if not spans:
        return []
    spans.sort(key=lambda s: (s.start, -s.end))
    merged: list[_Span] = []
    start, end, best = spans[0].start, spans[0].end, spans[0]
    for span in spans[1:]:
        if span.start < end:
            end = max(end, span.end)
            if _better(span, best):
                best = span
        else:
            merged.append(_Span(start, end, best.kind, best.rank))
            start, end, best = span.start, span.end, span
    merged.append(_Span(start, end, best.kind, best.rank))
    return merged


def _better(a: _Span, b: _Span) -> bool:
    # A name never beats structured data; otherwise rank, then length.
    key_a = (a.kind != "name", a.rank, a.end - a.start)
    key_b = (b.kind != "name", b.rank, b.end - b.start)
    return key_a > key_b


_Add: TypeAlias = Callable[[_Span], None]


def _find_personnummer(text: str, add: _Add) -> None:
    if any(dash in text for dash in "-+–—‐−"):
        for m in _PERSONNUMMER_DATED.finditer(text):
            add(_span(m.start(), m.end(), "personnummer"))
    for m in _PERSONNUMMER.finditer(text):
        date, sep = m.group("date"), m.group("sep")
        rank = None
        if len(date) == 6 and date.startswith("0") and (sep is None or not sep.strip()):
            # "0701234567", "070123 4567": a phone number just as well; a phone number wins.
            rank = _RANK["phone"] - 1
        add(_span(m.start(), m.end(), "personnummer", rank))


def _find_case_numbers(text: str, lowered: str, add: _Add) -> None:
    if "k" in lowered:
        for m in _CASE_NUMBER.finditer(text):
            add(_span(m.start(), m.end(), "case"))
    if any(hint in lowered for hint in _CASE_HINTS):
        for m in _CASE_CUED.finditer(text):
            add(_span(m.start("cued"), m.end("cued"), "case"))


def _digits(s: str) -> str:
    return "".join(c for c in s if c.isdigit())


def _find_phones(text: str, known: list[_Span], add: _Add) -> None:
    # Numbers written the Swedish or the international way first; `phonenumbers` then reads
    # what is left (it parses each candidate in Python: about 0.2 ms a number), without the
    # personnummer, case numbers and IP addresses already found.
    found: list[tuple[int, int]] = []
    for m in _PHONE_FALLBACK.finditer(text):
        digits = _digits(m.group())
        if 8 <= len(digits) <= 15 and not _DATE_LIKE.fullmatch(m.group()):
            found.append((m.start(), m.end()))
    rest = text
    masked = sorted([*found, *((s.start, s.end) for s in known)])
    if masked:
        pieces, position = [], 0
        for start, end in masked:
            start = max(start, position)
            if start >= end:
                continue
            pieces += [text[position:start], " " * (end - start)]
            position = end
        rest = "".join([*pieces, text[position:]])
    if _MAYBE_PHONE.search(rest):
        try:
            matcher = phonenumbers.PhoneNumberMatcher(
                rest, "SE", leniency=phonenumbers.Leniency.VALID, max_tries=_PHONE_TRIES
            )
            found.extend((match.start, match.end) for match in matcher)
        except Exception:  # the library on an odd string: keep what the pattern found
            pass
    for start, end in found:
        if _digits(text[start:end]) not in _SHORT_NUMBERS:
            add(_span(start, end, "phone"))


def _find_platform_handles(text: str, add: _Add) -> None:
    platforms = [m.span() for m in _PLATFORM.finditer(text)]  # rare: most texts stop here
    if not platforms:
        return
    for m in _HANDLE_WORD.finditer(text):
        word = m.group()
        shaped = _looks_like_a_handle(word)
        if not shaped:
            # A plain word: only in small letters right after a cue ("som bangenlive").
            before = text[max(0, m.start() - 20) : m.start()].rstrip()
            if not word.islower() or not (
                before.endswith(":") or before[-12:].rpartition(" ")[2].lower() in _HANDLE_CUE_WORDS
            ):
                continue
        if (
            sum(c.isalpha() for c in word) < 2
            or len(word) <= 3  # "mp3", "P4", "v.12"
            or (word.upper() == word and "_" not in word and "." not in word)  # "SVT2", "G4S"
            or ("." in word and _is_host(word))
            or _not_a_name(word.casefold(), _lexicon())  # "WhatsApp", "YouTube"
        ):
            continue
        # The nearest platform before and after the word, within the window and the sentence.
        after = bisect_left(platforms, (m.start(), -1))
        near = [
            text[end : m.start()] if end <= m.start() else text[m.end() : start]
            for start, end in platforms[max(0, after - 1) : after + 1]
            if not start <= m.start() < end
            and (0 <= m.start() - end < _HANDLE_WINDOW or 0 <= start - m.end() < _HANDLE_WINDOW)
        ]
        if not near or all(_SENTENCE_END.search(gap) for gap in near):
            continue
        if not shaped and (word in _lexicon().lower_names or _is_word(word)):
            continue  # no account name, but a word or a name
        add(_span(m.start(), m.end(), "handle"))


def _looks_like_a_handle(word: str) -> bool:
    """An underscore, a dot or a digit inside, or a capital after a small letter."""
    if word.isalpha():  # most words: one quick test
        return not word[1:].islower() and not word.isupper() and bool(_HANDLE_SHAPE.search(word))
    return bool(_HANDLE_SHAPE.search(word))


def _is_host(word: str) -> bool:
    return word.rsplit(".", 1)[-1].casefold() in _TLD_SET


def _find_ips(text: str, add: _Add) -> None:
    if "." in text:
        for m in _IPV4.finditer(text):
            add(_span(m.start(), m.end(), "ip"))
    if text.count(":") >= 2:
        for m in _IPV6.finditer(text):
            candidate = m.group()
            if sum(c.isalnum() for c in candidate) < 3:
                continue
            try:
                ipaddress.IPv6Address(candidate)
            except ValueError:
                continue
            add(_span(m.start(), m.end(), "ip"))


def _find_plates(text: str, lowered: str, add: _Add) -> None:
    common = _lexicon().common
    for m in _PLATE.finditer(text):
        letters = m.group()[:3]
        if letters in _PLATE_STOP or letters.casefold() in common:
            continue
        add(_span(m.start(), m.end(), "plate"))
    if not any(hint in lowered for hint in _PLATE_HINTS):
        return
    for m in _PLATE_ANY_CASE.finditer(text):
        if m.group()[:3].isupper():
            continue  # handled above
        window = text[max(0, m.start() - 40) : m.start()]
        if _PLATE_CUE.search(window):
            add(_span(m.start(), m.end(), "plate"))


def _find_addresses(text: str, add: _Add) -> None:
    for m in _ADDRESS.finditer(text):
        street = m.group("one") or m.group("cap")
        if street is not None and street.casefold() in _NOT_STREETS:
            continue  # "vägen 3" alone; "Norra Vägen 3" is a street
        end = m.end()
        while end > m.start() and text[end - 1] in " \u00a0,":
            end -= 1
        add(_span(m.start(), end, "address"))


def _find_cued_addresses(text: str, lowered: str, add: _Add) -> None:
    if not any(hint in lowered for hint in _ADDRESS_HINTS):
        return
    for m in _ADDRESS_CUED.finditer(text):
        street = m.group("street")
        if street.casefold() in _NOT_STREETS:
            continue
        if street[0].islower() and not _LOWER_STREET.search(street):
            continue
        add(_span(m.start("street"), m.end("street"), "address"))


def _find_postcodes(text: str, lowered: str, add: _Add) -> None:
    for m in _POSTCODE.finditer(text):
        if _digits(m.group()) in _SHORT_NUMBERS:
            continue
        place = _PLACE_AFTER.match(text, m.end())
        if place is None or place.group("word").casefold() in _POSTCODE_NOT_BEFORE:
            continue
        add(_span(m.start(), m.end(), "postcode"))
    if "post" in lowered or "zip" in lowered:
        for m in _POSTCODE_CUED.finditer(text):
            add(_span(m.start("cued"), m.end("cued"), "postcode"))


def _host_and_path(url: str) -> tuple[str, str]:
    rest = _HOST_PREFIX.sub("", url, count=1)
    cut = len(rest)
    for sep in "/?#":
        i = rest.find(sep)
        if i != -1:
            cut = min(cut, i)
    return rest[:cut].casefold(), rest[cut:]


def _find_urls(text: str, add: _Add) -> None:
    for m in _URL.finditer(text):
        url = m.group()
        end = m.end()
        while url and url[-1] in _URL_TRAILING:
            if url[-1] == ")" and url.count("(") >= url.count(")"):
                break
            url = url[:-1]
            end -= 1
        if not url:
            continue
        host, path = _host_and_path(url)
        path = path.rstrip("/")
        if host in _OFFICIAL_HOSTS or (not path and host in _PUBLIC_HOSTS):
            continue
        if "." not in host and not url.casefold().startswith(("http", "www")):
            continue
        kind = "handle" if path and host in _SOCIAL_HOSTS else "url"
        add(_span(m.start(), end, kind))


# --- names ---------------------------------------------------------------------------------


def _find_names(text: str, lowered: str, add: _Add) -> None:
    lex = _lexicon()
    if any(hint in lowered for hint in _ALIAS_HINTS):
        for m in _ALIAS.finditer(text):
            position = m.end()
            for _ in range(_ALIAS_LOOKAHEAD):
                word = _ALIAS_WORD.match(text, position)
                if word is None:
                    break
                if word.group("alias").casefold() not in lex.common:
                    add(_span(word.start("alias"), word.end("alias"), "name"))
                    break
                position = word.end()
    _mark_names(_name_tokens(text, lex), add)


def _lookup(word: str, lex: _Lexicon) -> tuple[bool, bool, str]:
    """(first name?, surname?, the form looked up), trying the word, then its genitive base."""
    key = word.casefold()
    forms = [key]
    if key.endswith(("'s", "’s")):
        forms.append(key[:-2])
    elif key.endswith("s") and len(key) > 3:
        forms.append(key[:-1])
    for form in forms:
        first, sur = form in lex.first, form in lex.sur
        if first or sur:
            return first, sur, form
    if "-" in key:  # "Lars-Göran", "Svensson-Lind": a compound of names is no ordinary word
        parts = [part for part in key.split("-") if len(part) > 1]
        first = bool(parts) and parts[0] in lex.first
        sur = any(part in lex.sur for part in parts)
        if first or sur or any(part in lex.first for part in parts):
            return first or not sur, sur, key
    return False, False, key


class _Context(NamedTuple):
    initial: bool  # first word of a sentence, a line or the text
    strong: bool  # after "heter", "Mr", "min man", ...
    naming: bool  # right after "heter", "hette", "named": a name or a small word follows
    weak_cue: bool  # after "från", "till", "med", ...
    previous: str  # the previous word, case-folded
    following: str  # the next word, case-folded, when only spaces separate them
    dotted: bool  # a full stop follows at once ("A. Svensson")
    all_lower: bool  # the whole text is in small letters: capitals tell nothing


def _name_tokens(text: str, lex: _Lexicon) -> list[tuple[_Token, bool]]:
    """Classify the words that may be part of a name: (token, joined to the one before)."""
    words = list(_WORD.finditer(text))
    all_lower = text.islower() and len(words) > 3  # not "ok", "tack": a text of a few words
    out: list[tuple[_Token, bool]] = []
    last = -2  # index of the last word kept
    key = previous_key = ""
    for i, m in enumerate(words):
        word = m.group()
        before_previous, previous_key, key = previous_key, key, word.casefold()
        if word[0].isupper():
            if key in lex.common or (
                key not in lex.lower_names
                and (_not_a_name(key, lex) or (len(word) > 1 and word.isupper()))
                and not ("-" in key and any(p in lex.lower_names for p in key.split("-")))
            ):
                continue  # an ordinary word, a place, an abbreviation
        elif (
            key not in lex.lower_names
            and key not in _PARTICLES
            and (key in lex.common or not all_lower)
            and (
                i == 0
                or key in lex.common
                or (
                    previous_key not in _LOWER_GATE
                    and (before_previous, previous_key) not in _STRONG_CUE_PAIRS
                    and (last != i - 1 or text[words[i - 1].end() : m.start()] != " ")
                )
            )
        ):
            # Most words: in small letters and no name. A word in no list counts only after a
            # cue ("heter dzenan", "ringde vedran") or next to a name ("ahmed karimi").
            continue
        gap = text[words[i - 1].end() : m.start()] if i else text[: m.start()]
        p1 = previous_key
        p2 = before_previous
        if gap == " ":
            cue_gap, initial, adjacent = True, False, True
        else:
            cue_gap = i > 0 and (gap == "" or bool(_CUE_GAP.fullmatch(gap)))
            initial = i == 0 or bool(_SENTENCE_BREAK.search(gap))
            adjacent = bool(_ADJACENT.fullmatch(gap))
        relation = p1 in _RELATIONS and (
            p2 in _POSSESSIVES or p2.endswith("s") or p1.endswith(("en", "an", "n"))
        )
        following = ""
        if i + 1 < len(words):
            after = text[m.end() : words[i + 1].start()]
            if after == " " or _ADJACENT.fullmatch(after):
                following = words[i + 1].group().casefold()
        context = _Context(
            initial=initial,
            strong=cue_gap and (p1 in _STRONG_CUES or (p2, p1) in _STRONG_CUE_PAIRS or relation),
            naming=gap == " " and p1 in _NAMING_VERBS,
            weak_cue=p1 in _WEAK_CUES,
            previous=p1,
            following=following,
            dotted=text.startswith(".", m.end()),
            all_lower=all_lower,
        )
        token = _Token(m.start(), m.end(), *_classify(word, context, lex), word[0].islower())
        if token.cls == _NONE:
            continue
        joined = last == i - 1 and (
            adjacent or (out[-1][0].cls == _INITIAL and bool(_AFTER_INITIAL.fullmatch(gap)))
        )
        out.append((token, joined))
        last = i
    return out


def _not_a_name(key: str, lex: _Lexicon) -> bool:
    """A place, an authority, a month, ... or its genitive ("Stockholms", "Polisens")."""
    if key.endswith(("'s", "’s")):
        key = key[:-2]
    return key in lex.not_names or (key.endswith("s") and key[:-1] in lex.not_names)


def _is_title(word: str) -> bool:
    return all(part[:1].isupper() and part[1:].islower() for part in word.split("-"))


def _classify(word: str, c: _Context, lex: _Lexicon) -> tuple[int, bool, bool]:
    """The class of one word: (class, first-name-like, surname-like)."""
    if len(word) == 1:
        if word.isupper() and (c.dotted or word not in {"I", "A", "O", "Å"}):
            return _INITIAL, False, False
        return _NONE, False, False
    key = word.casefold()
    first, sur, form = _lookup(word, lex)
    listed = first or sur
    if not word[0].isupper():
        if key in _PARTICLES:
            return _PARTICLE, False, False
        if key in lex.common or len(form) < 2 or (len(form) < 3 and form not in lex.ambiguous):
            return _NONE, False, False
        if listed:
            if c.strong:
                return _ANCHOR, first, sur
            if form in lex.ambiguous or len(form) < 3:  # "per", "bo": only with a surname
                return _LOWAMB, first, sur
            if (
                (c.weak_cue and not c.initial)
                or c.previous in _NAME_VERBS
                or c.following in _NAME_VERBS
            ):
                return _ANCHOR, first, sur
            if (first or c.all_lower) and len(form) >= 4 and c.previous not in _ARTICLES:
                # A first name that is no word, written in small letters ("såg jag bengt
                # igen"); names that are also words are in ambiguous.txt.
                return _ANCHOR, first, sur
            return _LOWER, first, sur
        # In no list: a name after a cue if it is no common word ("heter dzenan"), after a verb
        # of calling or writing if it is rare ("ringde vedran"), after a name if rare.
        if c.strong and not _is_word(key, 45 if c.naming else 35):  # not "heter det"
            return _ANCHOR, True, False
        if not _is_word(key, 25, 30):
            if c.previous in _NAME_VERBS or (
                # All in small letters: a rare word where a person often stands ("dzenan
                # skickade", "att lehtonen har", "från dragomir"), not a place ("i solvik").
                c.all_lower
                and len(key) >= 4
                and (c.initial or c.following in _SUBJECT_VERBS or c.weak_cue)
                and c.previous not in _PLACE_PREPOSITIONS
                and not _not_a_name(key, lex)
                and not _is_word(key, 20, 30)
            ):
                return _ANCHOR, True, False
            return _LOWRARE, False, True
        return _NONE, False, False
    if key in lex.common or form in lex.common:
        return _NONE, False, False
    if word.isupper():  # capitals: only listed, unambiguous names
        if listed and form not in lex.ambiguous and key not in lex.not_names and len(form) > 2:
            return _ANCHOR, first, sur
        return (_ANCHOR if c.strong and listed else _NONE), first, sur
    if key in _MONTH_WORDS and (
        c.previous in _MONTH_CONTEXT or c.previous.isdigit() or c.following.isdigit()
    ):
        return _NONE, False, False
    if _not_a_name(key, lex) or form in lex.not_names:
        if listed:  # "Mark has", "Lund skrev": a place would not write
            person = c.strong or c.following in _NAME_VERBS or c.following in {"has", "had"}
            return (_ANCHOR if person else _WEAK), first, sur
        return _NONE, False, False
    if c.strong:
        return _ANCHOR, first or not sur, sur
    if listed:
        if form in lex.ambiguous or len(form) < 3:
            if c.previous in _ARTICLES:  # "a Tor exit node", "en Stig"
                return _NONE, False, False
            if (
                key in _POSSESSIVES  # "Hans Instagramkonto", but "Hans Andersson"
                and c.following not in lex.lower_names
                and c.following not in _SUBJECT_VERBS
                and c.following
                and _is_word(c.following, 30, 40)
            ):
                return _NONE, False, False
            # "Per dag" or "Per skrev": at the start of a sentence, only before a verb.
            verbs = _NAME_VERBS if form in _PRONOUN_LIKE else _SUBJECT_VERBS
            subject = c.following in verbs
            weak = not subject and (len(form) < 3 or c.initial)
            return (_WEAK if weak else _ANCHOR), first, sur
        return _ANCHOR, first, sur
    if len(word) >= 5 and _is_title(word) and _SURNAME_LIKE.search(key):
        return (_WEAK if c.initial else _ANCHOR), False, True
    # In no list and no common word: a name, and at the start of a sentence if it is rare or
    # the subject of a verb ("Dzenan skickade", "Gunde stod"); after "i", "på" a place.
    if (
        len(word) >= 3
        and _is_title(word)
        and c.previous not in _PLACE_PREPOSITIONS
        and not _is_word(key)
        and (not c.initial or c.following in _SUBJECT_VERBS or not _is_word(key, 20, 30))
    ):
        return _ANCHOR, False, True
    return _UNKNOWN, False, False


def _mark_names(tokens: list[tuple[_Token, bool]], add: _Add) -> None:
    """Group adjacent name words into runs and mark which of them are a name."""
    run: list[_Token] = []
    for token, joined in tokens:
        if not joined:
            _emit_run(run, add)
            run = []
        run.append(token)
    _emit_run(run, add)


def _emit_run(run: list[_Token], add: _Add) -> None:
    if not run:
        return
    n = len(run)
    marked = [t.cls == _ANCHOR for t in run]
    for i in range(n - 1):
        a, b = run[i], run[i + 1]
        # A first name and a surname, or a first name and any capitalised word.
        if a.cls in (_ANCHOR, _WEAK) and a.first and b.cls in (_ANCHOR, _WEAK, _UNKNOWN):
            marked[i] = marked[i + 1] = True
        if a.cls in (_ANCHOR, _WEAK) and b.cls in (_ANCHOR, _WEAK) and (a.first or b.sur):
            marked[i] = marked[i + 1] = True
        # An unknown or weak word before a surname: its first name ("Zlatko Andersson").
        if b.cls == _ANCHOR and b.sur and not b.first and a.cls in (_UNKNOWN, _WEAK):
            marked[i] = True
        # Small letters: "anna svensson", "per andersson", "jonny svärd", "emir hodzic", and
        # "Anna svensson"; but not two names that are also words ("hans berg").
        if (
            b.sur
            and (b.cls in (_LOWER, _LOWAMB) or (b.cls == _ANCHOR and b.lower))
            and (
                marked[i]
                or (a.first and a.cls == _LOWER)
                or (a.first and a.cls == _LOWAMB and b.cls != _LOWAMB)
            )
        ):
            marked[i] = marked[i + 1] = True
        if b.cls == _LOWRARE and a.cls == _LOWER and a.first:
            marked[i] = marked[i + 1] = True
    # Chains: a capitalised word after a name, an initial next to one, a particle between two.
    for i in range(1, n):
        if marked[i - 1] and run[i].cls in (_UNKNOWN, _WEAK, _INITIAL, _LOWRARE):
            marked[i] = True
    for i in range(n - 2, -1, -1):
        if marked[i + 1] and run[i].cls == _INITIAL:
            marked[i] = True
    for i in range(1, n - 1):
        if run[i].cls == _PARTICLE and marked[i - 1] and run[i + 1].cls != _LOWER:
            marked[i] = marked[i + 1] = True
    i = 0
    while i < n:
        if not marked[i] or run[i].cls == _PARTICLE:
            i += 1
            continue
        j = i
        while j + 1 < n and marked[j + 1]:
            j += 1
        while j > i and run[j].cls == _PARTICLE:
            j -= 1
        add(_span(run[i].start, run[j].end, "name"))
        i = j + 1
