"""The incident report: its coded fields, the form's steps, and the stored report.

Codes are stable ids used in storage, statistics and export (DOMAIN.md); labels live in the
message catalogs as `field.<field>.<code>`. Nothing here identifies the reporter: a report holds
codes, a month, the organisation, a redacted description, a reference and its workflow state.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

TYPES = (
    "hot", "trakasserier", "nathat", "sexuella", "forfoljelse", "doxning", "vald",
    "skadegorelse", "stold", "paverkan", "forsandelse", "annat",
)  # fmt: skip
CHANNELS = (
    "sociala_medier", "epost", "sms_chatt", "telefon", "brev", "ansikte", "bostaden",
    "narstaende", "annat",
)  # fmt: skip
# "Don't know" and "still going on" are answers, not gaps: a frightened reporter need not guess.
REPEATED = ("ja", "nej", "pagar", "vet_inte")
PERPETRATORS = ("kand", "alias", "okand", "vet_inte")
POLICE = ("ja", "planerar", "nej")
IMPACTS = ("avstod", "overvagt", "rutiner", "ingen")
GENDERS = ("kvinna", "man", "annat", "vill_ej")
CONTACT_ME = ("ja", "nej")

# The form's steps in order; `month` and `description` are not coded choices. The free text
# comes first, as free recall in the reporter's own words, before any box to tick (optional).
STEPS = (
    "description", "type", "channel", "month", "repeated", "perpetrator", "police", "impact",
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


class State(enum.StrEnum):
    NEW = "new"
    ACKNOWLEDGED = "acknowledged"
    CLOSED = "closed"


@dataclass
class Draft:
    """A half-filled report, kept per user until it is sent or cancelled.

    Stored after every step, so it survives a restart (also kill -9). The description in it is
    already redacted: personal data never reaches the disk.
    """

    org_id: str
    step: str = STEPS[0]
    values: dict[str, Any] = field(default_factory=dict)
    editing: bool = False  # reached the summary once: a changed field goes back to the summary

    def impacts(self) -> list[str]:
        chosen = self.values.get("impact") or []
        return [code for code in IMPACTS if code in chosen]


@dataclass(frozen=True)
class Report:
    """A sent report as stored: codes only, a redacted description, and its workflow."""

    id: int
    ref: str
    org_id: str
    type: str
    channel: str
    month: str  # YYYY-MM, never a finer date
    repeated: bool
    perpetrator: str
    police: str
    impacts: tuple[str, ...]
    gender: str | None
    description: str | None  # redacted
    contact_me: bool
    state: State
    created_at: datetime
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None  # a contact id of the routine, never a person
    closed_at: datetime | None = None
    reminded_at: datetime | None = None
    escalated_at: datetime | None = None
    # The answer to "has it happened more than once?" as its code (REPEATED); None for reports
    # stored before "pagar" and "vet_inte" existed, whose answer `repeated` holds.
    repeated_code: str | None = None
    # MONTH_UNKNOWN when the reporter did not know the month: `month` is then when it was sent.
    month_code: str | None = None

    def repeated_answer(self) -> str:
        """The code of the answer about repetition: ja, nej, pagar or vet_inte."""
        if self.repeated_code is not None and self.repeated_code in REPEATED:
            return self.repeated_code
        return "ja" if self.repeated else "nej"


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
