"""`trygg members` and `trygg revoke`: who has access, named pseudonymously, and taking it away.

An operator must be able to see who holds which role without the database naming anyone: a
member is shown as a short *handle*, an HMAC of their id under a key derived from the secret
key, with their role, the routine contact a coordinator answers as, and the month they joined.
The handle is stable (the same member always has the same one), so it can be given to
`trygg revoke`, but it cannot be turned back into a Telegram id, nor checked against a guessed
one, without the key. No id, name or exact time is ever printed.

Revoking takes effect at once, also while the bot runs: every update reads the membership
from the database, and access to a report is checked on every action (bot.reports.access).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass

from bot.crypto import Sealer
from bot.reports.access import receiving_contact_ids
from bot.routines.registry import RoutineRegistry
from bot.storage import COORDINATOR_PENDING_PREFIX, Database, Membership

__all__ = ["MemberRow", "find", "list_members", "member_handle", "render", "revoke"]

_HANDLE_LABEL = b"trygg/v1/member-handle"


def member_handle(key: bytes, user_id: int) -> str:
    """`M-` and 8 characters (40 bits): short enough to type, keyed so it names no one."""
    derived = hmac.new(key, _HANDLE_LABEL, hashlib.sha256).digest()
    digest = hmac.new(derived, b"member:%d" % user_id, hashlib.sha256).digest()
    return "M-" + base64.b32encode(digest[:5]).decode("ascii")


@dataclass(frozen=True)
class MemberRow:
    handle: str
    org_id: str
    role: str
    contact_id: str | None
    receives: str  # "reports", "escalations", "nothing" (coordinators), "" (members)
    joined: str  # YYYY-MM


def _receives(membership: Membership, registry: RoutineRegistry) -> str:
    if membership.role != "coordinator":
        return ""
    routine = registry.get(membership.org_id)
    if routine is None or membership.contact_id is None:
        return "nothing"
    if membership.contact_id in receiving_contact_ids(routine):
        return "reports"
    if membership.contact_id in routine.reminders.escalate_to:
        return "escalations"
    return "nothing"


async def list_members(
    db: Database, registry: RoutineRegistry, key: bytes, org_id: str
) -> list[MemberRow]:
    """The members of `org_id`, sorted by role, contact and handle (never by when they joined,
    which would give their order away)."""
    rows = [
        MemberRow(
            handle=member_handle(key, m.user_id),
            org_id=m.org_id,
            role=str(m.role),
            contact_id=m.contact_id,
            receives=_receives(m, registry),
            joined=f"{m.joined_at:%Y-%m}",
        )
        for m in await db.members_of(org_id)
    ]
    return sorted(rows, key=lambda r: (r.role != "coordinator", r.contact_id or "", r.handle))


def render(org_id: str, name: str | None, rows: Sequence[MemberRow]) -> str:
    head = f"{org_id}" + (f" – {name}" if name else "") + f": {len(rows)} member(s)"
    lines = [head, f"  {'handle':<11} {'role':<12} {'contact':<16} {'receives':<12} joined"]
    for r in rows:
        lines.append(
            f"  {r.handle:<11} {r.role:<12} {r.contact_id or '-':<16}"
            f" {r.receives or '-':<12} {r.joined}"
        )
    return "\n".join(lines)


async def find(db: Database, key: bytes, org_ids: Sequence[str], handle: str) -> Membership | None:
    """The membership whose handle is `handle` (case-insensitive), in one of `org_ids`."""
    wanted = handle.strip().upper()
    if not wanted.startswith("M-"):
        wanted = "M-" + wanted
    for org_id in org_ids:
        for m in await db.members_of(org_id):
            if hmac.compare_digest(member_handle(key, m.user_id), wanted):
                return m
    return None


async def revoke(db: Database, key: bytes, membership: Membership) -> bool:
    """Remove the membership at once, with the draft, the pending inputs (a reply being written
    as coordinator, an answer or addition being written as reporter) and what is still queued
    to their chat. Their own reports stay theirs: a reporter can still be reached about them."""
    sealer = Sealer(key)
    keys = [
        f"{COORDINATOR_PENDING_PREFIX}{membership.user_id}",
        "r:" + sealer.owner_tag(membership.user_id),
    ]
    return await db.revoke_member(membership.user_id, keys)
