"""The reminders job: on every wall-clock minute, queue what has fallen due, once, across restarts.

The database is the source of truth for everything due: a pass asks the domain
(`bot.reminders.schedule`) what is due now for every loaded organisation, drops the period keys
already recorded in `reminders_sent`, and for each of the others records its key and queues its
messages in the outbox **in one transaction** (`Database.record_reminder`,
`Database.record_broadcast`). A crash before that commit leaves nothing, so the next pass does it
again; after it, the key stops every later pass. Nothing is kept in memory between passes, so the
jobs are "rebuilt" simply by running a pass at start (`start_pass`), before the first update: a
reminder that fell due while the bot was down goes out once, after the start.

This module knows no job queue: it offers the passes as plain `async def`s (`run_due`,
`start_pass`, `minute_pass`) and the moment of the next one (`seconds_to_next_minute`);
`bot.app` schedules them on python-telegram-bot's JobQueue.

Who gets what:

- digests and dated events: every member of the organisation (coordinators too) who has not
  turned reminders off (/paminnelser) and whose chat has not blocked the bot;
- review reminders and gap reminders: the coordinators bound to the file's `owner`, or every
  coordinator of the organisation when the owner has none;
- acknowledgement reminders: the coordinators bound to a contact with `receives_reports`;
- escalations: the coordinators bound to the `escalate_to` contacts; with nobody registered
  for them, the log says so (organisation and contact ids) and the contacts show up in the
  weekly gap reminder;
- follow-ups: the reporter, through the sealed link (only while the case is open and linked).

Every reminder waits for the end of the organisation's quiet hours when it is queued inside
them (`not_before`); only report notifications, queued elsewhere as urgent, go through at once.
Logs hold kinds, organisation ids, contact ids and counts: never a user, a text or a report.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from bot.crypto import Sealer
from bot.health.gaps import needs_coordinator
from bot.i18n import LANGUAGES, Html
from bot.reminders import texts
from bot.reminders.schedule import GAP_FILE, Due, collect_due, gaps_due, quiet_until
from bot.reports.model import Report
from bot.reports.texts import case_buttons
from bot.reports.workflow import Desk, queued, reporter_lang
from bot.routines.loader import NATIONAL_FILE
from bot.routines.models import DEFAULT_TIMEZONE, Event, Routine
from bot.storage import Database, Membership, OutboxItem, Role

log = logging.getLogger(__name__)

Payloads = Mapping[str, bytes]

JOB_NAME = "reminders"
"""The name of the job `bot.app` books for the next pass."""
INTERVAL = 60.0
"""Seconds between passes: one a minute, each just after the minute of the bot's clock."""
WAKE_AFTER = 0.25
"""Seconds after the minute a pass wakes: a timer may fire a little early, and a pass that
woke at 08:59:59.999 would find a 09:00 reminder not yet due and leave it a whole minute."""


def seconds_to_next_minute(now: datetime) -> float:
    """Seconds from `now` until `WAKE_AFTER` past the next wall-clock minute.

    Computed on the bot's clock (which a test may shift, see bot/app.py's `TRYGG_FAKE_NOW`), and
    again before every pass, so the passes never drift off the minute. Minutes are the same in
    UTC and local time (offsets are whole minutes), so a daylight-saving change moves no pass.
    """
    into = now.second + now.microsecond / 1_000_000
    wait = INTERVAL - into + WAKE_AFTER
    return wait if wait > WAKE_AFTER else wait + INTERVAL


@dataclass
class PassStats:
    """What one pass did: messages queued per kind, periods recorded, reminders nobody got."""

    queued: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    periods: int = 0
    unreceived: int = 0

    @property
    def total(self) -> int:
        return sum(self.queued.values())


# --- one pass ----------------------------------------------------------------------------------


async def run_due(services: Desk, now: datetime | None = None) -> PassStats:
    """Queue every reminder due at `now` (default: the services' clock) that was not yet."""
    now = services.clock() if now is None else now
    db, registry = services.db, services.registry
    stats = PassStats()
    reports = {r.id: r for r in await db.unacknowledged(now)}
    followups = await db.followup_reports()
    linked = {r.id for r in followups}
    reports.update((r.id, r) for r in followups)
    by_org: dict[str, list[Report]] = defaultdict(list)
    for report in reports.values():
        by_org[report.org_id].append(report)
    failing = {
        path.stem: since
        for path in registry.problems()
        if path.name != NATIONAL_FILE and (since := registry.failing_since(path)) is not None
    }

    found: list[tuple[Routine | None, Due]] = []
    coordinators: dict[str, list[Membership]] = {}
    for loaded in registry.organisations():
        members = await db.members_of(loaded.id, Role.COORDINATOR)
        coordinators[loaded.id] = members
        registered = {m.contact_id for m in members if m.contact_id}
        due_now = collect_due(
            loaded,
            now,
            reports=by_org.get(loaded.id, ()),
            unregistered=[c for c in _needs_coordinator(loaded) if c not in registered],
            failing_since=failing.pop(loaded.id, None),
        )
        found += [
            (loaded, d)
            for d in due_now
            if not (d.kind == "followup" and d.report is not None and d.report.id not in linked)
        ]
    for org_id, since in failing.items():  # broken since the start: not served at all
        coordinators[org_id] = await db.members_of(org_id, Role.COORDINATOR)
        found += [(None, d) for d in gaps_due(org_id, DEFAULT_TIMEZONE, now, (), since)]

    recorded = await db.reminders_recorded(d.key for _, d in found)
    gaps: dict[str, list[Due]] = defaultdict(list)
    for routine, due in found:
        if due.key in recorded:
            continue
        if due.kind == "gap":
            gaps[due.org_id].append(due)
            continue
        assert routine is not None  # only gaps come from organisations that are not loaded
        try:
            await _act(services, routine, due, coordinators[routine.id], now, stats)
        except Exception as error:  # one reminder must not stop the others; retried next pass
            kind = type(error).__name__
            log.warning("reminders: %s for %s failed (%s)", due.kind, due.org_id, kind)
    for org_id, found_gaps in gaps.items():
        try:
            await _gaps(services, org_id, found_gaps, coordinators[org_id], now, stats)
        except Exception as error:
            log.warning("reminders: gaps of %s failed (%s)", org_id, type(error).__name__)
    if stats.total or stats.periods:
        log.info(
            "reminders: %d periods recorded, %d messages queued (%s)",
            stats.periods,
            stats.total,
            ", ".join(f"{kind} {count}" for kind, count in sorted(stats.queued.items())),
        )
    return stats


def _needs_coordinator(routine: Routine) -> list[str]:
    """Contacts a coordinator should answer for: receivers of reports and the owner (as
    `trygg gaps` counts them), and the organisation's own `escalate_to` contacts, since an
    escalation goes nowhere without them."""
    wanted = needs_coordinator(routine)
    wanted += [
        ref
        for ref in routine.reminders.escalate_to
        if ref in routine.contacts and ref not in wanted
    ]
    return wanted


def _owners(routine: Routine | None, coordinators: Sequence[Membership]) -> list[Membership]:
    """Who keeps the file: the coordinators bound to its owner, else every coordinator."""
    if routine is not None:
        bound = [m for m in coordinators if m.contact_id == routine.organisation.owner]
        if bound:
            return bound
    return list(coordinators)


def _bound_to(coordinators: Sequence[Membership], contact_ids: Iterable[str]) -> list[Membership]:
    wanted = set(contact_ids)
    return [m for m in coordinators if m.contact_id in wanted]


async def _lang(db: Database, user_id: int, default: str) -> str:
    """A user's chosen language, else the organisation's."""
    user = await db.get_user(user_id)
    return user.lang if user is not None and user.lang in LANGUAGES else default


def _item(
    sealer: Sealer,
    dedupe: str,
    text: Html,
    buttons: texts.Buttons | None,
    not_before: datetime | None,
    *,
    chat_id: int | None = None,
    report_id: int | None = None,
) -> OutboxItem:
    """A reminder for the outbox: to a chat, or (`chat_id` None) to the reporter of a report."""
    item = queued(
        sealer,
        dedupe,
        text,
        buttons,
        chat_id=chat_id,
        to_reporter=chat_id is None,
        report_id=report_id,
    )
    return replace(item, not_before=not_before)


def digest_payloads(sealer: Sealer, routine: Routine, event: Event | None = None) -> Payloads:
    """The sealed digest (or `event` reminder) of `routine`, in every language the bot speaks."""
    return {
        lang: sealer.seal_json(
            {
                "text": texts.digest_text(routine, lang)
                if event is None
                else texts.event_text(routine, event, lang),
                "buttons": texts.menu_buttons(lang),
                "photo": None,
            }
        )
        for lang in LANGUAGES
    }


async def queue_digest(
    db: Database, sealer: Sealer, routine: Routine, now: datetime
) -> tuple[int, datetime | None]:
    """The digest to every member now (/paminn, `trygg remind`); it can be repeated on purpose:
    its key holds the moment. Returns how many were queued, and until when they wait (quiet
    hours) or None."""
    org = routine.organisation
    not_before = quiet_until(routine.reminders, org.timezone, now)
    key = f"digest-now:{routine.id}:{now.astimezone(UTC):%Y%m%dT%H%M%S%f}"
    payloads = digest_payloads(sealer, routine)
    queued = await db.record_broadcast(
        key, routine.id, payloads, org.default_language, now, not_before=not_before
    )
    log.info("reminders: digest for %s queued now to %d members", routine.id, queued or 0)
    return queued or 0, not_before


async def _act(
    services: Desk,
    routine: Routine,
    due: Due,
    coordinators: Sequence[Membership],
    now: datetime,
    stats: PassStats,
) -> None:
    """Record `due` and queue its messages, in one transaction."""
    db, sealer = services.db, services.sealer
    org = routine.organisation
    not_before = quiet_until(routine.reminders, org.timezone, now)
    default = org.default_language
    if due.kind in ("digest", "event"):
        payloads = digest_payloads(sealer, routine, due.event)
        queued = await db.record_broadcast(
            due.key, routine.id, payloads, default, now, not_before=not_before
        )
        if queued is not None:
            _count(stats, due.kind, queued)
        return

    report = due.report
    if due.kind == "followup":
        assert report is not None
        lang = await reporter_lang(services, report, routine)  # theirs, kept with the link
        item = _item(
            sealer,
            f"{due.key}:reporter",
            texts.followup_text(routine, report, now, lang),
            texts.followup_buttons(report, lang),
            not_before,
            report_id=report.id,
        )
        if await db.record_reminder([due.key], [item], now):
            _count(stats, due.kind, 1)
        return

    if due.kind == "review":
        recipients = _owners(routine, coordinators)
    elif due.kind == "ack":
        recipients = _bound_to(coordinators, (c.id for c in routine.receiving_contacts()))
    else:  # escalate
        recipients = _bound_to(coordinators, routine.reminders.escalate_to)
    items: list[OutboxItem] = []
    for member in recipients:
        lang = await _lang(db, member.user_id, default)
        if report is None:  # review
            text, buttons = texts.review_text(routine, now, lang), None
        else:
            make = texts.ack_text if due.kind == "ack" else texts.escalate_text
            text, buttons = make(routine, report, now, lang), case_buttons(report, lang)
        dedupe = f"{due.key}:{member.user_id}"
        # Tied to its report, so forgetting the report takes the reminder out of the queue.
        report_id = None if report is None else report.id
        items.append(
            _item(
                sealer,
                dedupe,
                text,
                buttons,
                not_before,
                chat_id=member.user_id,
                report_id=report_id,
            )
        )
    if not recipients:
        stats.unreceived += 1
        wanted = routine.reminders.escalate_to if due.kind == "escalate" else ()
        log.warning(
            "reminders: %s for %s reaches no one: no coordinator is registered (%s)",
            due.kind,
            routine.id,
            ",".join(wanted) or "-",
        )
    recorded = await db.record_reminder(
        [due.key],
        items,
        now,
        reminded=report.id if report is not None and due.kind == "ack" else None,
        escalated=report.id if report is not None and due.kind == "escalate" else None,
    )
    if recorded:
        _count(stats, due.kind, len(items))


async def _gaps(
    services: Desk,
    org_id: str,
    found: Sequence[Due],
    coordinators: Sequence[Membership],
    now: datetime,
    stats: PassStats,
) -> None:
    """One message per recipient with every gap of the week not reported yet."""
    db, registry = services.db, services.registry
    routine = registry.get(org_id)
    timezone = routine.organisation.timezone if routine else DEFAULT_TIMEZONE
    name = routine.organisation.name if routine else org_id
    default = routine.organisation.default_language if routine else LANGUAGES[0]
    contacts = [
        routine.contacts[d.detail]
        for d in found
        if routine is not None and d.detail in routine.contacts
    ]
    failing: tuple[str, datetime] | None = None
    if any(d.detail == GAP_FILE for d in found):
        path = next(
            (p for p in registry.problems() if p.stem == org_id and p.name != NATIONAL_FILE),
            None,
        )
        since = registry.failing_since(path) if path is not None else None
        if path is not None and since is not None:
            failing = (path.name, since)
    not_before = quiet_until(routine.reminders, timezone, now) if routine else None
    recipients = _owners(routine, coordinators)
    registered = {m.contact_id for m in coordinators}
    nobody_receives = routine is not None and not any(
        c.id in registered for c in routine.receiving_contacts()
    )
    items = []
    for member in recipients:
        lang = await _lang(db, member.user_id, default)
        text = texts.gap_text(
            name, org_id, contacts, failing, timezone, lang, nobody_receives=nobody_receives
        )
        dedupe = f"{found[0].key}:{member.user_id}"
        items.append(_item(services.sealer, dedupe, text, None, not_before, chat_id=member.user_id))
    if not recipients:
        stats.unreceived += 1
        log.warning("reminders: gaps of %s reach no one: no coordinator is registered", org_id)
    if await db.record_reminder([d.key for d in found], items, now):
        _count(stats, "gap", len(items))


def _count(stats: PassStats, kind: str, queued: int) -> None:
    stats.periods += 1
    stats.queued[kind] += queued


# --- the passes the job runs ----------------------------------------------------------------------


async def start_pass(services: Desk) -> PassStats | None:
    """The pass at start: what fell due while the bot was down. It only queues; the outbox sends.

    Never raises (the bot must start; the job tries again in a minute): a failure is logged and
    gives None.
    """
    try:
        return await run_due(services)
    except Exception as error:
        log.warning("reminders: the pass at start failed (%s)", type(error).__name__)
        return None


async def minute_pass(services: Desk, send: Callable[[], Awaitable[object]]) -> PassStats:
    """The pass of one minute: queue what fell due, then `send` it at once (the outbox's kick)
    when anything was queued."""
    stats = await run_due(services)
    if stats.total:
        await send()
    return stats
