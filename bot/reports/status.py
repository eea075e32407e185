"""`trygg status`: per organisation, what an operator must know to trust that reports arrive.

- whether the routine file loads (a broken file is listed with its number of problems);
- the contacts with `receives_reports` and how many coordinators joined as each: one with none
  is a gap (reports are kept, but nobody is told of them), shown with the command that fills it;
- open and unacknowledged reports;
- and, for the whole bot, the messages still waiting in the outbox.

Read only: without a database nothing is created (nobody joined, nothing was reported).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.routines.loader import NATIONAL_FILE
from bot.routines.registry import RoutineRegistry
from bot.storage import Database

__all__ = ["ContactStatus", "OrgStatus", "Status", "collect", "render"]


@dataclass(frozen=True)
class ContactStatus:
    """A contact that receives reports, and how many coordinators joined as it."""

    contact_id: str
    coordinators: int


@dataclass(frozen=True)
class OrgStatus:
    org_id: str
    name: str | None  # None: the routine is not loaded
    problems: int  # problems of its routine file (0: it loads)
    path: Path | None
    receiving: tuple[ContactStatus, ...]
    open: int
    unacknowledged: int

    @property
    def loaded(self) -> bool:
        return self.name is not None

    @property
    def unregistered(self) -> list[str]:
        """Receiving contacts without a coordinator: the gap `trygg status` is for."""
        return [c.contact_id for c in self.receiving if c.coordinators == 0]


@dataclass(frozen=True)
class Status:
    organisations: tuple[OrgStatus, ...]
    outbox_pending: int
    national_problems: int
    database: Path | None  # None: there is no database yet


async def collect(
    registry: RoutineRegistry, db: Database | None, org_id: str | None = None
) -> Status:
    """The status of every organisation (or of `org_id`): loaded, broken, or only in reports."""
    problems = registry.problems()
    national_path = registry.directory / NATIONAL_FILE
    broken = {p.stem: p for p in problems if p != national_path}
    in_reports = await db.report_orgs() if db is not None else {}
    ids = sorted({r.id for r in registry.organisations()} | set(broken) | set(in_reports))
    if org_id is not None:
        ids = [i for i in ids if i == org_id]
    found: list[OrgStatus] = []
    for oid in ids:
        routine = registry.get(oid)
        counts = {"open": 0, "unacknowledged": 0}
        if db is not None:
            counts = await db.counts_for_status(oid)
        receiving: list[ContactStatus] = []
        if routine is not None:
            for contact in routine.receiving_contacts():
                joined = await db.coordinators_for_contact(oid, contact.id) if db else []
                receiving.append(ContactStatus(contact.id, len(joined)))
        path = broken.get(oid) or (routine.source if routine else None)
        found.append(
            OrgStatus(
                org_id=oid,
                name=routine.organisation.name if routine else None,
                problems=len(problems.get(path, [])) if path else 0,
                path=path,
                receiving=tuple(receiving),
                open=counts["open"],
                unacknowledged=counts["unacknowledged"],
            )
        )
    return Status(
        organisations=tuple(found),
        outbox_pending=await db.outbox_pending() if db is not None else 0,
        national_problems=len(problems.get(national_path, [])),
        database=db.path if db is not None else None,
    )


def _routine_line(org: OrgStatus) -> str:
    where = f" ({org.path})" if org.path else ""
    if org.loaded and not org.problems:
        return f"  routine file: loads{where}"
    if org.loaded:
        return (
            f"  routine file: {org.problems} problem(s){where}, see `trygg check`;"
            " the last good version is served"
        )
    if org.problems:
        return (
            f"  routine file: {org.problems} problem(s){where}, see `trygg check`; not loaded"
            " here (a running bot keeps the last good version it had)"
        )
    return "  routine file: none: the organisation is not served; its reports are kept"


def render(status: Status) -> str:
    """The status as plain text, one block per organisation."""
    lines: list[str] = []
    if status.database is None:
        lines.append("database: none yet (no coordinator has joined, no report was made)")
    else:
        lines.append(f"database: {status.database}")
    lines.append(f"outbox: {status.outbox_pending} message(s) waiting to be sent")
    if status.national_problems:
        lines.append(
            f"national contacts ({NATIONAL_FILE}): {status.national_problems} problem(s), see"
            " `trygg check`; the last good (or built-in) national contacts are served"
        )
    for org in status.organisations:
        lines.append("")
        lines.append(f"{org.org_id}" + (f" – {org.name}" if org.name else ""))
        lines.append(_routine_line(org))
        lines.append(f"  reports: {org.open} open, {org.unacknowledged} not acknowledged")
        if not org.loaded:
            continue
        if not org.receiving:
            lines.append("  receives reports: no contact has `receives_reports: true`")
        for contact in org.receiving:
            if contact.coordinators:
                lines.append(
                    f"  receives reports: {contact.contact_id}"
                    f" ({contact.coordinators} coordinator(s))"
                )
            else:
                lines.append(
                    f"  NO COORDINATOR for {contact.contact_id}: reports are kept, but nobody"
                    f" is told; invite one with `trygg invite --org {org.org_id}"
                    f" --role coordinator --contact {contact.contact_id}`"
                )
        if not any(c.coordinators for c in org.receiving):
            lines.append(
                "  NOBODY RECEIVES REPORTS: new reports are kept but nobody reads them; reporters"
                " are told so, with whom to call now"
            )
    if not status.organisations:
        lines.append("")
        lines.append("no organisation is loaded and no report is stored")
    return "\n".join(lines)
