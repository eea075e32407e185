"""What storage stores and gives back: plain records, importing no domain package.

The domain packages (bot/reports, bot/stats, ...) and the edge import these through the
`bot.storage` facade; storage itself never imports the domain, so the two cannot form a loop.
Values of the enums and codes are stored, so they never change.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


class StorageError(RuntimeError):
    """The database cannot be used as this module requires (a setting did not take effect)."""


class Role(enum.StrEnum):
    """What a membership allows; the values are stored, so they never change."""

    MEMBER = "member"
    COORDINATOR = "coordinator"
    NATIONAL = "national"


class InviteFailure(enum.Enum):
    """Why an invite code cannot be used, in the order they are checked.

    The order matters for what the user is told: a code that has both expired and run out of
    uses is reported as expired, which is the reason the person who invited them can act on
    (send a fresh link).
    """

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED_UP = "used_up"


class DuplicateReference(Exception):
    """A report with this reference exists already; nothing was stored. Draw a new one, retry."""

    def __init__(self, ref: str) -> None:
        super().__init__(f"report reference {ref} is taken")
        self.ref = ref


@dataclass(frozen=True)
class OutboxItem:
    """A message to queue: to a chat (a coordinator), or to the reporter of a report.

    `payload` is sealed JSON (`Sealer.seal_json`) of `{"text": html, "buttons": [[{"text",
    "callback_data"}]] | None, "photo": None}`: the database file never holds message text.
    `dedupe` names the logical message: queueing the same name twice sends it once, so it must
    be derived from what the message is about (`report:<ref>:<coordinator>`), never random, and
    never contain a reporter's id or text.

    A message to the reporter (`to_reporter=True`) has no chat id: the sender looks up the
    sealed chat of `report_id` when it sends, so a reporter who removed the link gets nothing.

    `not_before` holds a message back until then (a reminder queued in quiet hours waits for
    their end); None sends it as soon as the sender gets to it.
    """

    dedupe: str
    payload: bytes
    chat_id: int | None = None
    to_reporter: bool = False
    report_id: int | None = None
    urgent: bool = False
    not_before: datetime | None = None

    def __post_init__(self) -> None:
        if not self.dedupe:
            raise ValueError("an outbox item needs a dedupe key")
        if self.to_reporter and self.chat_id is not None:
            raise ValueError("a message to the reporter is addressed by report, never by chat id")
        if not self.to_reporter and self.chat_id is None:
            raise ValueError("an outbox item needs a chat_id, or to_reporter=True")


@dataclass(frozen=True)
class OutboxRow:
    """A queued message as stored. `chat_id` None: to the reporter of `report_id`."""

    id: int
    dedupe: str
    chat_id: int | None
    report_id: int | None
    payload: bytes
    urgent: bool
    attempts: int
    next_attempt_at: datetime
    created_at: datetime

    @property
    def to_reporter(self) -> bool:
        return self.chat_id is None


@dataclass(frozen=True)
class User:
    """A person who has talked to the bot. Stored under their member key, with their chat sealed
    (to send them reminders later); `created_at` is the first of the month they first wrote."""

    user_id: int
    lang: str | None
    lang_chosen: bool
    created_at: datetime


@dataclass(frozen=True)
class Membership:
    """A user's one organisation and role; `contact_id` ties a coordinator to a routine contact.

    `joined_at` is the first of the month they joined: a join must not date a report."""

    user_id: int
    org_id: str
    role: Role
    contact_id: str | None
    joined_at: datetime
    digest_enabled: bool


@dataclass(frozen=True)
class InviteRow:
    """A stored invite. Only the HMAC of the code is kept, never the code itself."""

    code_hash: str
    org_id: str
    role: Role
    contact_id: str | None
    uses_left: int | None
    expires_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class Redemption:
    """A used invite and, if a user was given, the membership it created and the one it ended."""

    invite: InviteRow
    membership: Membership | None
    replaced: Membership | None


# --- reports (re-exported by bot.reports.model, the domain's view of them) ---

# "Don't know" and "still going on" are answers, not gaps: a frightened reporter need not guess.
REPEATED = ("ja", "nej", "pagar", "vet_inte")
IMPACTS = ("avstod", "overvagt", "rutiner", "ingen")

FIRST_STEP = "description"
"""Where a new draft starts: the first of the form's steps (`bot.reports.model.STEPS`)."""


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
    step: str = FIRST_STEP
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


# --- statistics ---


@dataclass(frozen=True)
class CountRow:
    """One stored count: reports of `org_id` in `month` with `code` in `dim` (`all`, '')."""

    org_id: str
    month: str
    dim: str
    code: str
    n: int
