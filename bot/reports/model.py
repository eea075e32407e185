"""The incident report: its coded fields, the form's steps, and the stored report.

Codes are stable ids used in storage, statistics and export (DOMAIN.md); labels live in the
message catalogs as `field.<field>.<code>`. Nothing here identifies the reporter: a report holds
codes, a month, the organisation, a redacted description, a reference and its workflow state.
"""

from __future__ import annotations

import secrets
from datetime import datetime

# The stored records and the codes they read are storage's (bot/storage/records.py), so that
# storage never imports the domain; the domain sees them here as its own.
from bot.storage import FIRST_STEP
from bot.storage import IMPACTS as IMPACTS
from bot.storage import REPEATED as REPEATED
from bot.storage import Draft as Draft
from bot.storage import Report as Report
from bot.storage import State as State

TYPES = (
    "hot", "trakasserier", "nathat", "sexuella", "forfoljelse", "doxning", "vald",
    "skadegorelse", "stold", "paverkan", "forsandelse", "annat",
)  # fmt: skip
CHANNELS = (
    "sociala_medier", "epost", "sms_chatt", "telefon", "brev", "ansikte", "bostaden",
    "narstaende", "annat",
)  # fmt: skip
PERPETRATORS = ("kand", "alias", "okand", "vet_inte")
POLICE = ("ja", "planerar", "nej")
GENDERS = ("kvinna", "man", "annat", "vill_ej")
CONTACT_ME = ("ja", "nej")

# The form's steps in order; `month` and `description` are not coded choices. The free text
# comes first, as free recall in the reporter's own words, before any box to tick (optional).
STEPS = (
    FIRST_STEP, "type", "channel", "month", "repeated", "perpetrator", "police", "impact",
    "gender", "contact_me", "summary",
)  # fmt: skip
CHOICES: dict[str, tuple[str, ...]] = {
    "type": TYPES,
    "channel": CHANNELS,
    "repeated": REPEATED,
    "perpetrator": PERPETRATORS,
    "police": POLICE,
    "impact": IMPACTS,
    "gender": GENDERS,
    "contact_me": CONTACT_ME,
}
OPTIONAL_STEPS = frozenset({"gender", "description"})
MONTHS_OFFERED = 12
# "Don't know when": memory of dates often fails after a frightening event. Such a report is
# stored under the month it was sent (statistics need a month; the incident was then or before)
# with `month_code` saying the month is not the incident's.
MONTH_UNKNOWN = "vet_inte"
DESCRIPTION_LIMIT = 2000

# Situations of the routines whose answer has a "Report this" button, and the type (a code of
# TYPES) their report starts with; the form then passes the type step over. A situation not
# named here gets the button too, and its report asks for the type.
SITUATION_TYPES: dict[str, str] = {
    "hot": "hot",
    "nathat": "nathat",
    "forfoljelse": "forfoljelse",
    "narstaende": "hot",
    "skadegorelse": "skadegorelse",
    "forsandelse": "forsandelse",
    "sexuella": "sexuella",
    "paverkan": "paverkan",
    "akut": "hot",
    "efter": "annat",
    "oro": "annat",
}

# Crockford-style alphabet without 0/O, 1/I/L, U: a reference read over the phone stays clear.
_REF_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_reference() -> str:
    """A short random reference such as `R-7K3M9Q` (30^6 ≈ 7.3e8 values)."""
    return "R-" + "".join(secrets.choice(_REF_ALPHABET) for _ in range(6))


def report_from_draft(draft: Draft, ref: str, now: datetime) -> Report:
    """The report a complete draft becomes; id 0 until stored."""
    v = draft.values
    unknown = v["month"] == MONTH_UNKNOWN
    return Report(
        id=0,
        ref=ref,
        org_id=draft.org_id,
        type=v["type"],
        channel=v["channel"],
        month=f"{now:%Y-%m}" if unknown else v["month"],
        repeated=v["repeated"] in ("ja", "pagar"),
        perpetrator=v["perpetrator"],
        police=v["police"],
        impacts=tuple(draft.impacts()),
        gender=v.get("gender"),
        description=v.get("description"),
        contact_me=v["contact_me"] == "ja",
        state=State.NEW,
        created_at=now,
        repeated_code=v["repeated"],
        month_code=MONTH_UNKNOWN if unknown else None,
    )


def missing_steps(draft: Draft) -> list[str]:
    """Required steps without a value: Send is refused until this is empty."""
    required = [s for s in STEPS if s not in OPTIONAL_STEPS and s != "summary"]
    return [s for s in required if not draft.values.get(s)]
